"""The journal: batched writes, written before anything reports a change, run records,
left-over processes of earlier runs, and what happens when it cannot be written."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_job
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.events import ItemFinished, ItemSent, LogLine, RoundFinished
from tui_annex.items import ItemState
from tui_annex.journal import Journal, journal_path, process_start_time
from tui_annex.queue import DownloadQueue


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the journal through a connection of its own, as another process would."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def test_queue_changes_reach_the_journal_in_one_write_when_flushed(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    queue = DownloadQueue()
    queue.observer = journal
    for index in range(1000):
        queue.add(f"https://example.org/{index}", f"f{index}")
    queue.remove([3])
    queue.edit(4, path="renamed")
    assert rows(journal.path, "SELECT count(*) FROM items") == [(0,)]
    queue.take_dirty()  # what a screen does before it draws: the journal takes the changes
    journal.drain()  # and writes them behind the screen
    states = dict(rows(journal.path, "SELECT state, count(*) FROM items GROUP BY state"))
    assert states == {"queued": 999, "removed": 1}
    assert rows(journal.path, "SELECT path FROM items WHERE item = 4") == [("renamed",)]
    journal.close()


def test_a_screen_refresh_never_waits_for_the_disk(tmp_path: Path) -> None:
    import threading

    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    queue = DownloadQueue()
    queue.observer = journal
    item = queue.add("https://example.org/a", "a.bin")
    held, release = threading.Event(), threading.Event()

    def hold_the_journal() -> None:  # a slow disk: the connection is busy
        with journal._lock:
            held.set()
            release.wait(30)

    blocker = threading.Thread(target=hold_the_journal)
    blocker.start()
    assert held.wait(30)
    queue.take_dirty()  # returns although the journal cannot write now
    queue.edit(item.id, path="b.bin")
    queue.take_dirty()
    assert rows(journal.path, "SELECT count(*) FROM items") == [(0,)]
    release.set()
    blocker.join()
    journal.drain()
    assert rows(journal.path, "SELECT path FROM items") == [("b.bin",)], "the later write wins"
    journal.close()


def test_an_older_version_of_an_item_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    # What is sent is written at once, ahead of the writer thread's backlog: when the
    # backlog's older row lands afterwards, it must not turn "sent" back into "queued".
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    queue = DownloadQueue()
    queue.observer = journal
    backlog: list[Any] = []
    journal._hand_over = backlog.append  # type: ignore[method-assign]
    queue.add("https://example.org/a", "a.bin")
    queue.take_dirty()  # the screen: the "queued" row goes to the backlog
    assert queue.take_next() is not None
    queue.persist()  # the feeder, before it sends: "sent" is written now
    for work in backlog:
        journal._write(work)  # the backlog lands late
    assert rows(journal.path, "SELECT state FROM items") == [("sent",)]
    journal.close()


async def test_every_item_event_is_in_the_journal_before_the_consumer_sees_it(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file(f"e{i}", 2000), f"e{i}.bin") for i in range(6)])
    path = journal_path(repo / ".git")
    seen = 0
    async with contextlib.aclosing(job.events()) as events:
        async for event in events:
            if isinstance(event, ItemFinished):
                found = rows(path, f"SELECT state FROM items WHERE path = '{event.path}'")
                assert found == [("done",)], (event, found)
                seen += 1
    job.close()
    assert seen == 6
    run = rows(path, "SELECT outcome, exit_code, done, commits FROM runs")
    assert run[0][:3] == ("complete", 0, 6) and len(run[0][3]) > 10
    assert rows(path, "SELECT DISTINCT settled FROM items") == [(2,)]  # committed


@pytest.fixture
def idle_annex(repo: Path, git_annex: GitAnnex) -> subprocess.Popen[bytes]:
    """A real git-annex batch process, idle, in a session of its own (as ours run)."""
    process = subprocess.Popen(
        git_annex.argv("addurl", "--batch", "--with-files"),
        cwd=repo,
        env=git_annex.annex_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


async def test_a_git_annex_left_running_by_an_earlier_run_is_stopped_before_anything_is_sent(
    tmp_path: Path, repo: Path, server: LocalServer, idle_annex: subprocess.Popen[bytes]
) -> None:
    journal = Journal.open(journal_path(repo / ".git"))
    journal.start_run({}, [])
    journal.process_started(idle_annex.pid, ["git-annex", "addurl"])
    journal.close()  # the earlier run "died": its process was never recorded as ended
    job = make_job(tmp_path, repo, [(server.file("s", 100), "s.bin")])
    events = []
    async with contextlib.aclosing(job.events()) as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, ItemSent):
                assert idle_annex.poll() is not None  # gone before the first item went out
    job.close()
    assert idle_annex.returncode is not None
    assert any(
        isinstance(e, LogLine) and f"(pid {idle_annex.pid}) left running" in e.text for e in events
    )
    assert isinstance(events[-1], RoundFinished) and events[-1].exit_code == 0


@pytest.fixture
def bystander() -> subprocess.Popen[bytes]:
    """A process that is not ours (no git-annex), to stand where a recorded pid was."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


