"""Editing keys on a fake job (no git-annex): rebinding, filter, selection, palette."""

from __future__ import annotations

import io
from pathlib import Path
from unittest.mock import patch

from tests.fakes import FakeJob, mixed_logs, mixed_queue, queued_queue
from tui_annex.items import ItemState
from tui_annex.queue import DownloadQueue
from tui_annex.ui.app import TuiAnnexApp
from tui_annex.ui.queue_screen import QueueScreen
from tui_annex.ui.screens import ItemDialog
from tui_annex.validation import derive_path
from tui_annex.widgets import FilterBar, QueueModel
from tui_annex.widgets.model import LARGE_QUEUE

SIZE = (120, 35)


def notes(app: TuiAnnexApp) -> list[str]:
    """What the screen said so far (on its message line; warnings and errors are
    notifications too)."""
    return list(app.main.message_line.said)


async def test_a_key_rebound_in_the_config_file_works_and_unknown_actions_are_logged() -> None:
    job = FakeJob(mixed_queue())
    keys = {"add": "n", "select": "x,m", "remove": "ctrl+r", "no_such": "z"}
    app = TuiAnnexApp(job, keys=keys)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert not isinstance(app.screen, ItemDialog), "the old key is gone"
        await pilot.press("n")
        assert isinstance(app.screen, ItemDialog)
        await pilot.press("escape")
        assert not isinstance(app.screen, ItemDialog)
        await pilot.press(*["down"] * 4, "x", "m")
        assert len(app.main.downloads.marked) == 2
        # The hidden binding that explains a refusal moves with its action.
        await pilot.press("escape", "home", "d", "ctrl+r")
        await pilot.pause()
        assert [n for n in notes(app) if "cannot be removed" in n] == [
            "raw/part-009.dat: already sent to git-annex; it cannot be removed"
        ]
        app.main.log_pane.flush()
        assert any("no_such: no such action" in entry.text for entry in app.main.log_pane.entries)


async def test_filter_shows_matching_rows_the_summary_counts_all_and_escape_clears() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"Images/", "enter")
        await pilot.pause()
        paths = [job.queue.get(i).path for i in app.main.model.order]
        assert paths and all(path.startswith("images/") for path in paths)
        assert "30 files" in str(app.main.summary.render())
        assert "10 of 30 shown" in str(app.query_one(FilterBar).count.render())
        assert app.focused is app.main.downloads, "enter goes back to the list"
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.main.model.order) == 30 and not app.query_one(FilterBar).shown


def test_a_filter_on_a_large_queue_waits_for_the_models_rebuild_pace() -> None:
    queue = DownloadQueue()
    for number in range(LARGE_QUEUE + 10):
        queue.add(f"https://example.org/{number}", f"f{number}.bin")
    model = QueueModel(queue)
    clock = [100.0]
    with patch("tui_annex.widgets.model.time.monotonic", lambda: clock[0]):
        model.update()
        rebuilds = model.rebuilds
        for text in ("1", "12", "123"):  # three keystrokes within one rebuild interval
            model.set_filter(text)
            model.update()
        assert model.rebuilds == rebuilds, "no rebuild per keystroke on a large queue"
        clock[0] += model.slow_rebuild
        model.update()
        assert model.rebuilds == rebuilds + 1
    assert model.order and all("123" in queue.get(i).path for i in model.order)


async def test_selected_items_that_get_sent_leave_the_selection_with_a_note() -> None:
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # Rows 0-3 are in flight; the next two are the first queued items.
        await pilot.press(*["down"] * 4, "space", "space")
        marked = set(app.main.downloads.marked)
        assert len(marked) == 2
        taken = queue.take_next()
        assert taken is not None and taken.id in marked
        app.main.tick()
        await pilot.pause()
        assert app.main.downloads.marked == marked - {taken.id}
        assert "1 selected item(s) were sent to git-annex and left the selection" in notes(app)
        # A sent item cannot be selected; the user is told why.
        await pilot.press("home", "space")
        await pilot.pause()
        assert len(app.main.downloads.marked) == 1
        assert any("already sent to git-annex; only queued" in n for n in notes(app))


async def test_r_retries_the_selected_failed_items_and_d_refuses_an_item_in_flight() -> None:
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        failed = [i for i in app.main.model.order if queue.get(i).state is ItemState.FAILED]
        first_failed = app.main.model.row_of(failed[0])
        assert first_failed is not None
        await pilot.press(*["down"] * first_failed, "space", "space")
        assert app.main.downloads.marked == set(failed)
        await pilot.press("r")
        await pilot.pause()
        assert all(queue.get(i).state is ItemState.QUEUED for i in failed)
        # d with no selection and the cursor on an item in flight: refused, with the reason.
        await pilot.press("escape", "home", "d")
        await pilot.pause()
        assert any("already sent to git-annex; it cannot be removed" in n for n in notes(app))
        assert len(queue) == 30


