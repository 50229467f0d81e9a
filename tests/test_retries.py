"""Keep moving: transient failures are retried with growing pauses, permanent ones are not,
a silent server and a dying git-annex never hold the run. Real git-annex, local server."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import annex_processes, git
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer, content
from tui_annex.events import LogLine
from tui_annex.job import Job
from tui_annex.options import RunOptions
from tui_annex.retry import backoff, is_transient


def events_of(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def gets(server: LocalServer, name: str) -> list[float]:
    return [r.time for r in server.gets(name) if r.method == "GET"]


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("download failed: Service Unavailable", True),
        ("download failed: Internal Server Error", True),
        ("download failed: Too Many Requests", True),
        ("download failed: Request Timeout", True),
        ("connection failure: ... (Connection refused)", True),
        ("stalled: no data for 60 s (--stall-timeout 60)", True),
        ("download failed: Not Found", False),
        ("download failed: Gone", False),
        ("download failed: Forbidden", False),
        ('user error (git ["credential","fill"] exited 128)', False),
        ("Configuration of annex.security.allowed-ip-addresses does not allow accessing", False),
        ("x.bin already exists; not overwriting", False),
        ("download failed: File not found", False),
        ("download failed: invalid url", False),
        ("download failed: ", True),
        ("cancelled by the user (r queues it again)", False),
    ],
)
def test_failures_are_told_transient_or_permanent_by_git_annex_s_reason(
    message: str, transient: bool
) -> None:
    assert is_transient([message]) is transient


def test_backoff_doubles_within_its_jitter_and_stops_growing_at_its_cap() -> None:
    rng = random.Random(7)
    assert backoff(5000, base=0.0) == 0.0 and 60 <= backoff(5000) <= 180  # no overflow
    for attempt, middle in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 120.0)):
        delay = backoff(attempt, rng=rng)
        assert middle * 0.5 <= delay <= middle * 1.5


def test_a_503_then_200_is_retried_and_added(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.flaky('f', 2000, fail=2)} f.bin\n")
    result = run_cli(tmp_path, "--json", "--retry-wait", "0.2", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    retries = [e for e in events_of(result) if "retry 1 of 3 in" in str(e.get("text", ""))]
    assert retries and (repo / "f.bin").read_bytes() == content("f", 2000)


def test_a_lasting_503_is_retried_with_growing_gaps_then_fails(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.status(503, 'busy')} busy.bin\n")
    result = run_cli(tmp_path, "--json", "--retry-wait", "0.3", "-C", str(repo), str(urls))
    assert result.returncode == 1
    times = sorted(r.time for r in server.requests if r.name == "busy")
    attempts = [times[0]] + [b for a, b in itertools.pairwise(times) if b - a > 0.1]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(attempts) == 4  # the first try and 3 retries
    assert gaps[0] >= 0.15 and gaps[2] > gaps[0]  # 0.3, 0.6, 1.2 s, each ±50%
    last = events_of(result)[-1]
    assert last["failed"] == 1


def test_a_404_is_fetched_once(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.status(404, 'gone')} gone.bin\n")
    result = run_cli(tmp_path, "--no-ui", "--retry-wait", "0.1", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert len(gets(server, "gone")) == 1
    assert "retry" not in result.stderr


def test_a_connection_dropped_mid_body_ends_added(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.drop('d', 200_000, times=1)} d.bin\n")
    result = run_cli(tmp_path, "--no-ui", "--retry-wait", "0.1", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    assert (repo / "d.bin").read_bytes() == content("d", 200_000)


def test_a_server_that_never_answers_is_judged_stalled_and_the_run_ends(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.silent('mute')} mute.bin\n{server.file('ok', 500)} ok.bin\n")
    result = run_cli(
        tmp_path,
        *("--json", "-J", "2", "--stall-timeout", "1.5", "--retries", "1", "--retry-wait", "0.1"),
        *("-C", str(repo), str(urls)),
    )
    assert result.returncode == 1
    finished = [e for e in events_of(result) if e["event"] == "finished"]
    failed = [e for e in finished if not e["success"]]
    # judged stalled, retried once, judged stalled again: two failures, one item
    assert [e["path"] for e in failed] == ["mute.bin", "mute.bin"]
    assert events_of(result)[-1]["failed"] == 1
    assert "stalled: no data for" in str(failed[0]["errors"])
    assert (repo / "ok.bin").exists()
    # the announced retry was really sent (git-annex asks with HEAD first, never answered)
    assert len([r for r in server.requests if r.name == "mute"]) == 2


def test_git_annex_killed_mid_run_is_started_again_and_every_file_is_added(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    names = [f"k{i}.bin" for i in range(6)]
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.file(n, 300_000, rate=300_000)} {n}\n" for n in names))
    before = set(annex_processes())
    run = subprocess.Popen(
        [sys.executable, "-m", "tui_annex", "--no-ui", "-J", "2", "-C", str(repo), str(urls)],
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len({r.name for r in server.gets()}) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    while not all(size > 0 for size in partial_sizes(repo).values()) or not partial_sizes(repo):
        time.sleep(0.02)
    for pid, command in annex_processes().items():
        if pid not in before and " addurl " in command:
            os.kill(pid, signal.SIGKILL)
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "git-annex died (status -9" in err and "starting it again" in err
    assert sorted(git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()) == names
    from_zero = [r.name for r in server.gets() if r.range is None and r.method == "GET"]
    assert len(from_zero) == len(set(from_zero))  # the cut-off downloads resumed with Range


def partial_sizes(repo: Path) -> dict[str, int]:
    folder = repo / ".git" / "annex" / "tmp"
    if not folder.is_dir():
        return {}
    return {entry.name: entry.stat().st_size for entry in folder.iterdir() if entry.is_file()}


async def test_a_stop_taken_back_still_retries_the_failure_that_was_waiting_for_its_retry(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{server.gate('held', 1000)} held.bin\n{server.status(503, 'busy')} busy.bin\n"
    )
    job = Job(
        RunOptions(
            repo=repo, inputs=(str(urls),), jobs=2, grace=2.0, retry_wait=0.1, stall_timeout=None
        )
    )
    taken_back = False
    async with contextlib.aclosing(job.events()) as events:
        async for event in events:
            if not taken_back and isinstance(event, LogLine) and "retry 1 of 3" in event.text:
                job.interrupt()  # ctrl+c while busy.bin waits for its retry ...
                assert job.carry_on()  # ... and p at once: the stop is taken back
                taken_back = True
                server.open_gate("held")
    job.close()
    assert taken_back
    busy = next(item for item in job.queue if item.path == "busy.bin")
    assert busy.attempts == 4, f"retried as if never stopped; it says: {busy.note}"
    assert (repo / "held.bin").read_bytes() == content("held", 1000)
