"""Soak (slow, not in the default run: `pytest -m slow`): 5,000 items against random server
faults while git-annex is killed now and then; the accounting must match the repository."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env
from tests.conftest import annex_processes, git
from tui_annex.demo_server import LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ITEMS = 5000


def test_5000_items_with_faults_and_git_annex_kills_are_accounted_for_exactly(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    rng = random.Random(2026)
    lines, doomed = [], set()
    for index in range(ITEMS):
        path = f"d{index % 50}/f{index}.bin"
        roll = rng.random()
        if roll < 0.05:
            url = server.status(404, f"missing{index}")
            doomed.add(path)
        elif roll < 0.08:
            url = server.status(500, f"broken{index}")
            doomed.add(path)
        elif roll < 0.15:
            url = server.flaky(f"flaky{index}", 300, fail=2)
        elif roll < 0.18:
            url = server.drop(f"drop{index}", 40_000)
        else:
            url = server.file(f"file{index}", rng.randint(10, 3000))
        lines.append(f"{url} {path}\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(lines))
    failures = tmp_path / "left.jsonl"
    before = set(annex_processes())
    command = [sys.executable, "-m", "tui_annex", "--json", "-J", "4", "--retry-wait", "0.2"]
    run = subprocess.Popen(
        [*command, "-C", str(repo), "-F", str(failures), str(urls)],
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=(tmp_path / "out.jsonl").open("w"),
        stderr=(tmp_path / "err.txt").open("w"),
    )
    kills = 0
    while run.poll() is None and kills < 3:
        time.sleep(rng.uniform(5, 20))
        for pid, command in annex_processes().items():
            if pid not in before and " addurl " in command:
                os.kill(pid, signal.SIGKILL)
                kills += 1
    run.wait(timeout=1500)
    out, err = (tmp_path / "out.jsonl").read_text(), (tmp_path / "err.txt").read_text()
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "round-finished", err[-3000:]
    added = set(git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())
    left = [json.loads(line)["path"] for line in failures.read_text().splitlines()]
    everything = {line.rsplit(" ", 1)[1].strip() for line in lines}
    assert last["done"] == len(added) and last["failed"] == len(left)
    assert last["interrupted"] == 0 and last["unsent"] == 0
    assert added.isdisjoint(left) and added | set(left) == everything
    assert set(left) == doomed
    assert git(repo, "status", "--porcelain").strip() == ""
    assert run.returncode == 1