async def test_palette_offers_the_editing_commands_until_a_stop() -> None:
    app = TuiAnnexApp(FakeJob(mixed_queue(), mixed_logs()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Add an item", "Add many items", "Filter", "Clear finished"} <= titles
        assert "Edit item" not in titles, "the cursor is on an item in flight"
        await pilot.press(*["down"] * 4)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Edit item", "Remove", "Move to top"} <= titles
        await pilot.press("ctrl+c")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert not titles & {"Add an item", "Edit item", "Remove", "Move to top"}


async def test_an_item_sent_while_its_edit_dialog_was_open_is_sent_unchanged() -> None:
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*["down"] * 4, "e")
        dialog = app.screen
        assert isinstance(dialog, ItemDialog) and dialog.item is not None
        item = dialog.item
        path = item.path
        assert queue.take_next() is item  # the feeder takes it meanwhile
        await pilot.press("tab", "end", *".new", "enter")
        await pilot.pause()
        assert item.path == path and item.state is ItemState.SENT
        assert any("already sent to git-annex; it cannot be edited" in n for n in notes(app))


async def test_reasons_with_brackets_are_shown_as_is() -> None:
    queue = mixed_queue()
    queue.add("https://example.org/x", "odd[b]/name.bin")
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a", *"https://example.org/y", "tab", *"odd[b]/name.bin")
        await pilot.pause()
        error = str(app.screen.query_one("#path-error").render())
        assert "another item already downloads to 'odd[b]/name.bin'" in error


def test_a_url_with_a_broken_host_is_refused_in_the_dialog_not_a_crash() -> None:
    assert derive_path("http://[") == "download"
    app = TuiAnnexApp(FakeJob(mixed_queue()))

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("a", *"http://[")
            await pilot.pause()
            assert isinstance(app.screen, ItemDialog)
            assert app.status.error is None and app.is_running

    import asyncio

    asyncio.run(run())


async def test_with_a_filter_a_key_acts_on_what_is_shown_not_on_hidden_selected_rows() -> None:
    job = FakeJob(mixed_queue())
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        queued = [item for item in job.queue.pending()]
        first, second, shown = queued[0], queued[1], queued[-1]
        app.main.downloads.marked.update({first.id, second.id})
        await pilot.press("slash", *shown.path, "enter")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert shown.id not in job.queue
        assert first.id in job.queue and second.id in job.queue
        assert not any("were sent to git-annex" in note for note in notes(app))


async def test_ctrl_c_cannot_be_taken_over_by_the_config_file() -> None:
    job = FakeJob(mixed_queue())
    app = TuiAnnexApp(job, keys={"pause": "ctrl+c", "quit": "q,ctrl+q"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.main.log_pane.flush()
        warnings = [e.text for e in app.main.log_pane.entries if "cannot be rebound" in e.text]
        assert len(warnings) == 2
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert job.interrupts == 1 and not job.queue.paused


def test_each_action_is_declared_once_and_every_key_and_palette_entry_comes_from_it() -> None:
    from tui_annex.ui.actions import ACTIONS, COMMANDS, EDIT_ACTIONS

    titled = [action.name for action in ACTIONS if action.title]
    assert len(titled) == len(set(titled)) and [c[0] for c in COMMANDS] == titled
    for action in ACTIONS:
        owner = TuiAnnexApp if action.app else QueueScreen
        assert callable(getattr(owner, f"action_{action.name}", None)), action.name
        bound = {(binding.key, binding.action) for binding in owner.BINDINGS}  # type: ignore[union-attr]
        assert (action.keys, action.name) in bound
    assert {"add", "remove", "move_to_top", "attempt"} <= EDIT_ACTIONS


async def test_the_help_screen_lists_every_key_by_group_as_the_configuration_bound_it() -> None:
    from tui_annex.ui.screens import HelpScreen

    app = TuiAnnexApp(FakeJob(mixed_queue()), keys={"remove": "x", "pause": "P"})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        from tui_annex.ui.screens.help import help_table

        console = Console(record=True, width=100, file=io.StringIO())
        console.print(help_table(app.screen.keymap))
        text = console.export_text()
        for words in ("The run", "The queue", "The view", "Show every key"):
            assert words in text
        assert "Remove the selected queued or failed items" in text
        row = next(line for line in text.splitlines() if "Remove the selected" in line)
        assert row.lstrip().startswith("x "), row  # rebound in [keys]
        pause = next(line for line in text.splitlines() if "Stop sending new items" in line)
        assert pause.lstrip().startswith("P "), pause
        assert "^q" in text and "^c" in text and "Move the cursor" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_select_all_and_invert_act_on_the_shown_queued_or_failed_items() -> None:
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        selectable = {item.id for item in queue if item.state.editable or item.state.retryable}
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert app.main.downloads.marked == selectable
        await pilot.press("asterisk")
        await pilot.pause()
        assert app.main.downloads.marked == set()
        # With a filter, only what it shows: part-01x are 010..019.
        await pilot.press("slash", *"part-01", "enter")
        await pilot.pause()
        app.main.model._last_rebuild = 0.0
        app.main.tick()
        await pilot.press("ctrl+a")
        await pilot.pause()
        shown = {i for i in selectable if "part-01" in queue.get(i).path}
        assert shown and app.main.downloads.marked == shown
        await pilot.press("asterisk")
        await pilot.pause()
        assert app.main.downloads.marked == set()


async def test_u_puts_removed_items_back_where_they_were_once() -> None:
    queue = queued_queue(12)
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = [(item.url, item.path) for item in queue.pending()]
        await pilot.press("down", "down", "space", "down", "down", "space", "d")
        await pilot.pause()
        assert len(queue) == 10
        await pilot.press("u")
        await pilot.pause()
        assert [(item.url, item.path) for item in queue.pending()] == before
        await pilot.press("u")  # once: nothing more to undo
        await pilot.pause()
        assert len(queue) == 12
        assert app.main.check_action("undo", ()) is False


async def test_s_sorts_the_rows_by_each_column_in_turn_and_S_reverses_them() -> None:
    from tui_annex.widgets.downloads import header_text

    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model = app.main.model
        await pilot.press("s")
        await pilot.pause()
        paths = [queue.get(i).path for i in model.order]
        assert model.sort_key == "path" and paths == sorted(paths, key=str.casefold)
        assert "path ▲" in app.main.header._text
        await pilot.press("S")
        await pilot.pause()
        assert [queue.get(i).path for i in model.order] == sorted(paths, key=str.casefold)[::-1]
        assert "path ▼" in app.main.header._text
        await pilot.press("s")  # size, still reversed: the biggest first
        await pilot.pause()
        sizes = [queue.get(i).total or 0 for i in model.order]
        assert model.sort_key == "size" and sizes[0] == max(sizes)
        for _ in range(4):  # progress, speed, eta, then grouped by state again
            await pilot.press("s")
            await pilot.pause()
        assert model.sort_key == "state"
        await pilot.press("S")
        await pilot.pause()
        assert not model.sort_reverse and model._filtered is None, "grouped again, no copy"
        assert "path (by state ▲)" in header_text(116, "state", False)


async def test_f_follows_the_downloads_in_progress_until_the_cursor_is_moved_by_hand() -> None:
    queue = queued_queue(12)
    first, second = queue.take_next(), queue.take_next()
    assert first is not None and second is not None
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        downloads = app.main.downloads
        await pilot.press("end", "f")
        await pilot.pause()
        assert downloads.following and downloads.selected is first
        assert "following)" in app.main.header._text
        queue.mark_progress(second, 10, 100)  # progress moves nothing
        app.main.tick()
        assert downloads.selected is first
        queue.mark_finished(first, success=True, key=None, errors=(), note=None)
        app.main.tick()
        assert downloads.selected is second, "its download ended: on to the next in progress"
        await pilot.press("down")
        await pilot.pause()
        assert not downloads.following and "following" not in app.main.header._text
        held = downloads.selected
        queue.mark_finished(second, success=True, key=None, errors=(), note=None)
        app.main.tick()
        assert downloads.selected is held, "no longer following: the cursor stays on its item"


async def test_items_added_or_removed_by_hand_are_journaled_at_once(tmp_path: Path) -> None:
    # They are in no input file a resume could read them from again: written when made,
    # not behind the screen (here the writer thread never writes at all).
    import contextlib
    import sqlite3

    from tui_annex.journal import Journal

    queue = queued_queue(5)
    app = TuiAnnexApp(FakeJob(queue))
    journal = Journal.open(tmp_path / "journal.sqlite")
    journal.start_run({}, ["urls.txt"])
    queue.observer = journal
    journal._hand_over = lambda work: None  # type: ignore[method-assign]

    def journaled() -> dict[str, str]:
        with contextlib.closing(sqlite3.connect(journal.path)) as db:
            return dict(db.execute("SELECT path, state FROM items").fetchall())

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a", *"https://example.org/typed.bin", "tab", *"typed.bin", "enter")
        await pilot.pause()
        assert journaled() == {"typed.bin": "queued"}
        first = queue.pending()[0]
        await pilot.press("home", "d")
        await pilot.pause()
        assert journaled()[first.path] == "removed"
    journal.close()
