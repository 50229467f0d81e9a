"""The app's plain parts without a terminal: the queue model, rows, the log pane, commands,
and a 100,000-item queue."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import pytest
from rich.cells import cell_len
from rich.color import Color
from rich.segment import Segment
from rich.text import Text

from tests.fakes import FakeJob, failures_queue, mixed_logs, mixed_queue
from tui_annex.events import InputRejected, LogLine
from tui_annex.items import ItemState, RunState
from tui_annex.queue import DownloadQueue
from tui_annex.ui.app import TuiAnnexApp
from tui_annex.ui.screens import CancelDialog, SummaryScreen
from tui_annex.widgets import LogPane, QueueModel
from tui_annex.widgets.downloads import render_row
from tui_annex.widgets.format import human_bytes, human_duration
from tui_annex.widgets.log_pane import COALESCE_WINDOW


def test_rows_are_grouped_in_flight_queued_failed_done() -> None:
    queue = mixed_queue()
    model = QueueModel(queue)
    model.update()
    states = [queue.get(item_id).state for item_id in model.order]
    groups = {
        ItemState.SENT: 0,
        ItemState.QUEUED: 1,
        ItemState.FAILED: 2,
        ItemState.INTERRUPTED: 2,
        ItemState.DONE: 3,
    }
    assert [groups[state] for state in states] == sorted(groups[state] for state in states)
    queued = [item_id for item_id in model.order if queue.get(item_id).state is ItemState.QUEUED]
    assert queued == [item.id for item in queue.pending()], "queued rows keep the feed order"


def test_totals_follow_the_dirty_set_and_match_a_full_count() -> None:
    queue = mixed_queue()
    model = QueueModel(queue)
    model.update()
    item = queue.take_next()
    assert item is not None
    queue.mark_progress(item, 500, 1000)
    queue.remove([queue.pending()[-1].id])
    retried = queue.retry_failed()
    model.update()
    totals = model.totals()
    assert totals.counts == queue.counts()
    assert totals.items == len(queue)
    assert totals.bytes_done == sum(i.bytes_done for i in queue)
    rows = {i.id: model.row_of(i.id) for i in [*retried, item]}
    assert retried and all((rows[i.id] or 0) < (rows[item.id] or 0) + 100 for i in retried)
    assert set(model.order) == {i.id for i in queue}


def test_progress_alone_does_not_rebuild_the_order() -> None:
    queue = mixed_queue()
    model = QueueModel(queue)
    model.update()
    rebuilds = model.rebuilds
    for item in queue.in_state(ItemState.SENT):
        queue.mark_progress(item, item.bytes_done + 10, item.total)
    dirty = model.update()
    assert dirty and model.rebuilds == rebuilds


def test_moving_a_queued_item_rebuilds_the_order() -> None:
    queue = mixed_queue()
    model = QueueModel(queue)
    model.update()
    last = queue.pending()[-1]
    queue.move_to_top([last.id])
    model.update()
    first_queued = next(i for i in model.order if queue.get(i).state is ItemState.QUEUED)
    assert first_queued == last.id


def test_every_row_is_exactly_as_wide_as_the_view() -> None:
    queue = mixed_queue()
    queue.add("https://example.org/x", "deep/" * 30 + "名前.bin")
    for width in (60, 80, 120, 200):
        for item in queue:
            segments = render_row(item, width)
            assert sum(cell_len(s.text) for s in segments) == width, (item.state, width)
    long = queue.get(len(queue))
    text = "".join(s.text for s in render_row(long, 120))
    assert "…" in text and "名前.bin" in text, "long paths keep their file name"


def test_log_pane_is_bounded_tagged_and_filtered() -> None:
    pane = LogPane(max_lines=100)
    for number in range(250):
        pane.add(LogLine(source="stderr", level="info", text=f"line {number}"))
    pane.add(LogLine(source="app", level="error", text="boom"))
    pane.add(InputRejected(source="urls.txt", line=3, reason="no path"))
    pane.entries.extend(pane._pending)
    pane._pending.clear()
    assert len(pane.entries) == 100
    assert pane.entries[-1].tag == "input" and pane.entries[-1].text == "urls.txt:3: no path"
    assert pane.entries[-2].tag == "error"
    assert pane.entries[0].tag == "stderr"
    assert pane.count("error") == 1 and pane.count("warning") == 2


def test_formatting() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_234_567) == "1.2 MB"
    assert human_bytes(None) == "?"
    assert human_duration(75) == "1:15"
    assert human_duration(3725) == "1:02:05"
    assert human_duration(None) == ""


async def test_palette_offers_only_the_actions_that_apply() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Stop downloads", "Pause", "Retry failed", "Details"} <= titles
        assert "Resume" not in titles
        await pilot.press("p")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Resume" in titles and "Pause" not in titles
        await pilot.press("ctrl+c")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Pause" not in titles and "Resume" not in titles


async def test_a_hundred_thousand_items_cost_the_timer_only_what_changed() -> None:
    queue = DownloadQueue()
    for number in range(100_000):
        queue.add(f"https://example.org/f/{number}", f"d{number % 100}/f{number}.bin")
    queue.close()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        sent = [queue.take_next() for _ in range(8)]
        app.main.tick()
        rebuilds = app.main.model.rebuilds

        def whole_queue(*args: object, **kwargs: object) -> None:
            raise AssertionError("a tick walked the whole queue")

        # Progress ticks must touch only the changed items: any walk over all
        # 100,000 fails here (the cost is measured in bench/ui_tick.py).
        with (
            patch.object(DownloadQueue, "__iter__", whole_queue),
            patch.object(DownloadQueue, "pending", whole_queue),
            patch.object(DownloadQueue, "in_state", whole_queue),
            patch.object(DownloadQueue, "report", whole_queue),
        ):
            for round_number in range(30):
                for offset, item in enumerate(sent):
                    assert item is not None
                    queue.mark_progress(item, round_number * 1000 + offset, 100_000)
                app.main.tick()
        assert app.main.model.rebuilds == rebuilds, "progress never re-sorts the rows"
        await pilot.press("end")
        assert app.main.downloads.cursor == 99_999
        assert app.main.downloads.selected is not None
        lines = [strip for strip in (app.main.downloads.render_line(y) for y in range(3))]
        assert all(isinstance(segment, Segment) for strip in lines for segment in strip)


async def test_the_report_banner_takes_its_colours_from_the_theme() -> None:
    from textual.color import Color

    job = FakeJob(mixed_queue(), mixed_logs(), finished=True)
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        seen = {}
        for theme in ("textual-dark", "nord"):
            app.theme = theme
            await pilot.pause()
            banner = app.main.banner
            banner.show_report(job.queue.report(), stopped=False, hint="q: quit")
            style = banner.get_component_rich_style("report--good", partial=True)
            success = app.current_theme.success
            assert style.color is not None and success is not None
            assert Color.from_rich_color(style.color) == Color.parse(success)
            seen[theme] = style.color
        assert seen["textual-dark"] != seen["nord"]


async def test_finishing_items_in_a_huge_queue_moves_rows_without_churning_memory() -> None:
    """A long run finishes items all the time: each finish moves one row.

    A tick must neither walk the 100,000 items nor allocate in proportion to
    them (a rebuilt order allocated megabytes twice a second and the heap grew
    ~0.7 MB/s over hours; bench/app_memory.py measures RSS over a run).
    """
    import tracemalloc

    queue = DownloadQueue()
    for number in range(100_000):
        queue.add(f"https://example.org/f/{number}", f"d{number % 100}/f{number}.bin")
    queue.close()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        app.main.tick()

        def whole_queue(*args: object, **kwargs: object) -> None:
            raise AssertionError("a tick walked the whole queue")

        peaks = []
        tracemalloc.start()
        try:
            with (
                patch.object(DownloadQueue, "__iter__", whole_queue),
                patch.object(DownloadQueue, "pending", whole_queue),
                patch.object(DownloadQueue, "in_state", whole_queue),
                patch.object(DownloadQueue, "report", whole_queue),
            ):
                for number in range(40):
                    item = queue.take_next()
                    assert item is not None
                    app.main.tick()
                    queue.mark_finished(
                        item, success=number % 3 > 0, key="K", errors=["e"], note=None
                    )
                    before, _ = tracemalloc.get_traced_memory()
                    tracemalloc.reset_peak()
                    app.main.tick()
                    peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        # A 100,000-id list alone is 800 kB; its index dict ~8 MB.
        assert max(peaks) < 200_000, f"a tick allocated {max(peaks)} bytes"
        model = app.main.model
        order = list(model.order)
        assert len(order) == len(set(order)) == 100_000
        states = [queue.get(i).state for i in order[:60]]
        assert ItemState.QUEUED in states
        tail = [queue.get(i).state for i in order[-40:]]
        assert set(tail) <= {ItemState.DONE, ItemState.FAILED}
        assert all(model.row_of(item_id) == row for row, item_id in enumerate(order[:50]))
        assert all(model.row_of(item_id) == 99_960 + r for r, item_id in enumerate(order[-40:]))


def test_the_stopping_banner_puts_only_its_first_words_in_bold() -> None:
    from tui_annex.widgets import ReportBanner

    banner = ReportBanner()
    shown: list[object] = []
    banner.update = shown.append  # type: ignore[method-assign]
    for in_flight, words in ((3, "Stopping"), (None, "Stopping now")):
        banner.show_stopping(in_flight)
        text = shown.pop()
        assert isinstance(text, Text) and text.plain.startswith(words + ":")
        assert not text.style, "the sentence itself is plain"
        bold = [span for span in text.spans if "bold" in str(span.style)]
        assert [text.plain[span.start : span.end] for span in bold] == [words]


async def test_the_footer_lists_the_stop_keys_first_while_running_and_quit_first_after() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        shown = [key for key, active in app.screen.active_bindings.items() if active.binding.show]
        assert shown[:2] == ["ctrl+c", "ctrl+q"], shown
        job.finish()
        await pilot.pause()
        await pilot.pause()
        assert not app.status.running
        shown = [key for key, active in app.screen.active_bindings.items() if active.binding.show]
        assert shown[0] == "ctrl+q" or shown[0] == "q", shown


async def test_the_report_banner_follows_a_theme_change_after_the_run() -> None:
    from textual.color import Color

    job = FakeJob(mixed_queue(), mixed_logs(), finished=True)
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.status.over
        banner = app.main.banner
        shown: list[object] = []
        original = banner.update

        def update(content: object = "", **kwargs: object) -> None:
            shown.append(content)
            original(content)  # type: ignore[arg-type]

        banner.update = update  # type: ignore[method-assign,assignment]
        for theme in ("nord", "textual-dark"):
            app.theme = theme
            await pilot.pause()
            app.main.tick()
            assert shown, f"the banner was not redrawn for {theme}"
            text = shown[-1]
            assert isinstance(text, Text)
            start = text.plain.index("added")
            colours = {
                Color.from_rich_color(span.style.color)
                for span in text.spans
                if span.start <= start < span.end
                and not isinstance(span.style, str)
                and span.style.color is not None
            }
            success = app.current_theme.success
            assert success is not None and Color.parse(success) in colours, theme
            shown.clear()


async def test_the_palette_offers_no_queue_command_over_a_dialog() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Remove" in titles or "Add an item" in titles
        await pilot.press("a")
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert not titles & {"Remove", "Add an item", "Edit item", "Clear finished"}
        assert "Stop downloads" in titles, "the stop sequence stays reachable"


async def test_a_signal_once_the_run_is_over_quits_with_the_runs_own_status() -> None:
    import signal

    queue = DownloadQueue()
    item = queue.add("https://example.org/a", "a.bin")
    taken = queue.take_next()
    assert taken is item
    queue.mark_finished(item, success=True, key="K", errors=(), note=None)
    queue.close()
    job = FakeJob(queue, finished=True)
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert not app.status.running and app.status.round is not None
        app.on_signal(signal.SIGTERM)
        await pilot.pause()
    assert app.return_code == 0


async def test_the_log_pane_times_each_line_counts_repeats_and_shows_failures_and_commits() -> None:
    import re

    from tui_annex.events import ItemFinished, RoundFinished

    job = FakeJob(mixed_queue())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        pane = app.main.log_pane
        for _ in range(12):
            pane.add(LogLine(source="stderr", level="info", text="git-annex: slow server"))
        pane.add(
            ItemFinished(
                item_id=1, url="u", path="a/b.bin", success=False, errors=("HTTP 404", "gone")
            )
        )
        pane.add(ItemFinished(item_id=2, url="u", path="ok.bin", success=True))
        pane.add(
            RoundFinished(
                done=3,
                failed=1,
                interrupted=0,
                unsent=0,
                rejected=0,
                committed="0123456789abcdef",
                committed_files=3,
            )
        )
        pane.flush()
        entries = list(pane.entries)
        assert [(e.tag, e.repeats) for e in entries] == [
            ("stderr", 12),
            ("failed", 1),
            ("commit", 1),
        ]
        assert entries[1].text == "a/b.bin: gone" and entries[1].level == "error"
        assert entries[2].text == "committed 0123456789ab (3 file(s))"
        await pilot.press("l")
        await pilot.pause()
        lines = ["".join(segment.text for segment in pane.render_line(y)) for y in range(3)]
        assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines), lines
        assert "\N{MULTIPLICATION SIGN}12" in lines[0]


def _move_in(pane: LogPane) -> None:
    """What :meth:`LogPane.flush` does to the lines, without a screen to scroll."""
    pane.entries.extend(pane._pending)
    pane._pending.clear()


def test_a_line_that_comes_again_between_others_moves_to_the_end_and_counts() -> None:
    pane = LogPane()
    for number in range(30):
        pane.add(LogLine(source="stderr", level="warning", text="retrying: slow server"))
        pane.add(LogLine(source="app", level="info", text=f"line {number}"))
        if number % 7 == 0:
            _move_in(pane)  # some repeats meet the line already shown, some a queued one
    _move_in(pane)
    texts = [(entry.text, entry.repeats) for entry in pane.entries]
    lines = [(f"line {n}", 1) for n in range(30)]
    assert texts == [*lines[:29], ("retrying: slow server", 30), lines[29]]
    distant = LogPane()
    distant.add(LogLine(source="app", level="info", text="once"))
    for number in range(COALESCE_WINDOW):
        distant.add(LogLine(source="app", level="info", text=f"other {number}"))
    distant.add(LogLine(source="app", level="info", text="once"))
    _move_in(distant)
    assert [e.text for e in distant.entries].count("once") == 2, "too far back: a new line"


def test_the_run_stats_say_time_files_a_second_and_mean_and_peak_speed() -> None:
    from tui_annex.widgets.format import run_stats

    assert run_stats(151, 9, 18_000_000, 3_400_000) == (
        "in 2:31 · 9 file(s), 0.06 files/s · 119.2 kB/s on average, 3.4 MB/s at best"
    )
    assert run_stats(0, 0, 0, 0) == "in 0:00"


def test_the_final_report_says_how_long_and_what_to_do_next() -> None:
    import io

    from rich.console import Console

    from tui_annex.widgets import final_report

    report = failures_queue().report()
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(
        final_report(report, stopped=False, stats="in 2:31 · 9 file(s)", next_step="do this")
    )
    text = console.export_text()
    assert "in 2:31 · 9 file(s)" in text and "next: do this" in text
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(final_report(over_queue_done(), stopped=False, next_step="do this"))
    assert "next:" not in console.export_text(), "nothing to do again: no next step"


def over_queue_done() -> object:
    queue = DownloadQueue()
    item = queue.add("https://example.org/a", "a.bin")
    assert queue.take_next() is item
    queue.mark_finished(item, success=True, key="K", errors=(), note=None)
    return queue.report()


async def test_a_run_longer_than_a_minute_rings_the_bell_and_notifies_when_it_ends() -> None:
    import time

    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    rings = []
    async with app.run_test(size=(120, 35)) as pilot:
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        await pilot.pause()
        assert app.status.started_at is not None
        app.status.started_at = time.monotonic() - 61  # as if it had run a minute
        job.finish()
        await pilot.pause()
        await pilot.pause()
        assert not app.status.running
        assert rings == [1]
        assert any("finished" in n.message for n in app._notifications)
        banner = str(app.main.banner.render())
        assert "in 1:01" in banner and "files/s" in banner
        assert isinstance(app.screen, SummaryScreen), "the summary comes up on its own"
        assert app.screen.summary.elapsed is not None and app.screen.summary.elapsed >= 61
        await pilot.press("escape")
        assert app.screen is app.main


async def test_i_shows_the_summary_once_the_run_is_over_and_its_keys_act() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        assert app.screen is app.main, "no summary while the run goes on"
        job.finish()
        await pilot.pause()
        assert app.screen is app.main, "a short run: the banner says it, no dialog"
        assert "i: summary" in str(app.main.banner.render())
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        report = job.queue.report()
        summary = screen.summary
        assert (summary.added, summary.failed, summary.interrupted, summary.unsent) == (
            len(report.done),
            len(report.failed),
            len(report.interrupted),
            len(report.unsent),
        )
        assert summary.added_bytes == sum(item.total or 0 for item in report.done)
        assert ("R", "retry the 3 failed or interrupted item(s) now") in summary.next_steps
        await pilot.press("R")
        await pilot.pause()
        assert app.screen is app.main
        assert not job.queue.report().failed and not job.queue.report().interrupted


async def test_a_key_acts_on_the_item_drawn_under_the_cursor_while_the_feeder_sends() -> None:
    from tests.fakes import queued_queue

    queue = queued_queue(30)
    app = TuiAnnexApp(FakeJob(queue), refresh_hz=0.2)  # no tick between the send and the key
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press(*["down"] * 5)
        app.main.tick()
        drawn = app.main.downloads.selected
        assert drawn is not None
        sent = queue.take_next()  # the feeder sends the first item: rows move at the next tick
        assert sent is not None and sent.id != drawn.id
        await pilot.press("d")
        await pilot.pause()
        assert drawn.id not in queue, "the item drawn under the cursor was removed"
        assert len(queue) == 29
        app.main.tick()
        order = list(app.main.model.order)
        assert len(order) == len(set(order)) == 29


def test_the_row_order_refuses_an_index_before_its_first_row() -> None:
    import pytest

    model = QueueModel(mixed_queue())
    model.update()
    rows = len(model.order)
    assert model.order[-1] == model.order[rows - 1]
    with pytest.raises(IndexError):
        model.order[-rows - 1]


async def test_details_opened_just_before_a_tick_do_not_crash_it() -> None:
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        item = app.main.downloads.selected
        assert item is not None and item.total is not None
        app.main.action_details()  # pushed; built later
        queue.mark_progress(item, item.bytes_done + 1000, item.total)
        app.main.tick()  # the dialog is not built yet: nothing to redraw, no crash
        await pilot.pause()
        app.main.tick()


@pytest.mark.parametrize("width", [60, 80, 120, 160, 250])
def test_the_column_header_lines_up_with_the_rows_at_every_width(width: int) -> None:
    from tui_annex.widgets.downloads import header_text

    queue = mixed_queue()
    item = next(i for i in queue.in_state(ItemState.SENT) if i.total and i.bytes_done)
    longest = max(len(i.path) for i in queue)
    row = "".join(segment.text for segment in render_row(item, width, longest=longest))
    header = header_text(width, "state", False, longest=longest)
    assert cell_len(header) == cell_len(row) == width
    size = f"{human_bytes(item.bytes_done)} / {human_bytes(item.total)}"
    assert row.index(size) + len(size) == header.index("done / size") + len("done / size")
    assert row.index(item.path) == header.index("path") == 3


def test_a_wide_view_gives_the_room_beyond_the_longest_path_to_the_bar_and_the_keys() -> None:
    queue = mixed_queue()
    longest = max(len(i.path) for i in queue)
    done = next(i for i in queue.in_state(ItemState.DONE) if i.key)
    row = "".join(segment.text for segment in render_row(done, 250, longest=longest))
    assert done.key is not None and done.key in row, "the whole key, not cropped"
    active = next(i for i in queue.in_state(ItemState.SENT) if i.total and i.bytes_done)
    row = "".join(segment.text for segment in render_row(active, 250, longest=longest))
    assert row.count("━") == 40, "the bar grows to its widest"
    narrow = "".join(segment.text for segment in render_row(active, 80, longest=longest))
    assert active.path in narrow, "at 80 columns the path still shows whole"


async def test_the_summary_and_banner_draw_before_the_theme_styles_are_applied() -> None:
    # The redraw timer can fire before a widget's styles exist, or after they are gone
    # at exit: the plain colours serve then, not a KeyError that ends the app.
    from tui_annex.items import RunState
    from tui_annex.widgets import ReportBanner, SummaryLine

    app = TuiAnnexApp(FakeJob(mixed_queue()))
    async with app.run_test(size=(120, 35)):
        model = QueueModel(mixed_queue())
        model.update()
        summary, banner = SummaryLine(), ReportBanner()  # never mounted: no styles
        summary.show(model.totals(), RunState.RUNNING)
        banner.show_report(model.queue.report(), stopped=False, hint="q: quit")
        banner.show_stopping(3)
        assert "Stopping" in str(banner.render())


async def test_a_wrapped_summary_lays_the_screen_out_only_when_its_height_changes() -> None:
    # A layout pass repaints the whole screen: a count that changed in a summary that
    # takes two lines at this width (as it does at 120 columns with an ETA) needs none.
    from textual.app import App, ComposeResult

    from tui_annex.widgets import SummaryLine
    from tui_annex.widgets.model import Totals

    def totals(done: int, eta: float | None) -> Totals:
        return Totals(
            counts={**dict.fromkeys(ItemState, 0), ItemState.DONE: done, ItemState.SENT: 4},
            items=300,
            bytes_done=done * 2000,
            bytes_total=300 * 2000,
            unknown_sizes=0,
            speed=120_500.0,
            eta=eta,
        )

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield SummaryLine()

    app = One()
    async with app.run_test(size=(100, 10)) as pilot:
        summary = app.query_one(SummaryLine)
        layouts: list[bool] = []
        original = summary.refresh

        def refresh(*regions: object, layout: bool = False, **kwargs: object) -> object:
            layouts.append(layout)
            return original(*regions, layout=layout, **kwargs)  # type: ignore[arg-type]

        summary.refresh = refresh  # type: ignore[method-assign,assignment]
        summary.show(totals(100, 3.0), RunState.RUNNING)
        await pilot.pause()
        assert summary.size.height == 2, "the summary wraps at 100 columns"
        layouts.clear()
        for done in (101, 102, 150):
            summary.show(totals(done, 2.0), RunState.RUNNING)
            await pilot.pause()
        assert layouts and not any(layouts), "a new count on as many lines: no layout"
        summary.show(totals(150, None), RunState.PAUSED)  # no ETA: one line
        await pilot.pause()
        assert any(layouts), "a text on fewer lines is laid out"
        assert summary.size.height == 1, "the widget took the text's new height"
        layouts.clear()
        summary.show(totals(151, 2.0), RunState.RUNNING)
        await pilot.pause()
        assert any(layouts) and summary.size.height == 2


async def test_p_on_the_summary_continues_the_run_as_the_summary_says() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")  # a graceful stop; the round ends with items never sent
        job.finish()
        await pilot.pause()
        await pilot.pause()
        assert app.status.over and job.interrupted
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        steps = dict(app.screen.summary.next_steps)
        assert "p" in steps and "continue the run" in steps["p"]
        await pilot.press("p")  # what the summary offers
        await pilot.pause()
        assert job.carried_on, "p, offered by the summary, takes the stop back"


async def test_x_asks_to_cancel_a_download_while_a_stop_drains() -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        item = app.main.downloads.selected
        assert item is not None and item.state is ItemState.SENT
        await pilot.press("ctrl+c")  # one ctrl+c: the downloads under way drain
        await pilot.pause()
        assert job.session.state is RunState.DRAINING
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CancelDialog), "x works while a stop drains (README)"
        await pilot.press("y")
        await pilot.pause()
        assert job.cancelled == [item.id]


async def test_rows_loading_below_the_view_repaint_nothing_and_end_still_reaches_the_last() -> None:
    queue = DownloadQueue()
    for number in range(100):
        queue.add(f"https://example.org/f/{number}", f"f{number:05}.bin")
    app = TuiAnnexApp(FakeJob(queue), refresh_hz=0.2)  # ticks only when the test says
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        downloads = app.main.downloads
        downloads.GROW_EVERY = 3600.0  # the scroll extent lags as long as rows come in
        queue.add("https://example.org/first", "f99999.bin")
        app.main.tick()  # rows came in with the view at its size: one repaint, then none
        assert downloads.virtual_size.height == 100
        repaints: list[object] = []
        original = downloads.refresh

        def counted(*args: object, **kwargs: object) -> object:
            repaints.append(args)
            return original(*args, **kwargs)

        with patch.object(downloads, "refresh", counted):
            for chunk in range(5):  # rows arrive below the view, tick after tick
                for number in range(1000):
                    n = 100 + chunk * 1000 + number
                    queue.add(f"https://example.org/f/{n}", f"f{n:05}.bin")
                app.main.tick()
        assert repaints == [], "rows added below the view repaint nothing"
        assert downloads.virtual_size.height == 100, "the extent lags while rows come in"
        assert "5101 files:" in str(app.query_one("#summary").render()), "the count does not"
        await pilot.press("end")
        assert downloads.cursor == 5100
        assert downloads.virtual_size.height == 5101, "a key that needs the rows gets them"
        assert int(downloads.scroll_offset.y) > 5000, "the view scrolled to the last row"


async def test_pause_and_resume_redraw_the_key_bar_in_place_and_a_click_on_a_key_presses_it() -> (
    None
):
    from tui_annex.widgets import KeyBar

    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        bar = app.main.query_one(KeyBar)
        widgets = len(list(app.main.walk_children()))
        assert [piece.description for piece in bar.pieces][:3] == ["Stop", "Quit", "Help"]
        assert "Pause" in [piece.description for piece in bar.pieces]
        await pilot.press("p")
        await pilot.pause()
        assert job.queue.paused
        assert "Resume" in [piece.description for piece in bar.pieces]
        assert "Pause" not in [piece.description for piece in bar.pieces]
        assert len(list(app.main.walk_children())) == widgets, "nothing mounted or removed"
        bar.render_line(0)  # lays the keys out as drawn
        start = next(start for start, _end, piece in bar._spans if piece.description == "Resume")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await pilot.pause()
        assert not job.queue.paused, "a click on a key presses it"


async def test_what_a_key_did_shows_on_the_message_line_and_a_refusal_is_a_notification_too() -> (
    None
):
    from tui_annex.widgets.message_line import IDLE_HINT

    job = FakeJob(mixed_queue(), mixed_logs())
    app = TuiAnnexApp(job)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        line = app.main.message_line
        assert line.text == IDLE_HINT and line.severity == "old"
        widgets = len(list(app.main.walk_children()))
        await pilot.press("f")
        await pilot.pause()
        assert line.text.startswith("following downloads") and line.severity == "information"
        assert not app._notifications, "information needs no notification"
        assert len(list(app.main.walk_children())) == widgets, "drawn in place"
        drawn = "".join(segment.text for segment in line.render_line(0))
        assert drawn.startswith(" following downloads") and drawn.endswith("…")
        assert len(drawn) == 60
        line._fade(line._generation)  # its time is up
        assert line.severity == "old" and line.text.startswith("following downloads")
        sent = next(item for item in job.queue if item.state is ItemState.SENT)
        app.main.downloads.go_to(app.main.model.row_of(sent.id) or 0)
        await pilot.press("e")  # a download under way cannot be edited
        await pilot.pause()
        assert line.severity in ("warning", "error")
        assert [n.message for n in app._notifications], "a refusal is a notification too"


async def test_a_row_that_does_not_change_is_drawn_once_and_again_when_its_item_or_look_does() -> (
    None
):
    queue = mixed_queue()
    app = TuiAnnexApp(FakeJob(queue), refresh_hz=0.2)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        view = app.main.downloads
        model = app.main.model
        queued = next(item for item in queue if item.state is ItemState.QUEUED)
        row = model.row_of(queued.id)
        assert row is not None and row != view.cursor
        first = view.render_line(row)
        assert view.render_line(row) is first, "drawn once"
        queue.edit(queued.id, path="renamed/elsewhere.bin")
        app.main.tick()
        row = model.row_of(queued.id)
        assert row is not None
        again = view.render_line(row)
        assert again is not first
        assert "renamed/elsewhere.bin" in "".join(segment.text for segment in again)
        view.marked.add(queued.id)
        assert view.render_line(row) is not again, "selected: another look"
        in_flight = next(item for item in queue if item.state is ItemState.SENT)
        flight_row = model.row_of(in_flight.id)
        assert flight_row is not None
        assert view.render_line(flight_row) is not view.render_line(flight_row), (
            "a download in progress is drawn afresh: its speed and time left change with time"
        )


async def test_the_rows_kept_looks_follow_a_focus_change_and_a_theme_change() -> None:
    # The rows' styles are asked of Textual once and kept: a change of focus (the
    # cursor's look) or of theme (every look) must still show at the next draw.
    app = TuiAnnexApp(FakeJob(mixed_queue()), refresh_hz=0.2)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        view = app.main.downloads

        def cursor_background() -> object:
            return view.render_line(view.cursor - int(view.scroll_offset.y))._segments[0].style

        view.focus()
        await pilot.pause()
        focused = cursor_background()
        app.set_focus(None)
        await pilot.pause()
        unfocused = cursor_background()
        assert unfocused != focused
        row_look = view.row_styles()
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert cursor_background() != unfocused
        assert view.row_styles() != row_look


def _contrast(one: Color, other: Color) -> float:
    """The WCAG contrast ratio of two colours."""

    def luminance(color: Color) -> float:
        red, green, blue = (part / 255 for part in color.get_truecolor())

        def linear(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "solarized-light"])
async def test_the_message_line_is_readable_in_each_theme_and_fades(theme: str) -> None:
    app = TuiAnnexApp(FakeJob(mixed_queue(), mixed_logs()))
    app.theme = theme
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        line = app.main.message_line
        await pilot.press("f")
        await pilot.pause()
        fresh = line.render_line(0)._segments[1].style
        line._fade(line._generation)
        old = line.render_line(0)._segments[1].style
        for style in (fresh, old):
            assert style.color is not None and style.bgcolor is not None
            assert _contrast(style.color, style.bgcolor) >= 3, (theme, str(style))
        assert old != fresh and old.dim, "an old message looks dimmer than a new one"


async def test_a_message_naming_a_file_with_control_characters_draws_them_as_escapes(
    tmp_path: Path,
) -> None:
    weird = tmp_path / "in\x1b[31mred\x07bel\x08.txt"
    weird.write_text("http://127.0.0.1:1/a a.bin\n")
    app = TuiAnnexApp(FakeJob(mixed_queue(), mixed_logs()))
    async with app.run_test(size=(200, 20)) as pilot:
        await pilot.pause()
        worker = app.main.add_file(weird)
        await worker.wait()
        await pilot.pause()
        assert "added 1 item(s)" in app.main.message_line.text
        drawn = "".join(segment.text for segment in app.main.message_line.render_line(0))
        assert not any(char in drawn for char in "\x1b\x07\x08"), repr(drawn)
        assert "in\\x1b[31mred\\x07bel\\x08.txt" in drawn


async def test_a_narrow_key_bar_keeps_the_stop_keys_before_the_palette() -> None:
    from tui_annex.widgets import KeyBar

    app = TuiAnnexApp(FakeJob(mixed_queue(), mixed_logs()))
    async with app.run_test(size=(30, 12)) as pilot:
        await pilot.pause()
        drawn = "".join(segment.text for segment in app.main.query_one(KeyBar).render_line(0))
        assert drawn.startswith("^c Stop ^q Quit"), drawn
        assert "palette" not in drawn and len(drawn) == 30