async def test_a_process_that_reused_a_recorded_pid_is_never_touched(
    tmp_path: Path, repo: Path, server: LocalServer, bystander: subprocess.Popen[bytes]
) -> None:
    journal = Journal.open(journal_path(repo / ".git"))
    journal.start_run({}, [])
    journal.process_started(bystander.pid, ["git-annex", "addurl"])
    # As if the recorded process had died and its pid had gone to another program:
    journal._db.execute("UPDATE processes SET pid_start = pid_start - 1")
    journal.close()
    job = make_job(tmp_path, repo, [(server.file("t", 100), "t.bin")])
    async with contextlib.aclosing(job.events()) as stream:
        async for _event in stream:
            pass
    job.close()
    assert bystander.poll() is None


def test_process_start_time_tells_a_live_process_from_a_gone_one() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(process.pid)
    assert isinstance(started, int)
    process.wait()
    assert process_start_time(process.pid) is None


async def test_a_journal_that_cannot_be_written_is_said_once_and_the_downloads_go_on(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file(f"w{i}", 500), f"w{i}.bin") for i in range(4)])
    log = tmp_path / "run.log"
    job.options.log_file = log
    result = None
    said = []
    async with contextlib.aclosing(job.events()) as stream:
        async for event in stream:
            if isinstance(event, ItemSent) and job.journal is not None:
                job.journal._db.close()  # every later write fails, as on a vanished disk
            if isinstance(event, LogLine) and event.text.startswith("journal: "):
                said.append(event.text)
            if isinstance(event, RoundFinished):
                result = event
    job.close()
    assert result is not None and result.done == 4 and result.exit_code == 0
    assert log.read_text().count("journal: writing the journal") == 1
    assert len(said) == 1 and "cannot be resumed after a crash" in said[0]  # on screen too


def test_an_item_carried_over_keeps_its_metadata_and_goes_first(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, [])
    queue = DownloadQueue()
    queue.observer = journal
    queue.add("https://example.org/a", "a", metadata={"tag": ["x"]}, source="in.txt:1")
    queue.add("https://example.org/b", "b")
    queue.take_next()
    journal.flush()
    [(state,)] = rows(journal.path, "SELECT state FROM items WHERE path = 'a'")
    assert state == ItemState.SENT.value
    later = DownloadQueue()
    first = None
    for entry in journal.items(journal.run_id or 0):
        item = later.restore(
            entry.url,
            entry.path,
            metadata=entry.metadata,
            source=entry.source,
            first=entry.state == "sent",
        )
        first = first or item
    assert [item.path for item in later.pending()] == ["a", "b"]
    assert later.pending()[0].metadata == {"tag": ["x"]}
    assert later.pending()[0].location == "in.txt:1"
    journal.close()


def test_many_rows_at_once_are_written_exactly_as_rows_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_annex.journal
    from tui_annex.journal import MANY

    def journal_of(count_per_flush: int, name: str) -> list[tuple[object, ...]]:
        journal = Journal.open(tmp_path / name)
        journal.start_run({}, ["urls.txt"])
        queue = DownloadQueue()
        queue.observer = journal
        for index in range(MANY * 2):
            fields = {
                "metadata": {"author": ["Zoë", "\\n"]} if index % 2 else None,
                "extra_urls": (f"https://mirror.example.org/{index}",) if index % 3 else (),
                "source": f"urls.txt:{index + 1}",
            }
            url, path = f"https://example.org/{index}?q=ü\"'\\", f'données/日本/{index} "x".bin'
            if index % 5 == 1:  # carried over from a run before: tried twice already
                item = queue.restore(url, path, attempts=2, **fields)  # type: ignore[arg-type]
            else:
                item = queue.add(url, path, **fields)  # type: ignore[arg-type]
            if index % 4 == 0:
                queue.take_next()
                item.existed = index % 8 == 0
                queue.mark_progress(item, 12345, 2**40)
                queue.mark_finished(item, success=False, key=None, errors=("no\n'x'",), note="n")
            if (index + 1) % count_per_flush == 0:
                journal.flush()
        journal.flush()
        journal.close()
        everything_but_the_time = (
            "run, item, url, path, state, key, errors, note, metadata, extra_urls, source, "
            "attempts, bytes_done, total, rate, settled, existed"
        )
        return rows(tmp_path / name, f"SELECT {everything_but_the_time} FROM items ORDER BY item")

    one_by_one = journal_of(1, "single.sqlite")
    many = journal_of(MANY * 2, "many.sqlite")
    assert len(many) == MANY * 2
    assert many == one_by_one
    assert any(row[-1] == 1 for row in many) and any(row[-1] == 0 for row in many)
    assert {row[11] for row in many if row[4] == "queued"} == {0, 2}, "carried attempts kept"
    # An SQLite without its JSON functions: the same rows, one by one.
    monkeypatch.setattr(tui_annex.journal, "_UPSERT_MANY", "SELECT no_such_function(?)")
    monkeypatch.setattr(
        tui_annex.journal, "_INSERT_FRESH_MANY", "SELECT no_such_function(?1, ?2, ?3)"
    )
    assert journal_of(MANY * 2, "no-json.sqlite") == one_by_one


