"""The app's queue-editing keys: add, add many, edit, remove, select, move, filter, clear.

A base class of :class:`tui_annex.ui.app.TuiAnnexApp`, kept apart so the app module
stays about the run itself. Every edit goes through the queue's methods, which
run on the event loop like the feeder: an item is either sent unchanged or
edited, never half of each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.widgets import Input

from ..events import LogLine
from ..inputs import InputRecord, Rejection, parse_lines, read_records
from ..items import DownloadItem, ItemLocked, ItemState
from ..validation import ValidationError
from ..widgets import DownloadsView, FilterBar, LogPane, QueueModel
from .actions import EDIT_ACTIONS, FIXED_KEYS
from .job_view import JobLike
from .screens import AddManyDialog, ItemDialog
from .screens.add_many import input_file

__all__ = ["QueueEditing"]


class QueueEditing(App[int]):
    """Keyboard editing of the queue while downloads run (issue 5)."""

    job: JobLike
    keys: dict[str, str]
    """Rebound keys from the configuration file: action name to key(s)."""
    model: QueueModel
    downloads: DownloadsView
    filter_bar: FilterBar
    log_pane: LogPane

    def tick(self) -> None:
        """Refresh from the queue (the app's timer)."""
        raise NotImplementedError

    def can_edit(self) -> bool:
        """Whether the queue may be changed now (not after a stop, nor while quitting)."""
        raise NotImplementedError

    _sent_unmarked = 0
    _last_unmark_note = 0.0

    def apply_keys(self) -> None:
        """Rebind keys from the configuration file (``[keys]``: action name = "key[,key]")."""
        keys = dict(self.keys)
        known = {
            binding.id
            for widget in (self, self.downloads)
            for _key, binding in widget._bindings
            if binding.id
        }
        for action in sorted(set(keys) - known):
            text = f"[keys] {action}: no such action (known: {', '.join(sorted(known))})"
            self.log_pane.add(LogLine(source="app", level="warning", text=text))
        keymap = {}
        for action, value in keys.items():
            if action not in known:
                continue
            chosen = {key.strip() for key in value.split(",")}
            if chosen & FIXED_KEYS:
                # Rebinding a key drops every other binding on it: ctrl+c must stay "stop".
                text = (
                    f"[keys] {action}: {', '.join(sorted(chosen & FIXED_KEYS))} cannot be rebound"
                )
                self.log_pane.add(LogLine(source="app", level="warning", text=text))
                continue
            keymap[action] = value
        if keymap:
            self.set_keymap(keymap)

    # -- which keys apply -------------------------------------------------------------

    def check_edit_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """check_action for the editing actions; None for an action that is not one."""
        if action == "filter":
            return True
        if action == "clear_filter":
            return self.filter_bar.shown or bool(self.model.filter_text or self.downloads.marked)
        if action not in EDIT_ACTIONS:
            return None
        if not self.can_edit():
            return False
        if action in ("add", "add_many"):
            return True
        if action == "clear_done":
            return self.job.queue.counts()[ItemState.DONE] > 0
        targets = self._target_items()
        if not targets:
            return False
        if action == "attempt":
            return True
        if action == "edit":
            return not self.downloads.marked and targets[0].state.editable
        if action == "remove":
            return all(item.state.editable or item.state.retryable for item in targets)
        if action == "toggle_mark":
            return True
        return all(item.state.editable for item in targets)  # the moves

    def _target_items(self) -> list[DownloadItem]:
        queue = self.job.queue
        return [queue.get(i) for i in self.downloads.targets() if i in queue]

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

    def say(self, message: str, **options: Any) -> None:
        """A notification; its text is shown as is (paths and URLs may hold [brackets])."""
        self.notify(message, markup=False, **options)

    def _refuse(self, edit: Callable[[], object]) -> bool:
        """Run ``edit``; if refused, say why (nothing changed). True if it went through."""
        try:
            edit()
        except (ItemLocked, ValidationError) as error:
            self.say(str(error), title="Not changed", severity="error")
            return False
        finally:
            self.tick()
        return True

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

        self.push_screen(ItemDialog(self.job.queue), added)

    def action_edit(self) -> None:
        """Open the edit dialog on the queued item under the cursor."""
        item = self.downloads.selected
        if item is None:
            return

        def edited(result: tuple[str, str] | None) -> None:
            # The item may have been sent meanwhile: the queue refuses, nothing changes.
            if result is not None:
                url, path = result
                if self._refuse(lambda: self.job.queue.edit(item.id, url=url, path=path)):
                    self.downloads.follow(item.id)

        self.push_screen(ItemDialog(self.job.queue, item), edited)

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

        self.push_screen(AddManyDialog(self.job.queue), given)

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
        ids = self.downloads.targets()
        removed: list[DownloadItem] = []
        self.downloads.follow()

        def remove() -> None:
            removed.extend(self.job.queue.remove(ids))
            self.downloads.marked.difference_update(ids)

        if self._refuse(remove):
            self.say(f"removed {len(removed)} item(s)")

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

    def _move(self, name: str) -> None:
        queue = self.job.queue
        move: Callable[[list[int]], None] = getattr(queue, name)
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

    def drop_sent_marks(self, dirty: set[int]) -> None:
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

    # -- filter and clear -------------------------------------------------------------

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
