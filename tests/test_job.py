"""A job's rounds: retries and added items after the input is done."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import git
from tests.helpers import make_job, staged
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.events import Event, ItemFinished, ItemSent, RoundFinished, RoundStarted
from tui_annex.items import ItemState
from tui_annex.job import Job
from tui_annex.options import RunOptions


async def run_round(job: Job) -> list[Event]:
    return [event async for event in job.events()]


async def test_a_retry_after_an_interrupt_is_a_new_round_with_its_own_commit(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    lines = [(server.file("one", 10), "one.bin"), (server.status(404), "gone.bin")]
    job = make_job(tmp_path, repo, lines, jobs=1)
    first = await run_round(job)
    assert isinstance(first[-1], RoundFinished)
    assert (first[-1].done, first[-1].failed, first[-1].exit_code) == (1, 1, 1)
    gone = job.queue.report().failed[0]
    job.queue.retry([gone.id])
    job.queue.edit(gone.id, url=server.file("back", 10))
    job.queue.add(server.file("two", 10), "two.bin")
    job.interrupt()  # an interrupt of the finished round must not stop the next one
    second = await run_round(job)
    last = second[-1]
    assert isinstance(last, RoundFinished)
    assert (last.done, last.failed, last.exit_code) == (3, 0, 0)
    assert sorted(e.path for e in second if isinstance(e, ItemSent)) == ["gone.bin", "two.bin"]
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == ["gone.bin", "two.bin"]


async def test_items_cleared_from_the_view_are_not_counted_again_in_a_later_commit(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('one', 10)} one.bin\n")
    options = RunOptions(
        repo=repo,
        inputs=(str(urls),),
        jobs=1,
        git_annex=str(git_annex.executable),
        message="Add {count} file(s)",
    )
    job = Job(options)
    await run_round(job)
    job.queue.forget([item.id for item in job.queue.report().done])
    job.queue.add(server.file("two", 10), "two.bin")
    last = (await run_round(job))[-1]
    assert isinstance(last, RoundFinished) and last.done == 2
    assert git(repo, "log", "-1", "--format=%s").strip() == "Add 1 file(s)"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["two.bin"]


async def test_a_job_cut_short_by_a_timeout_stages_what_finished(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    lines = [(server.file("done", 100), "done.bin"), (server.stall("hang"), "hang.bin")]
    job = make_job(tmp_path, repo, lines, jobs=2)

    finished = asyncio.Event()

    async def consume() -> None:
        async for event in job.events():
            if isinstance(event, ItemFinished):
                finished.set()

    # A timeout (asyncio.wait_for, a task group) cancels the consumer mid-run.
    task = asyncio.create_task(consume())
    await finished.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "done.bin" in staged(repo)
    assert job.queue.counts()[ItemState.SENT] == 0


def test_metadata_is_recorded_when_the_file_was_already_there(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = tmp_path / "m.jsonl"
    url = server.file("m", 100)
    records.write_text(json.dumps({"url": url, "path": "m.bin", "metadata": {"v": "1"}}) + "\n")
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records)).returncode == 0
    records.write_text(json.dumps({"url": url, "path": "m.bin", "metadata": {"w": "2"}}) + "\n")
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert "no annex key" not in again.stderr
    fields = json.loads(git(repo, "annex", "metadata", "--json", "m.bin"))["fields"]
    assert fields["v"] == ["1"] and fields["w"] == ["2"]


async def test_nothing_read_is_lost_when_reading_fails_part_way(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 10)} a.bin\n")
    job = Job(
        RunOptions(
            repo=repo,
            inputs=(str(urls), str(tmp_path / "missing.txt")),
            git_annex=str(git_annex.executable),
        )
    )
    events = [event async for event in job.events()]
    assert job.last_round is not None and job.last_round.exit_code == 1
    assert any("missing.txt" in r.source for r in job.rejected)
    assert (repo / "a.bin").exists() and events
    await asyncio.sleep(0)


async def test_run_starts_a_round_for_items_queued_again_and_ends_when_told(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file("a", 10), "a.bin")], jobs=1)
    rounds: list[RoundFinished] = []
    started = []
    async with contextlib.aclosing(job.run()) as events:
        async for event in events:
            if isinstance(event, RoundStarted):
                started.append(event.round)
            elif isinstance(event, RoundFinished):
                rounds.append(event)
                if len(rounds) == 1:
                    job.queue.add(server.file("b", 10), "b.bin")  # work for a second round
                else:
                    job.end()  # no third: run() returns
    job.close()
    assert started == [1, 2]
    assert [(r.done, r.exit_code) for r in rounds] == [(1, 0), (2, 0)]
    assert rounds[0].committed != rounds[1].committed
    assert set(git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()) == {"a.bin", "b.bin"}


async def test_after_a_stop_run_waits_instead_of_sending_what_was_left(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file(f"s{i}", 200_000, rate=200_000), f"s{i}.bin") for i in range(4)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    finished = []
    async with contextlib.aclosing(job.run()) as events:
        async for event in events:
            if isinstance(event, ItemSent) and not job.interrupted:
                job.interrupt()
            elif isinstance(event, RoundFinished):
                finished.append(event)
                asyncio.get_running_loop().call_later(0.5, job.end)
    job.close()
    assert len(finished) == 1 and finished[0].unsent >= 1  # no second round on its own


def test_the_exit_status_rule_names_every_way_a_run_ends() -> None:
    from tui_annex.events import RoundFinished
    from tui_annex.job import exit_status

    clean = RoundFinished(done=3, failed=0, interrupted=0, unsent=0, rejected=0, exit_code=0)
    failed = RoundFinished(done=2, failed=1, interrupted=0, unsent=0, rejected=0, exit_code=1)
    assert exit_status(clean, interrupted=False, refused=False, pending=False) == 0
    assert exit_status(failed, interrupted=False, refused=False, pending=False) == 1
    # Items added (or resumed) after the last round were never sent: not a success.
    assert exit_status(clean, interrupted=False, refused=False, pending=True) == 1
    assert exit_status(clean, interrupted=True, refused=False, pending=False) == 130
    assert exit_status(None, interrupted=True, refused=False, pending=False) == 130
    assert exit_status(None, interrupted=False, refused=False, pending=False) == 1
    # A repository the run could not start in, whatever else happened.
    assert exit_status(None, interrupted=True, refused=True, pending=True) == 2
