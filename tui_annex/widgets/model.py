"""The UI's view of a :class:`DownloadQueue`: totals kept incrementally and the row order, cached.

Plain data, no Textual: the app's timer calls :meth:`QueueModel.update` ~15 times
a second; it reads only the items the queue marked dirty, so its cost follows the
rate of change, not the number of items.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..items import DownloadItem, ItemState
from ..queue import DownloadQueue

__all__ = ["GROUP_OF_STATE", "QueueModel", "Totals"]

#: Display groups, top to bottom: in flight, queued (feed order), failed/interrupted, done.
GROUP_OF_STATE: dict[ItemState, int] = {
    ItemState.SENT: 0,
    ItemState.QUEUED: 1,
    ItemState.FAILED: 2,
    ItemState.INTERRUPTED: 2,
    ItemState.DONE: 3,
}

#: Above this many items, rebuild the row order at most every :attr:`QueueModel.slow_rebuild`
#: seconds; in between, rows still show each item's live state.
LARGE_QUEUE = 5_000


@dataclass
class Totals:
    """What the summary line shows."""

    counts: dict[ItemState, int]
    items: int
    bytes_done: int
    bytes_total: int
    unknown_sizes: int
    speed: float
    eta: float | None


class QueueModel:
    """Row order and running totals of a queue, updated from its dirty set."""

    slow_rebuild = 0.5

    def __init__(self, queue: DownloadQueue) -> None:
        self.queue = queue
        self.order: list[int] = []
        """Item ids in display order."""
        self.index: dict[int, int] = {}
        """Row of each item id in :attr:`order`."""
        self._seen: dict[int, tuple[ItemState, int, int | None]] = {}
        self._active: set[int] = set()
        self._counts = dict.fromkeys(ItemState, 0)
        self._bytes_done = 0
        self._bytes_total = 0
        self._unknown = 0
        self._forgotten = 0
        self._primed = False
        self._stale = True
        self.filter_text = ""
        """Show only items whose path or URL contains this (case-insensitive); "" shows all."""
        self._last_rebuild = 0.0
        self.rebuilds = 0

    def update(self) -> set[int]:
        """Fold in the queue's changes; return the ids of changed items (``order`` may change)."""
        dirty = self.queue.take_dirty()
        if not self._primed:
            # Items added before the UI started may have been taken out of the dirty set.
            dirty.update(item.id for item in self.queue)
            self._primed = True
        for item_id in dirty:
            self._fold(item_id)
        self._fold_forgotten()
        now = time.monotonic()
        if self._stale and (
            len(self.queue) < LARGE_QUEUE or now - self._last_rebuild >= self.slow_rebuild
        ):
            self._rebuild()
            self._last_rebuild = now
        return dirty

    def _fold(self, item_id: int) -> None:
        old = self._seen.pop(item_id, None)
        if old is not None:
            state, done, total = old
            self._counts[state] -= 1
            self._bytes_done -= done
            if total is None:
                self._unknown -= 1
            else:
                self._bytes_total -= total
        if item_id not in self.queue:
            self._active.discard(item_id)
            self._stale = True
            return
        item = self.queue.get(item_id)
        self._seen[item_id] = (item.state, item.bytes_done, item.total)
        self._count_in(item)
        if item.state is ItemState.SENT:
            self._active.add(item_id)
        else:
            self._active.discard(item_id)
        if old is None or GROUP_OF_STATE[old[0]] != GROUP_OF_STATE[item.state]:
            self._stale = True
        elif item.state is ItemState.QUEUED:
            # A queued item is dirty without changing group when it was moved or edited.
            self._stale = True

    def set_filter(self, text: str) -> None:
        """Show only items whose path or URL contains ``text`` (from the next :meth:`update`)."""
        text = text.strip().casefold()
        if text != self.filter_text:
            self.filter_text = text
            # Applied by the next rebuild, which large queues still space out.
            self._stale = True

    def matches(self, item: DownloadItem) -> bool:
        """Whether ``item`` passes the filter."""
        text = self.filter_text
        return not text or text in item.path.casefold() or text in item.url.casefold()

    def _fold_forgotten(self) -> None:
        """Done items the queue forgot still count in the totals (the summary counts everything)."""
        forgotten = self.queue.forgotten
        for item in forgotten[self._forgotten :]:
            self._count_in(item)
        self._forgotten = len(forgotten)

    def _count_in(self, item: DownloadItem) -> None:
        """Add ``item``'s state and bytes to the running totals."""
        self._counts[item.state] += 1
        self._bytes_done += item.bytes_done
        if item.total is None:
            self._unknown += 1
        else:
            self._bytes_total += item.total

    def _rebuild(self) -> None:
        groups: list[list[int]] = [[], [], [], []]
        wanted = self.matches if self.filter_text else None
        for item in self.queue:
            group = GROUP_OF_STATE[item.state]
            if group != 1 and (wanted is None or wanted(item)):
                groups[group].append(item.id)
        groups[1] = [item.id for item in self.queue.pending() if wanted is None or wanted(item)]
        self.order = [item_id for group in groups for item_id in group]
        self.index = {item_id: row for row, item_id in enumerate(self.order)}
        self._stale = False
        self.rebuilds += 1

    def item_at(self, row: int) -> DownloadItem | None:
        """The item shown on ``row``, or None (out of range, or removed since the last rebuild)."""
        if 0 <= row < len(self.order):
            item_id = self.order[row]
            if item_id in self.queue:
                return self.queue.get(item_id)
        return None

    def retryable_count(self) -> int:
        """How many items failed or were interrupted."""
        return self._counts[ItemState.FAILED] + self._counts[ItemState.INTERRUPTED]

    def totals(self) -> Totals:
        """Counts, bytes, aggregate speed and the ETA of what is in flight."""
        speed = 0.0
        sized_speed = 0.0  # the ETA divides known remaining bytes by their own speed
        remaining = 0
        for item_id in self._active:
            item = self.queue.get(item_id)
            item_speed = item.speed
            speed += item_speed
            if item.total is not None:
                sized_speed += item_speed
                remaining += max(item.total - item.bytes_done, 0)
        return Totals(
            counts=dict(self._counts),
            items=len(self._seen) + self._forgotten,
            bytes_done=self._bytes_done,
            bytes_total=self._bytes_total,
            unknown_sizes=self._unknown,
            speed=speed,
            eta=remaining / sized_speed if sized_speed > 0 and remaining else None,
        )
