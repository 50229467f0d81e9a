"""The UI's view of a :class:`DownloadQueue`: totals kept incrementally and the row order, cached.

Plain data, no Textual: the app's timer calls :meth:`QueueModel.update` ~15 times
a second; it reads only the items the queue marked dirty, so its cost follows the
rate of change, not the number of items. The row order is not a list rebuilt
on every change (at 100,000 items that churned megabytes twice a second and the
heap grew with it) but a view over the queue's feed order and three sorted id
lists (:class:`RowOrder`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from rich.cells import cell_len

from ..estimate import RateWindow, key_size, time_left
from ..items import DownloadItem, ItemState, grow_to
from ..queue import DownloadQueue

__all__ = ["GROUP_OF_STATE", "SORT_CYCLE", "SORT_KEYS", "QueueModel", "RowOrder", "Totals"]

#: Display groups, top to bottom: in flight, queued (feed order), failed/interrupted, done.
GROUP_OF_STATE: dict[ItemState, int] = {
    ItemState.SENT: 0,
    ItemState.QUEUED: 1,
    ItemState.FAILED: 2,
    ItemState.INTERRUPTED: 2,
    ItemState.DONE: 3,
}

#: Above this many items, list a filter's matches at most every :attr:`QueueModel.slow_rebuild`
#: seconds; in between, rows still show each item's live state.
LARGE_QUEUE = 5_000


def _size(item: DownloadItem) -> float:
    total = item.total if item.total is not None else key_size(item.key)
    return -1.0 if total is None else float(total)


def _progress(item: DownloadItem) -> float:
    if item.state is ItemState.DONE:
        return 1.0
    return item.bytes_done / item.total if item.total else 0.0


def _eta(item: DownloadItem) -> float:
    eta = item.eta
    return float("inf") if eta is None else eta


#: The orders the rows can take besides grouped by state, and the value each sorts by.
SORT_KEYS: dict[str, Callable[[DownloadItem], Any]] = {
    "path": lambda item: item.path.casefold(),
    "size": _size,
    "progress": _progress,
    "speed": lambda item: item.speed,
    "eta": _eta,
}
#: Sort keys whose values change while downloads run (the rows are re-sorted as they do).
MOVING_KEYS = frozenset({"progress", "speed", "eta"})
#: The order ``s`` cycles through.
SORT_CYCLE = ("state", "path", "size", "progress", "speed", "eta")

#: What the model remembers of a queued item that never started.
_FRESH: tuple[ItemState, int, int | None] = (ItemState.QUEUED, 0, None)


def _values(item: DownloadItem) -> tuple[ItemState, int, int | None]:
    """An item's state, bytes and size as the totals count them.

    A finished item counts at its key's size: a small file often finishes
    without a single progress report, and would otherwise count as 0 bytes.
    """
    state, done, total = item.state, item.bytes_done, item.total
    if state is ItemState.QUEUED and not done and total is None:
        return _FRESH  # shared: most of a huge queue looks like this
    if state is ItemState.DONE:
        size = key_size(item.key)
        if size is not None:
            total = size if total is None else total
            done = max(done, size)
    return state, done, total


@dataclass
class Totals:
    """What the summary line shows."""

    counts: dict[ItemState, int]
    items: int
    bytes_done: int
    bytes_total: int
    unknown_sizes: int
    speed: float
    """Bytes a second over the last few seconds (0 until the window has filled)."""
    eta: float | None
    """Seconds until everything queued or in flight is in (None: not known yet)."""
    eta_estimated: bool = False
    """Some sizes are not known yet: the ETA counts them at the mean finished size."""
    waiting: int = 0
    """Items git-annex holds but has not started (no byte yet); counted in SENT too."""
    received: int = 0
    """Bytes that arrived in all, retries included."""


class RowOrder(Sequence[int]):
    """The rows of a queue, in display order, without a copy of them.

    In flight (by id), then queued (the feed order, as of the last update), then
    failed and interrupted (by id), then done (by id). Reading a row is O(1); a
    state change moves one id between two sorted lists, and the feed order is a
    view the queue promises not to change (:meth:`DownloadQueue.pending_view`,
    no copy). Between two updates
    the rows stay exactly what was drawn, so a key acts on the item the user
    sees under the cursor, even while the feeder sends the next one.
    """

    def __init__(self, model: QueueModel) -> None:
        self._model = model

    def __len__(self) -> int:
        model = self._model
        return len(model._sent) + model._queued + len(model._retry) + len(model._done)

    @overload
    def __getitem__(self, row: int) -> int: ...
    @overload
    def __getitem__(self, row: slice) -> list[int]: ...
    def __getitem__(self, row: int | slice) -> int | list[int]:
        if isinstance(row, slice):
            return [self[index] for index in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
            if row < 0:
                raise IndexError(row - len(self))
        model = self._model
        if row < len(model._sent):
            return model._sent[row]
        row -= len(model._sent)
        if row < model._queued:
            return model._pending[model._start + row]
        row -= model._queued
        for group in (model._retry, model._done):
            if row < len(group):
                return group[row]
            row -= len(group)
        raise IndexError(row)

    def __iter__(self) -> Iterator[int]:
        model = self._model
        yield from list(model._sent)
        yield from model._pending[model._start : model._start + model._queued]
        yield from list(model._retry)
        yield from list(model._done)


class QueueModel:
    """Row order and running totals of a queue, updated from its dirty set."""

    slow_rebuild = 0.5

    def __init__(
        self,
        queue: DownloadQueue,
        not_started: Callable[[], Collection[int]] = frozenset,
    ) -> None:
        self.queue = queue
        self._not_started = not_started
        """The in-flight items git-annex has not started (the session says which)."""
        self.waiting: Collection[int] = frozenset()
        """Those items as of the last :meth:`update`."""
        self._sent: list[int] = []
        self._pending: list[int] = []
        self._start = 0
        self._queued = 0
        """The feed order as of the last update: ``_pending[_start:_start + _queued]``."""
        self._retry: list[int] = []
        self._done: list[int] = []
        self._rows = RowOrder(self)
        self._filtered: list[int] | None = None
        self._seen: dict[int, tuple[ItemState, int, int | None]] = {}
        """What was counted of each item, but for fresh ones (queued, never started)."""
        self._fresh = bytearray()
        """1 at the id of each fresh item counted: a byte, not a dict entry, for most of
        a huge queue (52 MB less at 1,000,000 items)."""
        self._fresh_count = 0
        self._active: set[int] = set()
        self._counts = dict.fromkeys(ItemState, 0)
        self._bytes_done = 0
        self._bytes_total = 0
        self._unknown = 0
        self._received = 0
        """Bytes that arrived in all (a counter that only grows: retries download again)."""
        self._done_size_sum = 0
        self._done_sized = 0
        self.rate = RateWindow()
        self.peak = 0.0
        """The highest speed over the window so far (bytes a second)."""
        self._forgotten = 0
        self.longest_path = 0
        """The widest path (in cells) the queue has held: the path column needs no more."""
        self._primed = False
        self._stale = True
        self._version = -1
        self.filter_text = ""
        """Show only items whose path or URL contains this (case-insensitive); "" shows all."""
        self.sort_key = "state"
        """What orders the rows: ``state`` (grouped: in flight, queued, failed, done) or a
        key of :data:`SORT_KEYS`."""
        self.sort_reverse = False
        self._last_rebuild = 0.0
        self.rebuilds = 0
        """Bumped whenever rows move (membership, state group or order), not on progress."""

    @property
    def order(self) -> Sequence[int]:
        """Item ids in display order (the filter's matches while a filter is set)."""
        return self._rows if self._filtered is None else self._filtered

    def update(self, now: float | None = None) -> set[int]:
        """Fold in the queue's changes; return the ids of changed items (``order`` may change).

        ``now`` (``time.monotonic()`` by default) dates the speed window's sample.
        """
        dirty = self.queue.take_dirty()
        waiting = self._not_started()
        if waiting != self.waiting:
            # A row reads "waiting" until git-annex takes it up: it changes unreported.
            dirty.update(set(waiting).symmetric_difference(self.waiting))
            self.waiting = waiting
        if not self._primed:
            # Items added before the UI started may have been taken out of the dirty set.
            dirty.update(item.id for item in self.queue)
            self._primed = True
        self._fold_all(dirty)
        self._fold_forgotten()
        self.rate.add(time.monotonic() if now is None else now, self._received)
        rate = self.rate.rate()
        if rate is not None and rate > self.peak:
            self.peak = rate
        if self.queue.version != self._version:
            self._version = self.queue.version
            self._pending, self._start, stop = self.queue.pending_view()
            self._queued = stop - self._start
            self._stale = True
        if dirty and self.sort_key in MOVING_KEYS:
            self._stale = True  # speeds, progress and ETAs change with every report
        if not self._stale:
            return dirty
        now = time.monotonic()
        if not self.filter_text and self.sort_key == "state" and not self.sort_reverse:
            self._filtered = None
            self._stale = False
            self._last_rebuild = now
            self.rebuilds += 1
            return dirty
        if len(self.queue) < LARGE_QUEUE or now - self._last_rebuild >= self.slow_rebuild:
            # A filter or a sort lists its rows: one pass over them (and a sort), spaced
            # out on large queues.
            matches = self.matches
            get = self.queue.get
            rows = [
                item_id for item_id in self._rows if item_id in self.queue and matches(get(item_id))
            ]
            if self.sort_key != "state":
                value = SORT_KEYS[self.sort_key]
                rows.sort(key=lambda item_id: value(get(item_id)), reverse=self.sort_reverse)
            elif self.sort_reverse:
                rows.reverse()
            self._filtered = rows
            self._last_rebuild = now
            self._stale = False
            self.rebuilds += 1
        return dirty

    def _fold_all(self, dirty: set[int]) -> None:
        """Fold in every changed item; new items as an input gave them (most of a huge
        input's, at every tick while it loads) are counted in bulk."""
        seen, get = self._seen, self.queue.get
        is_fresh, note_path, set_fresh = self._is_fresh, self._note_path, self._set_fresh
        queued = ItemState.QUEUED
        added = 0
        for item_id in dirty:
            if item_id not in seen and not is_fresh(item_id):
                try:
                    item = get(item_id)
                except KeyError:
                    item = None
                if (
                    item is not None
                    and item.state is queued
                    and not item.bytes_done
                    and item.total is None
                ):
                    note_path(item.path)
                    set_fresh(item_id)
                    added += 1
                    continue
            self._fold(item_id)
        if added:
            # As _fold and _count_in do for each: queued, no byte, size not known.
            self._fresh_count += added
            self._counts[queued] += added
            self._unknown += added
            self._stale = True

    def _is_fresh(self, item_id: int) -> bool:
        """Whether the item is counted as fresh (queued, never started: a byte, not a tuple)."""
        return item_id < len(self._fresh) and bool(self._fresh[item_id])

    def _set_fresh(self, item_id: int) -> None:
        fresh = self._fresh
        if item_id >= len(fresh):
            grow_to(fresh, item_id)
        fresh[item_id] = 1

    def _note_path(self, path: str) -> None:
        """Widen the path column to ``path`` if it needs more."""
        width = len(path) if path.isascii() else cell_len(path)
        if width > self.longest_path:
            self.longest_path = width

    def skip_pace(self) -> None:
        """Let the next update list the rows even on a large queue (a key asked for it)."""
        self._last_rebuild = 0.0

    def set_sort(self, key: str, *, reverse: bool = False) -> None:
        """Order the rows by ``key`` (one of :data:`SORT_KEYS`, or ``state``: grouped)."""
        if key != "state" and key not in SORT_KEYS:
            raise ValueError(f"no sort key {key!r}")
        if (key, reverse) != (self.sort_key, self.sort_reverse):
            self.sort_key, self.sort_reverse = key, reverse
            self._stale = True

    def _fold(self, item_id: int) -> None:
        old = self._seen.pop(item_id, None)
        if old is None and self._is_fresh(item_id):
            old = _FRESH
            self._fresh[item_id] = 0
            self._fresh_count -= 1
        if old is not None:
            self._count_out(old)
        if item_id not in self.queue:
            if old is not None:
                self._leave_group(item_id, old[0])
            self._active.discard(item_id)
            self._stale = True
            return
        item = self.queue.get(item_id)
        # New, or edited (its path may be wider), perhaps sent since: every change counts.
        self._note_path(item.path)
        seen = _values(item)
        if seen is _FRESH:
            self._set_fresh(item_id)
            self._fresh_count += 1
        else:
            self._seen[item_id] = seen
        self._count_in(seen)
        if old is None or seen[1] > old[1]:
            self._received += seen[1] - (0 if old is None else old[1])
        if item.state is ItemState.SENT:
            self._active.add(item_id)
        else:
            self._active.discard(item_id)
        group = GROUP_OF_STATE[item.state]
        if old is None or GROUP_OF_STATE[old[0]] != group:
            if old is not None:
                self._leave_group(item_id, old[0])
            rows = self._group_rows(group)
            if rows is not None:
                bisect.insort(rows, item_id)
            self._stale = True
        elif item.state is ItemState.QUEUED:
            # A queued item is dirty without changing group when it was moved or edited.
            self._stale = True

    def _group_rows(self, group: int) -> list[int] | None:
        """The sorted ids of a group (None for the queued ones: they keep the feed order)."""
        return (self._sent, None, self._retry, self._done)[group]

    def _leave_group(self, item_id: int, state: ItemState) -> None:
        rows = self._group_rows(GROUP_OF_STATE[state])
        if rows is not None:
            at = bisect.bisect_left(rows, item_id)
            if at < len(rows) and rows[at] == item_id:
                del rows[at]

    def row_of(self, item_id: int) -> int | None:
        """The row showing ``item_id`` (None if it is not shown)."""
        if self._filtered is not None:
            try:
                return self._filtered.index(item_id)
            except ValueError:
                return None
        seen = self._seen.get(item_id)
        if seen is None and self._is_fresh(item_id):
            seen = _FRESH
        if seen is None:
            return None
        group = GROUP_OF_STATE[seen[0]]
        offset = sum(self._group_size(earlier) for earlier in range(group))
        rows = self._group_rows(group)
        if rows is None:
            try:
                start = self._start
                return offset + self._pending.index(item_id, start, start + self._queued) - start
            except ValueError:
                return None
        at = bisect.bisect_left(rows, item_id)
        return offset + at if at < len(rows) and rows[at] == item_id else None

    def _group_size(self, group: int) -> int:
        rows = self._group_rows(group)
        return self._queued if rows is None else len(rows)

    def set_filter(self, text: str) -> None:
        """Show only items whose path or URL contains ``text`` (from the next :meth:`update`)."""
        text = text.strip().casefold()
        if text != self.filter_text:
            self.filter_text = text
            # Applied by the next update, which large queues still space out.
            self._stale = True

    def matches(self, item: DownloadItem) -> bool:
        """Whether ``item`` passes the filter."""
        text = self.filter_text
        return not text or text in item.path.casefold() or text in item.url.casefold()

    def _fold_forgotten(self) -> None:
        """Done items the queue forgot still count in the totals (the summary counts everything)."""
        forgotten = self.queue.forgotten
        for item in forgotten[self._forgotten :]:
            self._count_in(_values(item))
        self._forgotten = len(forgotten)

    def _count_in(self, seen: tuple[ItemState, int, int | None]) -> None:
        """Add an item's state and bytes (as :func:`_values` gives them) to the totals."""
        state, done, total = seen
        self._counts[state] += 1
        self._bytes_done += done
        if total is None:
            self._unknown += 1
        else:
            self._bytes_total += total
            if state is ItemState.DONE:
                self._done_size_sum += total
                self._done_sized += 1

    def _count_out(self, seen: tuple[ItemState, int, int | None]) -> None:
        state, done, total = seen
        self._counts[state] -= 1
        self._bytes_done -= done
        if total is None:
            self._unknown -= 1
        else:
            self._bytes_total -= total
            if state is ItemState.DONE:
                self._done_size_sum -= total
                self._done_sized -= 1

    def item_at(self, row: int) -> DownloadItem | None:
        """The item shown on ``row``, or None (out of range, or removed since the last update)."""
        order = self.order
        if 0 <= row < len(order):
            try:
                item_id = order[row]
            except IndexError:  # the queue handed an item out since the last update
                return None
            if item_id in self.queue:
                return self.queue.get(item_id)
        return None

    @property
    def in_flight(self) -> Collection[int]:
        """The ids of the items in flight (sent, not answered), as of the last update."""
        return self._active

    def retryable_count(self) -> int:
        """How many items failed or were interrupted."""
        return self._counts[ItemState.FAILED] + self._counts[ItemState.INTERRUPTED]

    def totals(self) -> Totals:
        """Counts, bytes, the speed over the last seconds and the time left for everything."""
        known_left = 0
        unsized = 0
        sized_sum, sized = self._done_size_sum, self._done_sized
        for item_id in self._active:
            item = self.queue.get(item_id)
            if item.total is None:
                unsized += 1
            else:
                known_left += max(item.total - item.bytes_done, 0)
                sized_sum += item.total
                sized += 1
        rate = self.rate.rate()
        # Items of unknown size count at the mean of the sizes known so far.
        mean = sized_sum / sized if sized else None
        eta, estimated = time_left(
            known_left=known_left,
            unknown_items=unsized + self._counts[ItemState.QUEUED],
            mean_size=mean,
            rate=rate,
        )
        return Totals(
            counts=dict(self._counts),
            items=len(self._seen) + self._fresh_count + self._forgotten,
            bytes_done=self._bytes_done,
            bytes_total=self._bytes_total,
            unknown_sizes=self._unknown,
            speed=rate or 0.0,
            eta=eta,
            eta_estimated=estimated,
            waiting=sum(1 for item_id in self.waiting if item_id in self._active),
            received=self._received,
        )
