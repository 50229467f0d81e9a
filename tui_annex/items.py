"""What the queue holds: items, their states (and the run's), the end-of-run report, and
destination claims."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from .validation import ValidationError

__all__ = [
    "Destinations",
    "DownloadItem",
    "ItemLocked",
    "ItemState",
    "RunState",
    "StopReport",
    "grow_to",
    "locked_reason",
    "split_waiting",
]


class ItemState(StrEnum):
    """Where an item is in its life."""

    QUEUED = "queued"
    """Not yet sent: editable, movable, removable."""
    SENT = "sent"
    """Written to git-annex and not answered yet (in flight): locked."""
    DONE = "done"
    """Added to the repository."""
    FAILED = "failed"
    """git-annex reported a failure; can be retried."""
    INTERRUPTED = "interrupted"
    """In flight when git-annex was stopped; outcome unknown; can be retried."""

    # Hashed as its value, in C: the counts by state are updated for every item and
    # every report, and Enum's own hash is a Python call (0.36 against 0.15 us a count).
    __hash__ = str.__hash__

    @property
    def editable(self) -> bool:
        """Whether the item may still be edited or moved."""
        return self is ItemState.QUEUED

    @property
    def retryable(self) -> bool:
        """Whether the item may be queued again."""
        return self in (ItemState.FAILED, ItemState.INTERRUPTED)


class RunState(StrEnum):
    """What the session as a whole is doing."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DRAINING = "draining"
    STOPPING = "stopping"
    FINISHED = "finished"


class ItemLocked(ValueError):
    """An edit was asked of an item whose state does not allow it."""


#: The metadata of an item without any: one shared, read-only empty map (a million
#: items would otherwise hold a million empty dicts, 64 MB).
NO_METADATA: Mapping[str, list[str]] = MappingProxyType({})

#: Weight of the newest sample in the speed average.
_SPEED_SMOOTHING = 0.3

#: Seconds without data after which a download's speed reads 0 (a stalled server).
STALE_AFTER = 3.0


