"""Ctrl-C and signals in a real pseudo-terminal, during slow downloads."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import git
from tests.helpers import head_files
from tests.pty_helpers import pump_until, read_to_end, spawn
from tui_annex.demo_server import LocalServer

pytestmark = pytest.mark.pty


def getting(server: LocalServer, count: int) -> bool:
    return len({r.name for r in server.gets()}) >= count


def test_one_ctrl_c_drains_in_flight_downloads_and_reports_the_unsent(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "slow.txt"
    urls.write_text(
        "".join(f"{server.file(f's{i}', 120_000, rate=60_000)} s{i}.bin\n" for i in range(8))
    )
    failures = tmp_path / "left.jsonl"
    child = spawn(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls), "-F", str(failures))
    pump_until(child, lambda: getting(server, 2))
    child.sendcontrol("c")
    screen = read_to_end(child)
    assert child.exitstatus == 130, screen
    assert "stopping: no more downloads start" in screen
    done = head_files(repo)
    unsent = [json.loads(line)["path"] for line in failures.read_text().splitlines()]
    assert len(done) >= 2 and unsent
    assert done.isdisjoint(unsent) and done | set(unsent) == {f"s{i}.bin" for i in range(8)}
    assert f"{len(unsent)} never sent:" in screen
    assert "interrupted" not in screen.split("finished:")[-1]
    assert git(repo, "status", "--porcelain").strip() == ""  # nothing left unstaged


def test_two_ctrl_c_force_the_stop_and_stage_what_had_finished(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "stuck.txt"
    stuck = [f"stuck{i}" for i in range(1, 8)]
    urls.write_text(
        f"{server.file('quick', 1000)} quick.bin\n"
        + "".join(f"{server.stall(name, after=1000)} {name}.bin\n" for name in stuck)
        + f"{server.file('never', 10)} never.bin\n"
    )
    # One job, so a window of three: quick and two stalls fill it. quick's answer may
    # widen the lookahead (one answer seen early counts as up to two), so at most
    # four more stalls are sent: never.bin is never sent.
    child = spawn(tmp_path, "--no-ui", "-J", "1", "-C", str(repo), str(urls))
    pump_until(child, lambda: getting(server, 2))
    pump_until(child, lambda: (repo / "quick.bin").is_symlink())
    child.sendcontrol("c")
    child.expect("press Ctrl-C again")
    child.sendcontrol("c")
    screen = read_to_end(child)
    assert child.exitstatus == 130, screen
    assert "forced stop" in screen
    assert "interrupted (outcome unknown):" in screen
    interrupted, unsent = screen.split("interrupted (outcome unknown):")[1].split("never sent")
    assert "stuck1.bin" in interrupted, screen
    # With -J 1, git-annex may have started only the first of the stalls; the others are
    # interrupted if they were sent, or never sent if the stop took them back unstarted.
    for name in (f"{name}.bin" for name in stuck[1:]):
        assert (name in interrupted) != (name in unsent), screen
    assert "never.bin <-" in unsent
    assert head_files(repo) == {"quick.bin"}
    assert not (repo / "never.bin").exists()


def test_sigterm_acts_like_a_forced_stop(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    urls = tmp_path / "stuck.txt"
    urls.write_text(f"{server.stall('held', after=100)} held.bin\n")
    child = spawn(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    pump_until(child, lambda: getting(server, 1))
    os.kill(child.pid, signal.SIGTERM)
    screen = read_to_end(child)
    assert child.exitstatus == 130, screen
    assert "terminated" in screen and "held.bin" in screen
