"""Editing the queue from the keyboard while the real engine downloads from the local server.

``-J 1`` sends a window of 3 items; gated first items keep the rest queued while keys are
pressed; then the gates open and the server's request log shows the feed order.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from textual import events
from textual.pilot import Pilot

from tests.conftest import git
from tests.helpers import make_job
from tests.test_app_pilot import SIZE, sent, wait_until
from tui_annex.demo_server import LocalServer
from tui_annex.items import ItemState, RunState
from tui_annex.job import Job
from tui_annex.ui.app import TuiAnnexApp
from tui_annex.ui.screens import AddManyDialog, ItemDialog
from tui_annex.widgets import DownloadsView, final_report


def notes(app: TuiAnnexApp) -> list[str]:
    """What the screen said so far (on its message line; warnings and errors are
    notifications too)."""
    return list(app.main.message_line.said)


def feed_order(server: LocalServer) -> list[str]:
    """Names of the GET requests, first request of each only, in arrival order."""
    names: list[str] = []
    for request in server.gets():
        if request.name not in names:
            names.append(request.name)
    return names


def committed(repo: Path) -> set[str]:
    return set(git(repo, "ls-files").split())


async def go_to(pilot: Pilot[int], view: DownloadsView, path: str) -> None:
    """Move the cursor with the arrow keys until it is on ``path``."""
    paths = [view.model.queue.get(item_id).path for item_id in view.model.order]
    row = paths.index(path)
    key = "down" if row > view.cursor else "up"
    for _ in range(abs(row - view.cursor)):
        await pilot.press(key)
    assert view.selected is not None and view.selected.path == path


async def held(pilot: Pilot[int], job: Job, server: LocalServer, queued: int) -> None:
    """Wait until the 3 gated items are sent (the first one requested) and ``queued`` wait."""
    await wait_until(
        pilot,
        lambda: sent(job) == 3 and len(job.queue.pending()) == queued and server.gets("g0"),
    )
    await pilot.pause()


async def test_moves_remove_edit_and_add_change_what_is_fed_next(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.gate(f"g{n}", 500), f"g{n}") for n in range(3)]
    lines += [(server.file(name, 700), name) for name in "abcde"]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, job, server, 5)
        view = app.query_one(DownloadsView)
        # T: b first; the cursor stays on b as its row changes.
        await go_to(pilot, view, "b")
        await pilot.press("T")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["b", "a", "c", "d", "e"]
        assert view.selected is not None and view.selected.path == "b"
        # B: b last.
        await pilot.press("B")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["a", "c", "d", "e", "b"]
        assert view.selected is not None and view.selected.path == "b"
        # space on d and e, then shift+up twice moves both.
        await go_to(pilot, view, "d")
        await pilot.press("space", "space")
        assert view.marked == {i.id for i in job.queue.pending() if i.path in "de"}
        await pilot.press("shift+up", "shift+up")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["d", "e", "a", "c", "b"]
        await pilot.press("shift+down")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["a", "d", "e", "c", "b"]
        await pilot.press("escape")
        assert not view.marked
        # d removes c; the cursor lands on the next row's item.
        await go_to(pilot, view, "c")
        await pilot.press("d")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["a", "d", "e", "b"]
        assert view.selected is not None and view.selected.path == "b"
        # e edits a's path.
        await go_to(pilot, view, "a")
        await pilot.press("e")
        assert isinstance(app.screen, ItemDialog)
        await pilot.press("tab", "end", "backspace", *"edited/a.bin", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ItemDialog)
        assert job.queue.pending()[0].path == "edited/a.bin"
        # a adds an item at the end (a duplicate destination is refused first).
        await pilot.press("a")
        await pilot.press(*server.file("new", 300), "tab", *"d", "enter")
        dialog = app.screen
        assert isinstance(dialog, ItemDialog)
        assert "already downloads to 'd'" in str(dialog.query_one("#path-error").render())
        await pilot.press("backspace", *"added/new.bin", "enter")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()][-1] == "added/new.bin"
        # e and d on a sent item: refused with the reason, nothing changes.
        await go_to(pilot, view, "g0")
        await pilot.press("e", "d")
        await pilot.pause()
        assert any("already sent to git-annex; it cannot be edited" in n for n in notes(app))
        assert any("already sent to git-annex; it cannot be removed" in n for n in notes(app))
        assert "g0" in {i.path for i in job.queue}
        for n in range(3):
            server.open_gate(f"g{n}")
        await wait_until(pilot, lambda: not app.status.running)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0
    assert feed_order(server) == ["g0", "g1", "g2", "a", "d", "e", "b", "new"]
    assert committed(repo) == {"g0", "g1", "g2", "edited/a.bin", "d", "e", "b", "added/new.bin"}


async def test_add_many_from_pasted_lines_and_a_file_then_clear_done(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.gate(f"g{n}", 500), f"g{n}") for n in range(3)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        f'{{"url": "{server.file("f1", 400)}", "path": "file/one.bin"}}\n'
        "not json\n"
        f'{{"url": "{server.file("f2", 400)}", "path": "file/two.bin"}}\n'
    )
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, job, server, 0)
        await pilot.press("A")
        assert isinstance(app.screen, AddManyDialog)
        pasted = "\n".join(
            [
                f"{server.file('p1', 300)} pasted/one.bin",
                f'{{"url": "{server.file("p2", 300)}", "path": "pasted/two.bin"}}',
                "ftp://example.org/x bad.bin",
                f"{server.file('p3', 300)} g0",
            ]
        )
        app.screen.post_message(events.Paste(pasted))  # as a terminal paste arrives
        await pilot.pause()
        preview = str(app.screen.query_one("#preview").render())
        assert "4 record(s); 2 look fine" in preview and "line 3" in preview
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [i.path for i in job.queue.pending()] == ["pasted/one.bin", "pasted/two.bin"]
        message = notes(app)[-1]
        assert "added 2" in message and "line 3: the URL scheme 'ftp'" in message
        assert "line 4: another item already downloads to 'g0'" in message
        # A file path: read in a worker, in its format (JSON Lines by extension).
        await pilot.press("A")
        await pilot.press(*str(extra), "ctrl+s")
        await wait_until(pilot, lambda: len(job.queue.pending()) == 4)
        assert "line 2: not valid JSON" in notes(app)[-1]
        for n in range(3):
            server.open_gate(f"g{n}")
        await wait_until(pilot, lambda: not app.status.running)
        view = app.query_one(DownloadsView)
        assert len(view.model.order) == 7
        await pilot.press("c")
        await pilot.pause()
        assert not view.model.order and len(job.queue) == 0
        assert "7 files: 7 done" in str(app.query_one("#summary").render())
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0
    report = job.queue.report()
    assert len(report.done) == 7 and report.complete
    console = Console(width=100, record=True)
    console.print(final_report(report, stopped=False))
    assert "Finished: 7 added" in console.export_text()
    assert feed_order(server)[3:] == ["p1", "p2", "f1", "f2"]
    expected = {"pasted/one.bin", "pasted/two.bin", "file/one.bin", "file/two.bin"}
    assert committed(repo) == {"g0", "g1", "g2"} | expected


async def test_an_item_added_after_the_run_ended_starts_a_new_round(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file("first", 200), "first.bin")], jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: not app.status.running and job.last_round is not None)
        await pilot.press("a", *server.file("late", 200), "enter")
        await wait_until(pilot, lambda: len(server.gets("late")) == 1)
        await wait_until(
            pilot, lambda: not app.status.running and len(job.queue.report().done) == 2
        )
        path = app.query_one(DownloadsView).model
        assert {job.queue.get(i).path for i in path.order} == {"first.bin", "late"}
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert committed(repo) == {"first.bin", "late"}


async def test_a_paused_queue_with_items_added_after_the_run_starts_a_paused_round(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.gate("last"), "last.bin")], jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: job.queue.counts()[ItemState.SENT] == 1)
        await pilot.press("p")
        server.open_gate("last")
        await wait_until(pilot, lambda: not app.status.running)
        job.queue.add(server.file("late", 10), "late.bin")  # the job starts a round for it
        await wait_until(pilot, lambda: app.status.running and job.session.state is RunState.PAUSED)
        assert app.exit_code() != 0, "an item never sent is not success"
        await pilot.press("p")  # resume
        await wait_until(pilot, lambda: not app.status.running)
        assert {item.path for item in job.queue.report().done} == {"last.bin", "late.bin"}
        assert app.exit_code() == 0


async def test_clearing_done_items_before_the_round_ends_is_not_no_valid_input(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file("one", 10), "one.bin")], jobs=1)
    events = [event async for event in job.events()]
    assert events[-1].exit_code == 0  # type: ignore[attr-defined]
    job.queue.forget([item.id for item in job.queue.report().done])
    again = [event async for event in job.events()]
    assert again[-1].exit_code == 0  # type: ignore[attr-defined]
    assert "one.bin" in git(repo, "ls-tree", "--name-only", "HEAD")