@dataclass(eq=False, slots=True)
class DownloadItem:
    """One URL to add at one path, with everything known about its progress."""

    id: int
    url: str
    path: str
    metadata: Mapping[str, list[str]] = field(default_factory=lambda: NO_METADATA)
    """git-annex metadata to set once added (read-only; most items share one empty map)."""
    extra_urls: tuple[str, ...] = ()
    source: str | None = None
    """Where the item came from: an input's name (with :attr:`line`), or a whole place
    such as ``urls.txt:12`` or ``typed``; see :attr:`location`."""
    line: int = 0
    """The line of :attr:`source` (0: none). Apart, so that a million items of one input
    share its name rather than each holding a ``name:line`` string (~45 MB)."""
    state: ItemState = ItemState.QUEUED
    bytes_done: int = 0
    total: int | None = None
    rate: float = 0.0
    """Bytes per second as of the last progress report, smoothed."""
    key: str | None = None
    errors: tuple[str, ...] = ()
    note: str | None = None
    attempts: int = 0
    sent_at: float | None = None
    finished_at: float | None = None
    existed: bool | None = None
    """Whether something was at the path when the item was sent (None: not sent yet)."""
    _last_sample: tuple[float, int] | None = field(default=None, repr=False)

    @property
    def location(self) -> str | None:
        """Where the item came from, e.g. ``urls.txt:12``; used in messages."""
        if self.line and self.source is not None:
            return f"{self.source}:{self.line}"
        return self.source

    @property
    def input_line(self) -> str:
        """The line ``addurl --batch --with-files`` reads for this item."""
        return f"{self.url} {self.path}"

    @property
    def speed(self) -> float:
        """Bytes per second now: the smoothed rate, or 0 once no data came for a while."""
        last = self.last_progress_at
        if last is not None and time.monotonic() - last > STALE_AFTER:
            return 0.0
        return self.rate

    @speed.setter
    def speed(self, value: float) -> None:
        self.rate = value

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed, when size and speed are known."""
        if self.total is None or self.speed <= 0 or self.state is not ItemState.SENT:
            return None
        return max(self.total - self.bytes_done, 0) / self.speed

    @property
    def all_in(self) -> bool:
        """Whether every byte of a download of known size is in: git-annex checksums and
        stores it now (silent, and not to be cut off: it could be left half-stored)."""
        return self.total is not None and self.bytes_done >= self.total

    @property
    def last_progress_at(self) -> float | None:
        """When (``time.monotonic()``) data last arrived, or None before any did."""
        return None if self._last_sample is None else self._last_sample[0]

    def record_progress(self, bytes_done: int, total: int | None, now: float) -> None:
        """Take a progress report and update the smoothed speed."""
        if self._last_sample is not None:
            then, before = self._last_sample
            elapsed = now - then
            if elapsed > 0 and bytes_done >= before:
                sample = (bytes_done - before) / elapsed
                self.rate = (
                    sample
                    if self.rate == 0
                    else self.rate + _SPEED_SMOOTHING * (sample - self.rate)
                )
        self._last_sample = (now, bytes_done)
        self.bytes_done = bytes_done
        if total is not None:
            self.total = total

    def _reset_progress(self) -> None:
        self.bytes_done = 0
        self.total = None
        self.rate = 0.0
        self._last_sample = None


@dataclass(frozen=True)
class StopReport:
    """What became of every item: added, failed, in flight at a forced stop, or never sent."""

    done: tuple[DownloadItem, ...]
    failed: tuple[DownloadItem, ...]
    interrupted: tuple[DownloadItem, ...]
    unsent: tuple[DownloadItem, ...]
    in_flight: tuple[DownloadItem, ...] = ()
    """Sent and not answered yet (only while a run is going on)."""

    @property
    def complete(self) -> bool:
        """Whether every item was added."""
        return not (self.failed or self.interrupted or self.unsent or self.in_flight)


class Destinations:
    """The destination paths items claim: unique, and no item's file is another's folder.

    Two concurrent downloads to one path leave the file inconsistent, and a
    path that is both a file and a folder fails in git-annex.
    """

    def __init__(self) -> None:
        self._paths: dict[str, int] = {}
        self._folders: dict[str, int] = {}

    def owner(self, path: str) -> int | None:
        """The id of the item that claimed ``path``, if any."""
        return self._paths.get(path)

    def check(self, path: str) -> list[str]:
        """Raise ValidationError if ``path`` cannot be claimed; return the folders it lies in."""
        owner = self._paths.get(path)
        if owner is not None:
            raise ValidationError(f"another item already downloads to {path!r}")
        if path in self._folders:
            raise ValidationError(f"{path!r} is a folder of another item's path")
        folders = _folders(path)
        for folder in folders:
            if folder in self._paths:
                raise ValidationError(
                    f"{folder!r} is another item's file, so it cannot be a folder"
                )
        return folders

    def claim(self, path: str, item_id: int, folders: list[str] | None = None) -> None:
        """Claim ``path`` (checked before; ``folders``: what the check returned) for ``item_id``."""
        self._paths[path] = item_id
        counts = self._folders
        for folder in _folders(path) if folders is None else folders:
            counts[folder] = counts.get(folder, 0) + 1

    def release(self, path: str) -> None:
        """Give ``path`` up."""
        del self._paths[path]
        for folder in _folders(path):
            left = self._folders[folder] - 1
            if left:
                self._folders[folder] = left
            else:
                del self._folders[folder]


def _folders(path: str) -> list[str]:
    """The folders ``path`` lies in, outermost first (``a/b/c`` -> ``a``, ``a/b``)."""
    found = []
    slash = path.find("/")
    while slash != -1:
        found.append(path[:slash])
        slash = path.find("/", slash + 1)
    return found


def grow_to(flags: bytearray, index: int) -> None:
    """Make ``flags`` (a byte per item id) long enough to hold ``index``; it at least
    doubles, so that filling it id by id costs linear time."""
    if index >= len(flags):
        flags.extend(bytes(max(index + 1 - len(flags), len(flags))))


def split_waiting(
    sent: Iterable[DownloadItem], jobs: int
) -> tuple[list[DownloadItem], list[DownloadItem]]:
    """The items in flight that have no byte yet, in the order they were sent, split in
    two: those git-annex may have started and those it surely has not.

    git-annex -J ``jobs`` takes items in the order they were written. Downloads
    with data hold jobs; the first items without data take the free ones
    (connecting, or waiting for a slow server's first byte); the rest wait in
    its input, not started: they can go back to the queue without loss.
    """
    waiting: list[DownloadItem] = []
    busy = 0
    for item in sent:
        if item.last_progress_at is None:
            waiting.append(item)
        else:
            busy += 1
    free = max(jobs - busy, 0)
    return waiting[:free], waiting[free:]


def locked_reason(item: DownloadItem) -> str:
    """Why ``item`` may not be edited, in words."""
    return {
        ItemState.SENT: "already sent to git-annex",
        ItemState.DONE: "already added",
        ItemState.FAILED: "it failed (retry it first)",
        ItemState.INTERRUPTED: "it was interrupted (retry it first)",
    }.get(item.state, item.state.value)
