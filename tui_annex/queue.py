"""The download queue: items in feed order and the edits allowed while downloads run.

Every method is synchronous and runs on the event loop's thread, so an edit and
the feeder's :meth:`DownloadQueue.take_next` can never interleave: an item is
either taken (and locked) or edited, never half of each.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from .checked import NOTHING_EXTRA, CheckedBatch, check_batch, refusal
from .inputs import InputRecord, Rejection
from .items import (
    NO_METADATA,
    Destinations,
    DownloadItem,
    ItemLocked,
    ItemState,
    StopReport,
    locked_reason,
)
from .validation import DEFAULT_SCHEMES, check_url, normalize_path

__all__ = [
    "DownloadItem",
    "DownloadQueue",
    "ItemLocked",
    "ItemState",
    "QueueObserver",
    "StopReport",
]


class QueueObserver(Protocol):
    """Told of every change to an item (the journal); asked to write before changes are read."""

    def item_changed(self, item: DownloadItem) -> None: ...
    def item_removed(self, item: DownloadItem) -> None: ...
    def flush(self, *, wait: bool = True, only: Collection[int] | None = None) -> None: ...


class DownloadQueue:
    """Items in feed order, with the edits a user may make while downloads run.

    Destination paths are unique among all items (two concurrent downloads to
    one path leave the file inconsistent), and no item's path may be a folder
    of another's.
    """

    def __init__(self, *, schemes: Iterable[str] = DEFAULT_SCHEMES) -> None:
        self.schemes = frozenset(schemes)
        self._items: dict[int, DownloadItem] = {}
        self._pending: list[int] = []
        """Queued ids in feed order from :attr:`_head` on (those before it were sent)."""
        self._head = 0
        self._shared = False
        """A view of ``_pending`` was handed out: change it in place no more (copy first)."""
        self._destinations = Destinations()
        self._next_id = 1
        self._paused = False
        self._resumes: set[int] = set()
        """Queued ids cut off mid-download by a restart of git-annex: sent even while
        paused or draining (a pause or a stop never halts a download under way)."""
        self._closed = False
        self._waiters: set[asyncio.Future[None]] = set()
        self._dirty: set[int] = set()
        self._counts = dict.fromkeys(ItemState, 0)
        self._forgotten: list[DownloadItem] = []
        self._restored_first = 0
        self.version = 0
        """Bumped on every change of membership or order (not on progress)."""
        self.observer: QueueObserver | None = None
        """Told of every item change (the journal), and flushed before :meth:`take_dirty`."""

    # -- reading ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[DownloadItem]:
        return iter(self._items.values())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: int) -> DownloadItem:
        """The item with this id (KeyError if there is none)."""
        return self._items[item_id]

    def owner(self, path: str) -> int | None:
        """The id of the item that downloads to ``path`` (normalized), if any."""
        return self._destinations.owner(path)

    def pending(self) -> list[DownloadItem]:
        """Queued items in the order they will be sent."""
        return [self._items[item_id] for item_id in self._pending[self._head :]]

    def pending_view(self) -> tuple[list[int], int, int]:
        """The queued ids in feed order as ``(ids, start, stop)``: ``ids[start:stop]``.

        O(1), no copy: the list is never changed in place again at or after
        ``start`` (edits copy it first; only appends go on), so the view stays
        exactly what the queue held when it was taken.
        """
        self._shared = True
        return self._pending, self._head, len(self._pending)

    def _live(self) -> list[int]:
        """The queued ids alone (sent ones dropped from the front), for an edit of the order."""
        if self._shared:
            self._pending = self._pending[self._head :]  # a new list; the view keeps the old
            self._shared = False
        elif self._head:
            del self._pending[: self._head]
        self._head = 0
        return self._pending

    def in_state(self, *states: ItemState) -> list[DownloadItem]:
        """Items in any of ``states``, in the order they were added."""
        return [item for item in self._items.values() if item.state in states]

    def counts(self) -> dict[ItemState, int]:
        """How many items are in each state (kept up to date, not counted)."""
        return dict(self._counts)

    @property
    def forgotten(self) -> Sequence[DownloadItem]:
        """Done items dropped by :meth:`forget`, oldest first (the report still counts them)."""
        return self._forgotten

    def report(self) -> StopReport:
        """What became of every item so far (done items include forgotten ones)."""
        done = self.in_state(ItemState.DONE)
        if self._forgotten:
            done = sorted([*self._forgotten, *done], key=lambda item: item.id)
        return StopReport(
            done=tuple(done),
            failed=tuple(self.in_state(ItemState.FAILED)),
            interrupted=tuple(self.in_state(ItemState.INTERRUPTED)),
            unsent=tuple(self.pending()),
            in_flight=tuple(self.in_state(ItemState.SENT)),
        )

    @property
    def paused(self) -> bool:
        """Whether feeding is paused (in-flight downloads go on)."""
        return self._paused

    @property
    def closed(self) -> bool:
        """Whether all input has been read: once nothing is pending, the run may end."""
        return self._closed

    def persist(self, item_ids: Collection[int] | None = None) -> None:
        """Have the observer (the journal) write every change now (or just these items')."""
        if self.observer is not None:
            self.observer.flush(only=item_ids)

    def changed(self) -> set[int]:
        """Ids of items changed since the last :meth:`take_dirty` (a copy; nothing taken)."""
        return set(self._dirty)

    def take_dirty(self) -> set[int]:
        """Ids of items changed since the last call (for a UI's timer-driven refresh).

        The observer (the journal) takes the changes first, in order, and writes
        them behind the screen (outcomes are written before the job reports them,
        and what is sent before git-annex has it: :meth:`persist`).
        """
        if self.observer is not None:
            self.observer.flush(wait=False)
        dirty, self._dirty = self._dirty, set()
        return dirty

    # -- adding and editing -----------------------------------------------------------

    def add(
        self,
        url: str,
        path: str,
        *,
        metadata: Mapping[str, Sequence[str]] | None = None,
        extra_urls: Sequence[str] = (),
        source: str | None = None,
        line: int = 0,
    ) -> DownloadItem:
        """Validate and queue one item at the end; raise ValidationError with the reason.

        ``source`` and ``line``: where it came from (see :attr:`DownloadItem.location`).
        """
        url = check_url(url, self.schemes)
        path = normalize_path(path)
        for extra in extra_urls:
            check_url(extra, self.schemes)
        item = self._enter(url, path, metadata, extra_urls, source, line)
        self._counts[ItemState.QUEUED] += 1
        self._wake()
        return item

    def _enter(
        self,
        url: str,
        path: str,
        metadata: Mapping[str, Sequence[str]] | None,
        extra_urls: Sequence[str],
        source: str | None,
        line: int,
    ) -> DownloadItem:
        """Queue an item whose URLs and path are checked (the path's claim is checked here)
        at the end. The caller counts it and wakes the feeder (once for many)."""
        folders = self._destinations.check(path)
        item_id = self._next_id
        item = DownloadItem(
            item_id,
            url,
            path,
            {name: list(values) for name, values in metadata.items()} if metadata else NO_METADATA,
            tuple(extra_urls),
            source,
            line,
        )
        self._next_id = item_id + 1
        self._items[item_id] = item
        self._destinations.claim(path, item_id, folders)
        self._pending.append(item_id)
        self.version += 1
        self._dirty.add(item_id)
        if self.observer is not None:
            self.observer.item_changed(item)
        return item

    def restore(
        self,
        url: str,
        path: str,
        *,
        metadata: Mapping[str, Sequence[str]] | None = None,
        extra_urls: Sequence[str] = (),
        source: str | None = None,
        attempts: int = 0,
        key: str | None = None,
        done: bool = False,
        first: bool = False,
    ) -> DownloadItem:
        """Queue an item carried over from an earlier run (validated as :meth:`add` does).

        ``done``: it was added already and only waits to be committed. ``first``:
        it goes to the front of the queue (it was in flight when that run ended).
        """
        item = self.add(url, path, metadata=metadata, extra_urls=extra_urls, source=source)
        item.attempts = attempts
        if done:
            self._live().pop()
            self._set_state(item, ItemState.DONE)
            item.key = key
            item.finished_at = time.time()
        elif first:
            pending = self._live()
            pending.pop()
            front = min(self._restored_first, len(pending))
            pending.insert(front, item.id)
            self._restored_first = front + 1
        self._changed(item.id)
        return item

    def mark_carried_done(self, item: DownloadItem, *, key: str | None) -> None:
        """Record that a queued item carried over from an earlier run is in the repository."""
        if item.state is not ItemState.QUEUED:
            raise ItemLocked(f"{item.path}: {locked_reason(item)}")
        self._live().remove(item.id)
        self._restored_first = max(self._restored_first - 1, 0)
        self._set_state(item, ItemState.DONE)
        item.key = key
        item.finished_at = time.time()
        self._changed(item.id)

    def validate(self, url: str, path: str, *, item_id: int | None = None) -> tuple[str, str]:
        """Check ``url`` and ``path`` as :meth:`add` would, without adding anything.

        With ``item_id``, check them as new values of that item (its own path is
        no conflict). Return the URL and the normalized path; raise ValidationError.
        """
        return check_url(url, self.schemes), self.check_path(path, item_id=item_id)

    def check_path(self, path: str, *, item_id: int | None = None) -> str:
        """Normalize ``path`` and check that it is free (ValidationError with the reason).

        With ``item_id``, that item's own path counts as free.
        """
        path = normalize_path(path)
        own = self._items.get(item_id) if item_id is not None else None
        if own is None or path != own.path:
            self._destinations.check(path)
        return path

    def add_records(
        self, records: Iterable[InputRecord | Rejection]
    ) -> tuple[list[DownloadItem], list[Rejection]]:
        """Add every usable record at the end (bulk add); return the added items and the refusals.

        A record without a path gets one derived from its URL, as input files do.
        Refused records (parse errors, or rejected by :meth:`add`) change nothing.
        """
        added: list[DownloadItem] = []
        refused: list[Rejection] = []
        for source, group in itertools.groupby(records, key=operator.attrgetter("source")):
            more, why = self.add_checked(check_batch(source, list(group), self.schemes))
            added += more
            refused += why
        refused.sort(key=lambda rejection: rejection.line)
        return added, refused

    def add_checked(self, batch: CheckedBatch) -> tuple[list[DownloadItem], list[Rejection]]:
        """Add records already checked (:func:`~tui_annex.checked.check_batch`) at the end;
        return the added items and the refusals, in line order (a CSV record over several
        lines comes after a line in it that is not UTF-8, refused on its own)."""
        refused = list(batch.refused)
        source, derived, extras, given = batch.source, batch.derived, batch.extras, batch.given_urls
        enter = self._enter
        added: list[DownloadItem] = []
        try:
            for index, (url, path, line) in enumerate(
                zip(batch.urls, batch.paths, batch.lines, strict=True)
            ):
                metadata, extra_urls = extras.get(index, NOTHING_EXTRA)
                try:
                    item = enter(url, path, metadata, extra_urls, source, line)
                except ValueError as error:  # the path is taken, or a folder of it
                    text = given.get(index, url)
                    why = refusal(source, line, text, path if derived[index] else None, error)
                    refused.append(why)
                else:
                    added.append(item)
        finally:
            if added:
                self._counts[ItemState.QUEUED] += len(added)
                self._wake()  # once for the lot: the feeder looks at the queue, not the items
        refused.sort(key=lambda rejection: rejection.line)
        return added, refused

    def edit(self, item_id: int, *, url: str | None = None, path: str | None = None) -> None:
        """Change a queued item's URL or path; nothing changes if the new values are rejected."""
        item = self._editable(item_id, "edited")
        new_url = item.url if url is None else check_url(url, self.schemes)
        new_path = item.path if path is None else normalize_path(path)
        if new_path != item.path:
            self._destinations.check(new_path)
            self._destinations.release(item.path)
            self._destinations.claim(new_path, item.id)
        item.url, item.path = new_url, new_path
        self._changed(item.id)

    def remove(self, item_ids: Iterable[int]) -> list[DownloadItem]:
        """Remove queued, failed or interrupted items; raise ItemLocked if any is in flight or done.

        All or nothing: if one item may not be removed, none is.
        """
        items = [self.get(item_id) for item_id in item_ids]
        for item in items:
            if not (item.state.editable or item.state.retryable):
                raise ItemLocked(f"{item.path}: {locked_reason(item)}; it cannot be removed")
        removed = {item.id for item in items}
        self._pending = [item_id for item_id in self._live() if item_id not in removed]
        for item in items:
            del self._items[item.id]
            self._resumes.discard(item.id)
            self._counts[item.state] -= 1
            self._destinations.release(item.path)
            if self.observer is not None:
                self.observer.item_removed(item)
            self._changed(item.id)
        return items

    def forget(self, item_ids: Iterable[int]) -> list[DownloadItem]:
        """Drop finished (done) items from the queue; others are left alone.

        Their files stay in the repository, their paths stay taken, and
        :meth:`report` still counts them as done (see :attr:`forgotten`).
        """
        dropped = []
        for item_id in list(item_ids):
            item = self._items.get(item_id)
            if item is not None and item.state is ItemState.DONE:
                del self._items[item_id]
                self._counts[item.state] -= 1
                self._forgotten.append(item)
                self._changed(item_id)
                dropped.append(item)
        return dropped

    # -- order ------------------------------------------------------------------------

    def place(self, item_id: int, position: int) -> None:
        """Put a queued item at ``position`` in the feed order (0 is sent next)."""
        self._editable(item_id, "moved")
        pending = self._live()
        pending.remove(item_id)
        pending.insert(max(0, min(position, len(pending))), item_id)
        self._reordered([item_id])

    def move_up(self, item_ids: Iterable[int]) -> None:
        """Move each selected queued item one place earlier in the feed order."""
        self._shift(item_ids, -1)

    def move_down(self, item_ids: Iterable[int]) -> None:
        """Move each selected queued item one place later in the feed order."""
        self._shift(item_ids, +1)

    def move_to_top(self, item_ids: Iterable[int]) -> None:
        """Send the selected queued items next, keeping their relative order."""
        chosen = self._pending_selection(item_ids)
        chosen_set = set(chosen)
        self._pending = chosen + [i for i in self._live() if i not in chosen_set]
        self._reordered(chosen)

    def move_to_bottom(self, item_ids: Iterable[int]) -> None:
        """Send the selected queued items last, keeping their relative order."""
        chosen = self._pending_selection(item_ids)
        chosen_set = set(chosen)
        self._pending = [i for i in self._live() if i not in chosen_set] + chosen
        self._reordered(chosen)

    def _shift(self, item_ids: Iterable[int], step: int) -> None:
        chosen = set(self._pending_selection(item_ids))
        order = self._live()
        indices = range(len(order)) if step < 0 else range(len(order) - 1, -1, -1)
        for index in indices:
            target = index + step
            if order[index] in chosen and 0 <= target < len(order) and order[target] not in chosen:
                order[index], order[target] = order[target], order[index]
        self._reordered(chosen)

    def _pending_selection(self, item_ids: Iterable[int]) -> list[int]:
        wanted = set(item_ids)
        for item_id in wanted:
            self._editable(item_id, "moved")
        return [item_id for item_id in self._live() if item_id in wanted]

    def _reordered(self, item_ids: Iterable[int]) -> None:
        self.version += 1
        self._dirty.update(item_ids)
        self._wake()

    # -- feeding ----------------------------------------------------------------------

    def pause(self) -> None:
        """Stop handing out items; in-flight downloads go on."""
        self._paused = True
        self._changed(None)

    def resume(self) -> None:
        """Hand out items again."""
        self._paused = False
        self._changed(None)

    def close(self) -> None:
        """Say that all input has been read."""
        self._closed = True
        self._changed(None)

    def reopen(self) -> None:
        """Expect more input again (e.g. items added from the keyboard)."""
        self._closed = False
        self._changed(None)

    def has_pending(self) -> bool:
        """Whether any item is queued (paused or not); O(1), unlike :meth:`pending`."""
        return len(self._pending) > self._head

    def has_ready(self) -> bool:
        """Whether :meth:`take_next` would return an item now."""
        return len(self._pending) > self._head and (not self._paused or bool(self._resumes))

    def has_resumes(self) -> bool:
        """Whether a download cut off by a restart of git-annex waits to go on."""
        return bool(self._resumes)

    def take_next(self, *, resumes_only: bool = False) -> DownloadItem | None:
        """Hand out the next queued item and lock it as sent, or None if none is ready.

        While paused (or with ``resumes_only``) only downloads cut off by a restart
        of git-annex go out, the first of them in feed order.
        """
        if self._paused or resumes_only:
            if not self._resumes:
                return None
            if self._pending[self._head] not in self._resumes:
                order = self._live()
                index = next(i for i, item_id in enumerate(order) if item_id in self._resumes)
                order.insert(0, order.pop(index))
        elif not self.has_ready():
            return None
        # O(1): the sent ids stay in front of the head until an edit (or a long run) drops them.
        item = self._items[self._pending[self._head]]
        self._head += 1
        if self._head >= 4096 and self._head * 2 >= len(self._pending):
            self._live()
        self._set_state(item, ItemState.SENT)
        item.attempts += 1
        item.sent_at = time.time()
        item._reset_progress()
        self._changed(item.id)
        return item

    def give_back(self, item: DownloadItem) -> None:
        """Return a taken item that never reached git-annex to the front of the queue."""
        if item.state is not ItemState.SENT:
            raise ItemLocked(f"{item.path}: only an item just taken can be given back")
        self._set_state(item, ItemState.QUEUED)
        item.attempts -= 1
        item.sent_at = None
        if self._head and not self._shared:
            self._head -= 1
            self._pending[self._head] = item.id
        else:
            self._live().insert(0, item.id)
        self._changed(item.id)

    def retry(self, item_ids: Iterable[int]) -> list[DownloadItem]:
        """Queue failed or interrupted items again, at the end; others are left alone."""
        retried = []
        for item_id in item_ids:
            item = self.get(item_id)
            if item.state.retryable:
                self._set_state(item, ItemState.QUEUED)
                item.errors = ()
                item.note = None
                item.finished_at = None
                item._reset_progress()
                self._pending.append(item.id)
                self._changed(item.id)
                retried.append(item)
        return retried

    def send_again_first(self, item_ids: Iterable[int]) -> list[DownloadItem]:
        """Queue downloads cut off by a restart of git-annex again at the front, to go on
        even while paused or draining; the attempt that was cut off (by the restart,
        not by the item) does not count against its retries."""
        again = self.put_back(item_ids)
        self._resumes.update(item.id for item in again)
        return again

    def interrupt_resumes(self) -> list[DownloadItem]:
        """The run ends before the downloads a restart cut off went out again: they are
        interrupted (they had started, and git-annex keeps their data for a resume),
        not never sent."""
        items = [self._items[item_id] for item_id in self._resumes if item_id in self._items]
        if not items:
            return []
        ids = {item.id for item in items}
        order = self._live()
        order[:] = [item_id for item_id in order if item_id not in ids]
        for item in items:
            item.attempts += 1  # the attempt the restart cut off, as for any interrupted item
            self.mark_interrupted(item)
        return items

    def put_back(self, item_ids: Iterable[int]) -> list[DownloadItem]:
        """Queue interrupted items again at the front, as if never sent: the attempt that
        was cut off does not count (a pause or a stop took back what had not started)."""
        again = self.retry(item_ids)
        for item in again:
            item.attempts = max(item.attempts - 1, 0)
        self.move_to_top(item.id for item in again)
        return again

    def retry_failed(self) -> list[DownloadItem]:
        """Queue every failed or interrupted item again."""
        return self.retry([item.id for item in self._items.values() if item.state.retryable])

    def mark_progress(self, item: DownloadItem, bytes_done: int, total: int | None) -> None:
        """Record a progress report for a sent item."""
        item.record_progress(bytes_done, total, time.monotonic())
        self._dirty.add(item.id)

    def mark_finished(
        self,
        item: DownloadItem,
        *,
        success: bool,
        key: str | None,
        errors: Sequence[str],
        note: str | None,
    ) -> None:
        """Record git-annex's answer for a sent item."""
        self._set_state(item, ItemState.DONE if success else ItemState.FAILED)
        item.key = key
        item.errors = tuple(errors)
        item.note = note
        item.rate = 0.0
        item.finished_at = time.time()
        if success and item.total is not None:
            item.bytes_done = item.total
        self._changed(item.id)

    def mark_interrupted(self, item: DownloadItem) -> None:
        """Record that a sent item's process was stopped before it answered."""
        self._set_state(item, ItemState.INTERRUPTED)
        item.rate = 0.0
        item.finished_at = time.time()
        self._changed(item.id)

    def wait_changed(self) -> asyncio.Future[None]:
        """A future done at the next change that may matter to the feeder.

        It is registered when this is called, not when it is first awaited: a
        coroutine wrapped in a task would register only once the task runs, and
        a change made in between (the queue closed by another task) would be
        missed, leaving the feeder asleep for good.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(future)
        future.add_done_callback(self._waiters.discard)
        return future

    # -- helpers ----------------------------------------------------------------------

    def _editable(self, item_id: int, verb: str) -> DownloadItem:
        item = self.get(item_id)
        if not item.state.editable:
            raise ItemLocked(f"{item.path}: {locked_reason(item)}; it cannot be {verb}")
        return item

    def _set_state(self, item: DownloadItem, state: ItemState) -> None:
        if item.state is ItemState.QUEUED:
            self._resumes.discard(item.id)
        self._counts[item.state] -= 1
        self._counts[state] += 1
        item.state = state

    def _changed(self, item_id: int | None) -> None:
        self.version += 1
        if item_id is not None:
            self._dirty.add(item_id)
            if self.observer is not None and item_id in self._items:
                self.observer.item_changed(self._items[item_id])
        self._wake()

    def _wake(self) -> None:
        for future in self._waiters:
            if not future.done():
                future.set_result(None)
