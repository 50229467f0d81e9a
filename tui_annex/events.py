"""The typed events of a download session: frozen dataclasses, one stream for every front end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

LogSource = Literal["stderr", "stdout", "app"]
LogLevel = Literal["info", "warning", "error"]

__all__ = [
    "Event",
    "InputRejected",
    "ItemEvent",
    "ItemFinished",
    "ItemInterrupted",
    "ItemProgress",
    "ItemSent",
    "LogLevel",
    "LogLine",
    "LogSource",
    "ProcessExited",
    "ProcessStarted",
    "RoundFinished",
    "RoundStarted",
]


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; ``time`` is when it happened (seconds since the epoch)."""

    time: float = field(default_factory=_now, compare=False)

    @property
    def kind(self) -> str:
        """A short name for the event, used in JSON output."""
        return _KINDS[type(self)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemEvent(Event):
    """An event about one queued item."""

    item_id: int
    url: str
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemSent(ItemEvent):
    """The item was written to git-annex; from now on it cannot be edited."""

    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemProgress(ItemEvent):
    """Bytes downloaded so far; ``total`` is None while the size is unknown."""

    bytes_done: int
    total: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFinished(ItemEvent):
    """git-annex answered for the item: added (``success``) or failed, with its messages."""

    success: bool
    key: str | None = None
    errors: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemInterrupted(ItemEvent):
    """The item was in flight when git-annex was stopped; its outcome is unknown."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine(Event):
    """A line for the log: git-annex's stderr, a stray stdout line, or the app's own message."""

    source: LogSource
    level: LogLevel
    text: str
    item_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessStarted(Event):
    """A ``git annex`` batch process started."""

    pid: int
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessExited(Event):
    """The batch process exited.

    ``forced`` when it was terminated rather than drained; ``unexpected`` when it
    quit on its own before its input was closed (a crash, or a fatal error).
    """

    returncode: int
    forced: bool
    unexpected: bool = False
    pid: int = 0
    """The process id of the batch process that exited."""


_KINDS: dict[type[Event], str] = {
    Event: "event",
    ItemEvent: "item",
    ItemSent: "sent",
    ItemProgress: "progress",
    ItemFinished: "finished",
    ItemInterrupted: "interrupted",
    LogLine: "log",
    ProcessStarted: "started",
    ProcessExited: "exited",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InputRejected(Event):
    """An input record was refused before anything was sent: where it was, and why."""

    source: str
    line: int
    reason: str
    text: str = ""

    @property
    def location(self) -> str:
        """``file:line`` of the rejected record."""
        return f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundStarted(Event):
    """A job's round began: the first over the input, later ones for items queued again."""

    round: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundFinished(Event):
    """A job's round is over: every item sent has an answer, the commit (if any) is made.

    ``exit_code``: 0 all added, 1 some failed or unsent, 2 no valid input, 130 interrupted.
    """

    done: int
    failed: int
    interrupted: int
    unsent: int
    rejected: int
    committed: str | None = None
    """The commit made for this round's files, if one was made."""
    committed_files: int = 0
    """How many files that commit holds (done files already in HEAD are not in it)."""
    commit_error: str | None = None
    """Why the commit failed (the files stay staged), if it did."""
    already_added: int = 0
    """Input records that earlier runs had added (not downloaded again)."""
    exit_code: int = 0


_KINDS[InputRejected] = "rejected"
_KINDS[RoundFinished] = "round-finished"
_KINDS[RoundStarted] = "round-started"