def test_a_journal_far_behind_holds_its_changes_as_items_not_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import tui_annex.journal

    monkeypatch.setattr(tui_annex.journal, "BEHIND", 10)
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    queue = DownloadQueue()
    queue.observer = journal
    held, release = threading.Event(), threading.Event()

    def slow_disk() -> None:
        with journal._lock:
            held.set()
            release.wait(30)

    blocker = threading.Thread(target=slow_disk)
    blocker.start()
    assert held.wait(30)
    for index in range(100):
        queue.add(f"https://example.org/{index}", f"f{index}.bin")
        queue.take_dirty()  # a screen refresh after each
    assert journal._backlog_rows == 10, "no more rows than BEHIND wait for the writer"
    assert len(journal._pending) == 90
    release.set()
    blocker.join()
    journal.flush()  # what an outcome does: everything left is written now
    journal.drain()
    assert rows(journal.path, "SELECT count(*) FROM items") == [(100,)]
    journal.close()


def test_an_outcome_is_written_at_once_without_the_backlog_of_a_loading_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A huge input is loading: its rows wait for the writer thread (which here never
    # writes). An outcome is written at once, alone: even after a refresh handed its
    # change to the writer, and without writing the backlog on the event loop first.
    import tui_annex.journal

    monkeypatch.setattr(tui_annex.journal, "BEHIND", 100)
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    journal._hand_over = lambda work: None  # type: ignore[method-assign]
    queue = DownloadQueue()
    queue.observer = journal
    first = queue.add("https://example.org/first", "first.bin")
    sent = queue.take_next()
    assert sent is first
    queue.persist([first.id])  # what the feeder does before git-annex has it
    assert rows(journal.path, "SELECT path, state FROM items") == [("first.bin", "sent")]
    for index in range(5000):
        queue.add(f"https://example.org/{index}", f"f{index}.bin")
    queue.mark_finished(first, success=True, key="SHA256E-s1--x", errors=(), note=None)
    queue.take_dirty()  # a refresh: the outcome's change goes to the (stuck) writer
    journal.flush_soon(True, first)
    assert rows(journal.path, "SELECT path, state, key FROM items") == [
        ("first.bin", "done", "SHA256E-s1--x")
    ], "the outcome alone, written now"
    waiting = len(journal._pending)
    assert waiting >= 4800, "the backlog still waits for the writer"
    journal.flush_soon(True)  # the end of a round: everything still waiting, now
    assert rows(journal.path, "SELECT count(*) FROM items") == [(1 + waiting,)]
    journal.close()


def test_done_paths_found_in_bulk_are_the_ones_found_one_by_one(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    outcomes = [  # per run, what became of paths p0..p5
        {"p0": True, "p1": False, "p2": True, "p3": True, "p5": True},
        {"p1": True, "p2": False, "p4": True},
    ]
    for outcome in outcomes:
        journal.start_run({}, ["urls.txt"])
        queue = DownloadQueue()
        queue.observer = journal
        items = {path: queue.add(f"https://example.org/{path}", path) for path in outcome}
        for path, success in outcome.items():
            item = queue.take_next()
            assert item is items[path]
            key = "K" if success else None
            queue.mark_finished(item, success=success, key=key, errors=(), note=None)
        if "p3" in items:
            queue.forget([items["p3"].id])
        queue.take_dirty()
        journal.flush()
    journal.drain()  # every row written
    with sqlite3.connect(journal.path) as db:  # p5: damaged by hand
        assert db.execute("UPDATE items SET errors = 'not json' WHERE path = 'p5'").rowcount
    paths = [f"p{n}" for n in range(7)] * 2
    one_by_one = {}
    for path in paths:
        with contextlib.suppress(Exception):
            entry = journal.find_path(path)
            if entry is not None and entry.state == "done":
                one_by_one[path] = entry
    assert journal.find_done(paths) == one_by_one
    assert sorted(one_by_one) == ["p0", "p1", "p3", "p4"]  # p2 failed last, p5 is damaged
    journal.close()
