"""The batch-process wrapper and the driver under faults: FAKE git-annex where the real
one cannot misbehave on demand, the real one for deadlock and cancellation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.helpers import collect, pids, top_with_a_linked_folder
from tui_annex.annex.batch import BatchProcess, group_alive
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.events import ItemFinished, LogLine, ProcessExited
from tui_annex.items import DownloadItem, ItemState
from tui_annex.session import MAX_DEATHS, Session, half_added

U = "http://127.0.0.1:9/"


def fake_session(
    repo: Path,
    annex: GitAnnex,
    mode: str,
    count: int,
    monkeypatch: pytest.MonkeyPatch,
    **kw: object,
) -> Session:
    monkeypatch.setenv("FAKE_ANNEX_MODE", mode)
    session = Session(repo, git_annex=annex, **kw)  # type: ignore[arg-type]
    for index in range(count):
        session.queue.add(f"{U}{index}", f"f{index}")
    session.queue.close()
    return session


async def test_a_one_megabyte_json_line_arrives_whole(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = fake_session(repo, fake_annex, "hugeline", 3, monkeypatch, jobs=1)
    events = await collect(session)
    huge = [e for e in events if isinstance(e, LogLine) and "unmatched answer" in e.text]
    assert (
        len(huge) == 1
        and len(huge[0].text) > 1 << 20
        and huge[0].text.endswith(
            'END", "success": true, "input": ["not-an-item"], "file": "huge"}'
        )
    )
    assert len(session.report().done) == 3


async def test_a_stderr_flood_neither_hangs_nor_loses_answers(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ANNEX_FLOOD", str(4 << 20))
    session = fake_session(repo, fake_annex, "flood", 20, monkeypatch, jobs=2)
    events = await collect(session)
    flood = [e for e in events if isinstance(e, LogLine) and e.source == "stderr"]
    assert len(flood) > 15000
    assert len(session.report().done) == 20


async def test_a_dying_git_annex_is_started_again_until_every_item_is_added(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The FAKE answers one line, then dies with status 3, every time it is started.
    session = fake_session(repo, fake_annex, "die", 6, monkeypatch, jobs=1, lookahead=1)
    events = await collect(session)
    exited = [e for e in events if isinstance(e, ProcessExited)]
    assert [e.returncode for e in exited] == [3] * 6
    report = session.report()
    assert sorted(item.path for item in report.done) == [f"f{i}" for i in range(6)]
    assert not (report.failed or report.interrupted or report.unsent)
    restarts = [e for e in events if isinstance(e, LogLine) and "git-annex died" in e.text]
    assert len(restarts) == 6 and "starting it again" in restarts[0].text
    # The item cut off by a death went first next time, and that attempt did not count.
    assert all(item.attempts == 1 for item in report.done)


async def test_a_file_a_killed_git_annex_left_half_added_is_removed_and_downloaded_again(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The FAKE puts f0 in place as a plain file and kills itself before adding it (a real
    # git-annex killed at that moment does the same); started again, it refuses to
    # overwrite a file that is there, as git-annex does.
    monkeypatch.setenv("FAKE_ANNEX_MARK", str(tmp_path / "killed-once"))
    (repo / "kept.bin").write_text("the user's, untracked\n")
    session = fake_session(repo, fake_annex, "leftover", 1, monkeypatch, jobs=1)
    session.queue.reopen()
    session.queue.add(f"{U}kept", "kept.bin")  # there before it was sent: never removed
    session.queue.close()
    events = await collect(session)
    assert next(e.returncode for e in events if isinstance(e, ProcessExited)) == -9
    report = session.report()
    assert [item.path for item in report.done] == ["f0"]
    assert [(item.path, item.errors) for item in report.failed] == [
        ("kept.bin", ("kept.bin already exists; not overwriting",))
    ]
    said = [e.text for e in events if isinstance(e, LogLine) and "half-added" in e.text]
    assert said == [
        "removed 1 file(s) git-annex left half-added when it ended (f0); they download again"
    ]
    assert (repo / "kept.bin").read_text() == "the user's, untracked\n"


def test_only_a_file_of_the_downloaded_size_or_a_link_without_content_counts_as_half_added(
    tmp_path: Path,
) -> None:
    top = top_with_a_linked_folder(tmp_path)

    def item(path: str, size: int, *, done: int, total: int | None, existed: bool | None) -> bool:
        (top / path).write_bytes(b"x" * size)
        entry = DownloadItem(1, U, path)
        entry.existed, entry.bytes_done, entry.total = existed, done, total
        return half_added(top, entry)

    assert item("d/a.bin", 10, done=10, total=10, existed=False)
    assert item("d/b.bin", 10, done=10, total=None, existed=False)  # size never told
    assert not item("d/c.bin", 10, done=0, total=None, existed=False)  # never started
    assert not item("d/e.bin", 10, done=4, total=10, existed=False)  # not this download
    assert not item("d/f.bin", 10, done=10, total=10, existed=True)  # there before
    assert not item("d/g.bin", 10, done=10, total=10, existed=None)  # never sent
    assert not item("linked/h.bin", 10, done=10, total=10, existed=False)  # outside
    (top / "d" / "i.bin").symlink_to(top / "d" / "a.bin")
    link = DownloadItem(2, U, "d/i.bin")
    link.existed, link.bytes_done, link.total = False, 10, 10
    assert not half_added(top, link)  # a link is git-annex's finished work, not a leftover
    (top / "d" / "j.bin").symlink_to("../.git/annex/objects/Xx/Yy/KEY/KEY")
    dangling = DownloadItem(3, U, "d/j.bin")
    dangling.existed = False
    assert half_added(top, dangling)  # its link made, the content not yet moved in
    dangling.existed = True
    assert not half_added(top, dangling)  # there before: the user's


async def test_a_git_annex_that_keeps_dying_without_progress_stops_the_run_with_its_words(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ANNEX_ANSWERS", "0")  # dies on its first line, unanswered
    session = fake_session(repo, fake_annex, "die", 3, monkeypatch, jobs=1, lookahead=0)
    events = await collect(session)
    assert len([e for e in events if isinstance(e, ProcessExited)]) == MAX_DEATHS + 1
    last = [e for e in events if isinstance(e, LogLine) and e.level == "error"][-1]
    assert f"git-annex died {MAX_DEATHS + 1} times in a row without finishing anything" in last.text
    assert "fake git-annex gives up" in last.text  # its last stderr line
    report = session.report()
    accounted = [i.path for part in (report.done, report.interrupted, report.unsent) for i in part]
    assert sorted(accounted) == ["f0", "f1", "f2"] and not report.done
    # The message counts as the report does: what it was downloading is interrupted.
    assert [i.path for i in report.interrupted] == ["f0"]
    assert "stopping with 1 item(s) interrupted and 2 not sent" in last.text


async def test_a_helper_left_in_the_process_group_is_reaped(
    repo: Path, tmp_path: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "pids"
    monkeypatch.setenv("FAKE_ANNEX_PIDFILE", str(pidfile))
    session = fake_session(repo, fake_annex, "helper", 2, monkeypatch, jobs=1)
    events = await collect(session)
    leader, helper = map(int, pidfile.read_text().split())
    assert pids(events) == [leader]
    assert not group_alive(leader)
    assert (
        not Path(f"/proc/{helper}").exists()
        or "Z" in Path(f"/proc/{helper}/stat").read_text().split(")")[-1][:3]
    )


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = fake_session(repo, fake_annex, "stubborn", 1, monkeypatch, jobs=1, grace=0.5)
    session.queue.reopen()  # keep feeding open so only the forced stop can end the run
    events = await collect(
        session, until=lambda e: isinstance(e, ItemFinished), then=lambda: session.stop(force=True)
    )
    exited = [e for e in events if isinstance(e, ProcessExited)]
    assert len(exited) == 1 and exited[0].forced and exited[0].returncode == -9
    assert not group_alive(pids(events)[0])


async def test_more_than_64k_of_input_is_written_while_reading(
    repo: Path, git_annex: GitAnnex
) -> None:
    # lookupkey answers one line per input line: writing everything before
    # reading would fill both pipes and hang.
    lines = [f"{'d' * 100}/file-{index:05d}" for index in range(4000)]
    assert sum(len(line) + 1 for line in lines) > 4 * 65536
    answers = 0
    async with BatchProcess(
        git_annex.argv("lookupkey", "--batch"), cwd=repo, env=git_annex.annex_env()
    ) as process:

        async def write() -> None:
            for line in lines:
                await process.send(line)
            await process.close_input()

        writer = asyncio.create_task(write())
        async for output in process.output():
            if output.stream == "stdout":
                answers += 1
        await writer
        assert await process.wait() in (0, 1)
    assert answers == len(lines)


async def test_cancelling_the_consumer_stops_git_annex(
    repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    session = Session(repo, git_annex=git_annex, jobs=2)
    session.queue.add(server.stall("slow.bin"), "slow.bin")
    started: list[int] = []

    async def consume() -> None:
        async for event in session.events():
            started.extend(pids([event]))

    task = asyncio.create_task(consume())
    await asyncio.to_thread(
        server.wait_for, lambda requests: any(r.method == "GET" for r in requests)
    )
    assert started and group_alive(started[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not group_alive(started[0])


async def test_the_child_runs_in_its_own_session(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = fake_session(repo, fake_annex, "stubborn", 1, monkeypatch, jobs=1, grace=0.2)
    session.queue.reopen()
    seen: list[int] = []

    def check() -> None:
        pid = session._driver._process.pid  # type: ignore[union-attr]
        seen.append(os.getsid(pid))
        seen.append(pid)
        session.stop(force=True)

    await collect(session, until=lambda e: isinstance(e, ItemFinished), then=check)
    assert seen[0] == seen[1] != os.getsid(0)
    assert session.report().done[0].state is ItemState.DONE


async def test_a_batch_process_says_what_it_runs_and_whether_it_lives(
    repo: Path, git_annex: GitAnnex
) -> None:
    process = BatchProcess(
        git_annex.argv("lookupkey", "--batch"), cwd=repo, env=git_annex.annex_env()
    )
    assert repr(process) == "<BatchProcess git-annex lookupkey: not started>"
    async with process:
        assert (
            repr(process) == f"<BatchProcess git-annex lookupkey: running with pid {process.pid}>"
        )
    assert repr(process) == "<BatchProcess git-annex lookupkey: exited with status 0>"


async def test_a_download_with_every_byte_in_is_not_judged_stalled_while_it_is_checked(
    repo: Path, fake_annex: GitAnnex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ANNEX_CHECK", "2.5")
    session = fake_session(repo, fake_annex, "slowcheck", 1, monkeypatch, jobs=1, stall_timeout=1)
    events = await collect(session)
    assert [item.path for item in session.report().done] == ["f0"]
    assert len(pids(events)) == 1  # never restarted as stalled
