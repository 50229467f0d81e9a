"""The main screen: the run's summary, the downloads, the filter, the log, and every queue key.

It owns the keys that act on the queue and the view (pause, retry, add, edit,
remove, select, move, filter, log, details), decides which of them apply
(:meth:`QueueScreen.check_action`) and redraws from the queue when the app's
timer calls :meth:`QueueScreen.tick`. It reads where the run stands from the
app's :class:`~tui_annex.ui.job_view.RunStatus` and changes nothing but the
queue: the job starts its rounds itself. Every edit goes through the queue's
methods, which run on the event loop like the feeder: an item is either sent
unchanged or edited, never half of each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Input

from ..inputs import InputRecord, Rejection, parse_lines, read_records
from ..items import DownloadItem, ItemLocked, ItemState, RunState
from ..validation import ValidationError
from ..widgets import (
    ColumnHeader,
    DownloadsView,
    FilterBar,
    KeyBar,
    LogPane,
    MessageLine,
    QueueModel,
    ReportBanner,
    SummaryLine,
)
from ..widgets.format import printable
from ..widgets.format import run_stats as format_stats
from ..widgets.log_pane import Loggable
from ..widgets.model import SORT_CYCLE
from .actions import COMMANDS, EDIT_ACTIONS, QUEUE_BINDINGS
from .job_view import JobLike, RunStatus
from .screens import AddManyDialog, CancelDialog, DetailsScreen, ItemDialog
from .screens.add_many import input_file

__all__ = ["QueueScreen"]

#: The banner adds time, files a second and speeds for rounds at least this long
#: (seconds); the report printed after the app always has them.
SHOW_STATS_AFTER = 10.0


class QueueScreen(Screen[None]):
    """The download manager's screen: summary, banner, filter, downloads, log, footer."""

    BINDINGS: ClassVar[list[BindingType]] = QUEUE_BINDINGS

    def __init__(self, job: JobLike, status: RunStatus) -> None:
        super().__init__(id="queue")
        self.job = job
        self.status = status
        self.model = QueueModel(job.queue, job.session.not_started)
        # Kept as attributes: the timer must not query the DOM (nor fail while it is torn down).
        self.summary = SummaryLine(id="summary")
        self.banner = ReportBanner(id="banner")
        self.downloads = DownloadsView(self.model, id="downloads")
        self.header = ColumnHeader(id="columns")
        self.filter_bar = FilterBar(id="filter")
        self.log_pane = LogPane(id="log")
        self.log_pane.display = False  # until asked for (or a refused run opens it)
        self.message_line = MessageLine(id="message")
        self._bindings_key: tuple[object, ...] = ()
        self._banner = ""
        self._sent_unmarked = 0
        self._last_unmark_note = 0.0
        self._ready = False
        self._undo: tuple[str, Callable[[], object]] | None = None
        """What ``u`` undoes: a description and the edit that undoes it."""
        """Mounted: the widgets can draw (the app's timer may fire before)."""

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.banner
        yield self.filter_bar
        yield self.header
        yield self.downloads
        yield self.log_pane
        yield self.message_line
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.downloads.focus()
        self._ready = True
        self.tick()

    # -- what the app tells it --------------------------------------------------------

    def add_log(self, event: Loggable) -> None:
        """File an event in the log pane (a log line, refused input, a failure, a commit)."""
        self.log_pane.add(event)

    def round_started(self) -> None:
        """A round began: the last report no longer holds."""
        self.banner.remove_class("-shown")

    def round_over(self) -> None:
        """A round ended: show the report and what to do next."""
        self.tick()
        if not len(self.job.queue) and self.log_pane.entries:
            # Nothing to list (no valid input, or the repository was unusable): the log says why.
            self.log_pane.display = True
        self.refresh_bindings()

    # -- the timer --------------------------------------------------------------------

    def tick(self) -> None:
        """Fold the queue's changes in and redraw what changed (the only refresh path)."""
        if not self._ready:
            return
        before = self.model.rebuilds
        dirty = self.model.update()
        self.downloads.update_rows(dirty, self.model.rebuilds != before)
        self.header.show(
            self.downloads.scrollable_content_region.width,
            self.model.sort_key,
            self.model.sort_reverse,
            following=self.downloads.following,
            longest=self.model.longest_path,
        )
        self._drop_sent_marks(dirty)
        if self.filter_bar.shown:
            self.filter_bar.show_count(len(self.model.order), len(self.job.queue))
        state = self.job.session.state
        totals = self.model.totals()
        self.summary.show(totals, state)
        self.log_pane.flush()
        # The footer depends on the run state and the selected item: redraw it when they change.
        selected = self.downloads.selected
        key = (
            state,
            self.status.running,
            self.status.stop_presses,
            selected.state if selected else None,
            self.model.retryable_count() > 0,
            len(self.downloads.marked),
            self.job.queue.counts()[ItemState.DONE] > 0,
            self.filter_bar.shown,
            bool(self.model.filter_text),
        )
        if key != self._bindings_key:
            self._bindings_key = key
            self.refresh_bindings()
        self._update_banner(state, totals.counts[ItemState.SENT])
        screen = self.app.screen
        if isinstance(screen, DetailsScreen) and screen.item.id in dirty:
            screen.refresh_details()

    def _update_banner(self, state: RunState, in_flight: int) -> None:
        banner = self.banner
        status = self.status
        # The banner's colours follow a theme change, once the new styles apply.
        theme = banner.palette()["good"]
        if state is RunState.DRAINING:
            text = f"draining:{in_flight}:{theme}:{status.quitting}"
            if text != self._banner:
                banner.show_stopping(in_flight, quitting=status.quitting)
        elif state is RunState.STOPPING:
            text = f"stopping:{theme}"
            if text != self._banner:
                banner.show_stopping(None)
        elif status.over:
            text = f"over:{self.model.queue.version}:{status.error}:{theme}"
            if text != self._banner:
                hint = "i: summary · q: quit · l: log · enter: details"
                if self.job.interrupted and status.stop_presses == 1 and not status.error:
                    hint = "p: continue the run · " + hint
                if status.commits:
                    hint = f"committed {status.commits[-1][:12]} · {hint}"
                if self._can_retry() and self.model.retryable_count():
                    hint = "r/R: retry · " + hint
                if status.error:
                    hint = f"{status.error} · {hint}"
                if status.commit_error:
                    hint = f"COMMIT FAILED, files left staged (l: log) · {hint}"
                elapsed = self.status.elapsed
                stats = self.run_stats()
                if stats and elapsed is not None and elapsed >= SHOW_STATS_AFTER:
                    hint = f"{stats} · {hint}"
                report = self.job.queue.report()
                stopped = self.job.interrupted or bool(report.interrupted)
                banner.show_report(report, stopped=stopped, hint=hint)
        else:
            text = ""
            if text != self._banner:
                banner.remove_class("-shown")
        self._banner = text

    def run_stats(self) -> str | None:
        """Elapsed time, files a second, mean and peak speed of the run so far."""
        elapsed = self.status.elapsed
        if elapsed is None:
            return None
        totals = self.model.totals()
        return format_stats(
            elapsed, totals.counts[ItemState.DONE], totals.received, self.model.peak
        )

    # -- which keys apply -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the bindings (and palette commands) that do not apply now."""
        queue = self.job.queue
        if action == "filter":
            return True
        if action == "clear_filter":
            return self.filter_bar.shown or bool(self.model.filter_text or self.downloads.marked)
        if action in EDIT_ACTIONS:
            return self._check_edit(action)
        stopping = bool(self.status.stop_presses)
        if action == "pause":
            return self.status.running and not queue.paused and not stopping
        if action == "resume":
            return queue.paused and not stopping
        if action == "retry":
            targets = self._target_items()
            return self._can_retry() and any(item.state.retryable for item in targets)
        if action == "retry_all":
            return self._can_retry() and self.model.retryable_count() > 0
        if action == "details":
            return self.downloads.selected is not None
        if action == "cancel":
            item = self.downloads.selected
            # Also while a stop drains (one ctrl+c), not once it is forced.
            return (
                item is not None
                and item.state is ItemState.SENT
                and self.status.running
                and self.status.stop_presses < 2
                and self.job.session.state is not RunState.STOPPING
            )
        return True

    def _check_edit(self, action: str) -> bool:
        if not self.can_edit():
            return False
        if action in ("add", "add_many", "select_all", "invert_selection"):
            return True
        if action == "undo":
            return self._undo is not None
        if action == "clear_done":
            return self.job.queue.counts()[ItemState.DONE] > 0
        targets = self._target_items()
        if not targets:
            return False
        if action in ("attempt", "toggle_mark"):
            return True
        if action == "edit":
            return not self.downloads.marked and targets[0].state.editable
        if action == "remove":
            return all(item.state.editable or item.state.retryable for item in targets)
        return all(item.state.editable for item in targets)  # the moves

    def commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        """The palette's entries for the queue actions that apply now."""
        for action, title, help_text in COMMANDS:
            method = getattr(self, f"action_{action}", None)
            if method is not None and self.check_action(action, ()):
                yield title, help_text, method

    def _target_items(self) -> list[DownloadItem]:
        queue = self.job.queue
        return [queue.get(i) for i in self.downloads.targets() if i in queue]

    def _can_retry(self) -> bool:
        status = self.status
        return not self.job.interrupted and not status.quitting and status.error is None

    def can_edit(self) -> bool:
        """Whether the queue may be changed now (not after a stop, nor while quitting)."""
        return self._can_retry() and not self.status.stop_presses

    def say(
        self, message: str, *, title: str = "", severity: str = "information", **options: Any
    ) -> None:
        """Say what a key did on the message line (drawn in place: no layout pass); a
        warning or an error is also a notification, to be seen. The text is shown as is
        (paths and URLs may hold [brackets])."""
        self.message_line.show(message, severity, title=title)
        if severity != "information":
            shown = printable(message)
            self.notify(shown, title=title, severity=severity, markup=False, **options)  # type: ignore[arg-type]

    def _refuse(self, edit: Callable[[], object]) -> bool:
        """Run ``edit``; if refused, say why (nothing changed). True if it went through.

        What it changed is journaled at once: items added or edited by hand are in no
        input file that a resume could read them from again.
        """
        queue = self.job.queue
        before = queue.changed()
        try:
            edit()
            queue.persist(queue.changed() - before)
        except (ItemLocked, ValidationError) as error:
            self.say(str(error), title="Not changed", severity="error")
            return False
        except KeyError:
            self.say("the item was removed meanwhile", title="Not changed", severity="error")
            return False
        finally:
            self.tick()
        return True

    def action_attempt(self, action: str) -> None:
        """A key whose action does not apply to the selection: run it to say why not."""
        if action == "edit":
            item = self.downloads.selected
            if self.downloads.marked:
                self.say("edit works on one item: unselect (space) first", severity="warning")
            elif item is not None:
                self._refuse(lambda: self.job.queue.edit(item.id))
            return
        getattr(self, f"action_{action}")()

    # -- the run ----------------------------------------------------------------------

    def action_pause(self) -> None:
        """Stop sending new items; in-flight downloads go on, waiting ones come back."""
        self.job.pause()
        self.tick()

    def action_resume(self) -> None:
        """Send items again (the job starts a round if the last one is over)."""
        self.job.unpause()
        self.tick()

    def action_retry(self) -> None:
        """Queue the selected failed or interrupted items (or the one under the cursor) again."""
        self.downloads.follow()
        self.job.queue.retry(self.downloads.targets())
        self.tick()  # queued again, the items start a round of their own if the last one is over

    def action_retry_all(self) -> None:
        """Queue every failed or interrupted item again."""
        self.job.queue.retry_failed()
        self.tick()

    def action_cancel(self) -> None:
        """Cancel the download under the cursor, once confirmed."""
        item = self.downloads.selected
        if item is None or item.state is not ItemState.SENT:
            return
        others = self.job.queue.counts()[ItemState.SENT] - 1

        def chosen(cancel: bool | None) -> None:
            if not cancel:
                return
            if self.job.cancel(item.id):
                self.say(f"{item.path}: cancelled; git-annex restarts without it")
            else:
                self.say(f"{item.path}: no longer downloading; nothing to cancel")
            self.tick()

        self.app.push_screen(CancelDialog(item, others), chosen)

    def action_details(self) -> None:
        """Open the details of the selected item."""
        item = self.downloads.selected
        if item is not None:
            self.app.push_screen(DetailsScreen(item))

    def on_downloads_view_activated(self) -> None:
        self.action_details()

    # -- add and edit -----------------------------------------------------------------

    def action_add(self) -> None:
        """Open the add dialog; add the item at the end of the queue."""

        def added(result: tuple[str, str] | None) -> None:
            if result is not None:
                url, path = result
                items: list[DownloadItem] = []
                if self._refuse(lambda: items.append(self.job.queue.add(url, path, source="key"))):
                    self.downloads.follow(items[0].id)
                    self.tick()

        self.app.push_screen(ItemDialog(self.job.queue), added)

    def action_edit(self) -> None:
        """Open the edit dialog on the queued item under the cursor."""
        item = self.downloads.selected
        if item is None:
            return

        def edited(result: tuple[str, str] | None) -> None:
            # The item may have been sent meanwhile: the queue refuses, nothing changes.
            if result is not None:
                url, path = result
                before = (item.url, item.path)
                if self._refuse(lambda: self.job.queue.edit(item.id, url=url, path=path)):
                    self.downloads.follow(item.id)
                    self._undo = (
                        f"{item.path}: edit undone",
                        lambda: self.job.queue.edit(item.id, url=before[0], path=before[1]),
                    )

        self.app.push_screen(ItemDialog(self.job.queue, item), edited)

    def action_add_many(self) -> None:
        """Open the add-many dialog: lines (text or JSON), or an input file's path."""

        def given(text: str | None) -> None:
            if text is None:
                return
            file = input_file(text)
            if file is not None:
                self.add_file(file)
            else:
                self._add_records(parse_lines(text, "typed"), "typed lines")

        self.app.push_screen(AddManyDialog(self.job.queue), given)

    @work(group="add-file", exit_on_error=False)
    async def add_file(self, file: Path) -> None:
        """Read an input file (any accepted format) and add its records."""
        records: list[InputRecord | Rejection] = []
        try:
            async with contextlib.aclosing(read_records(str(file))) as stream:
                async for record in stream:
                    records.append(record)
        except (OSError, ValueError) as error:
            self.say(f"{file}: {error}", title="Not read", severity="error")
            return
        self._add_records(records, str(file))

    def _add_records(self, records: Sequence[InputRecord | Rejection], what: str) -> None:
        added, refused = self.job.queue.add_records(records)
        self.job.queue.persist([item.id for item in added])  # see _refuse
        for rejection in refused:
            self.log_pane.add(rejection.event())
        message = f"added {len(added)} item(s) from {what}"
        if refused:
            lines = "; ".join(f"line {r.line}: {r.reason}" for r in refused[:3])
            more = f" (and {len(refused) - 3} more, see the log)" if len(refused) > 3 else ""
            message += f"; refused {len(refused)}: {lines}{more}"
        self.say(message, severity="warning" if refused else "information", timeout=8)
        if added:
            self.downloads.follow(added[0].id)
        self.tick()

    # -- remove, select, move ---------------------------------------------------------

    def action_remove(self) -> None:
        """Remove the selected items (or the one under the cursor): all or nothing."""
        queue = self.job.queue
        ids = self.downloads.targets()
        removed: list[DownloadItem] = []
        self.downloads.follow()
        order = {item.id: place for place, item in enumerate(queue.pending())}

        def remove() -> None:
            removed.extend(queue.remove(ids))
            self.downloads.marked.difference_update(ids)

        if self._refuse(remove):
            self.say(f"removed {len(removed)} item(s); u: undo")
            # Put back in feed order, each at the place it had (the failed ones at the end).
            back = sorted(removed, key=lambda item: order.get(item.id, len(order)))

            def restore() -> None:
                for item in back:
                    again = queue.add(
                        item.url,
                        item.path,
                        metadata=item.metadata,
                        extra_urls=item.extra_urls,
                        source=item.source,
                        line=item.line,
                    )
                    if item.id in order:
                        queue.place(again.id, order[item.id])

            self._undo = (f"restored {len(back)} item(s)", restore)

    def action_undo(self) -> None:
        """Undo the last remove or edit (once; the queue refuses what no longer applies)."""
        if self._undo is None:
            return
        said, undo = self._undo
        self._undo = None
        if self._refuse(undo):
            self.say(said)

    def action_toggle_mark(self) -> None:
        """Select or unselect the item under the cursor, then go to the next row."""
        item = self.downloads.selected
        if item is None:
            return
        if not (item.state.editable or item.state.retryable or item.id in self.downloads.marked):
            reason = (
                "already sent to git-annex" if item.state is ItemState.SENT else "already added"
            )
            self.say(f"{item.path}: {reason}; only queued or failed items can be selected")
            return
        self.downloads.toggle_mark(item.id)
        self.downloads.action_cursor(1)
        self.refresh_bindings()

    def _selectable(self) -> set[int]:
        """The shown items a selection may hold: queued, failed or interrupted ones."""
        queue = self.job.queue
        shown = set()
        for item_id in self.model.order:
            if item_id in queue:
                state = queue.get(item_id).state
                if state.editable or state.retryable:
                    shown.add(item_id)
        return shown

    def action_select_all(self) -> None:
        """Select every queued or failed item the filter shows."""
        self.downloads.marked = self._selectable()
        self.downloads.refresh()
        self.say(f"{len(self.downloads.marked)} item(s) selected")
        self.refresh_bindings()

    def action_invert_selection(self) -> None:
        """Select the shown selectable items that were not selected, and only those."""
        shown = self._selectable()
        hidden = self.downloads.marked - shown  # what the filter hides stays as it was
        self.downloads.marked = (shown - self.downloads.marked) | hidden
        self.downloads.refresh()
        self.say(f"{len(self.downloads.marked)} item(s) selected")
        self.refresh_bindings()

    def _move(self, name: str) -> None:
        move: Callable[[list[int]], None] = getattr(self.job.queue, name)
        ids = self.downloads.targets()
        self.downloads.follow()
        self._refuse(lambda: move(ids))

    def action_move_up(self) -> None:
        """Send the selected queued items one place earlier."""
        self._move("move_up")

    def action_move_down(self) -> None:
        """Send the selected queued items one place later."""
        self._move("move_down")

    def action_move_to_top(self) -> None:
        """Send the selected queued items next."""
        self._move("move_to_top")

    def action_move_to_bottom(self) -> None:
        """Send the selected queued items last."""
        self._move("move_to_bottom")

    def _drop_sent_marks(self, dirty: set[int]) -> None:
        """Unselect selected items that were sent (or left the queue); say so, once a second."""
        marked = self.downloads.marked
        if marked and dirty:
            queue = self.job.queue
            removed = [i for i in marked & dirty if i not in queue]
            sent = [
                i
                for i in marked & dirty
                if i in queue and not (queue.get(i).state.editable or queue.get(i).state.retryable)
            ]
            if removed or sent:
                marked.difference_update(removed + sent)
                self._sent_unmarked += len(sent)
                self.downloads.refresh()
        now = time.monotonic()
        if self._sent_unmarked and now - self._last_unmark_note >= 1.0:
            # One note for a burst, not one toast per tick while the feeder sends them.
            self.say(
                f"{self._sent_unmarked} selected item(s) were sent to git-annex "
                "and left the selection"
            )
            self._sent_unmarked = 0
            self._last_unmark_note = now

    # -- filter, clear, log -----------------------------------------------------------

    def action_filter(self) -> None:
        """Open the filter bar."""
        self.filter_bar.open()

    def action_clear_filter(self) -> None:
        """Clear the filter and show every item again; with no filter, clear the selection."""
        if not (self.filter_bar.shown or self.model.filter_text):
            self.downloads.clear_marks()
            self.refresh_bindings()
            return
        self.filter_bar.close()
        self.model.set_filter("")
        self.downloads.follow()
        self.downloads.focus()
        self.tick()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter-input":
            self.downloads.follow()
            self.model.set_filter(event.value)
            self.tick()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter-input":
            self.downloads.focus()

    def action_clear_done(self) -> None:
        """Drop finished items from the view; the report still counts them."""
        queue = self.job.queue
        self.downloads.follow()
        done = queue.forget([item.id for item in queue.in_state(ItemState.DONE)])
        self.say(f"cleared {len(done)} finished item(s); the report still counts them")
        self.tick()

    def action_toggle_follow(self) -> None:
        """Follow the downloads in progress with the cursor, or stop following them."""
        downloads = self.downloads
        downloads.following = not downloads.following
        self.tick()
        if downloads.following:
            self.say("following downloads: the cursor goes with them (a move by hand stops it)")
        else:
            self.say("no longer following downloads")

    def action_sort(self) -> None:
        """Order the rows by the next key: state (grouped), path, size, progress, speed, ETA."""
        cycle = SORT_CYCLE
        key = cycle[(cycle.index(self.model.sort_key) + 1) % len(cycle)]
        self.model.set_sort(key, reverse=self.model.sort_reverse)
        self.downloads.follow()
        self.model.skip_pace()
        self.tick()
        self.say(f"sorted by {key}" + (" (reversed)" if self.model.sort_reverse else ""))

    def action_reverse_sort(self) -> None:
        """Reverse the order of the rows."""
        self.model.set_sort(self.model.sort_key, reverse=not self.model.sort_reverse)
        self.downloads.follow()
        self.model.skip_pace()
        self.tick()

    def action_toggle_log(self) -> None:
        """Show or hide the log pane."""
        pane = self.log_pane
        pane.display = not pane.display

    def action_cycle_log_level(self) -> None:
        """Show all log lines, then warnings and errors, then errors only."""
        pane = self.log_pane
        pane.display = True
        level = pane.cycle_level()
        self.say(f"log shows {'all lines' if level == 'info' else level + ' and worse'}")
