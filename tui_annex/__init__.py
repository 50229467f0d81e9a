"""tui-annex: a terminal download manager for git-annex repositories.

The engine is usable as a library: build a :class:`Session`, add items to its
:class:`DownloadQueue`, and iterate :meth:`Session.events`.
"""

from .annex import GitAnnex, GitAnnexNotFound, RepoError, find_git_annex
from .events import (
    Event,
    ItemEvent,
    ItemFinished,
    ItemInterrupted,
    ItemProgress,
    ItemSent,
    LogLine,
    ProcessExited,
    ProcessStarted,
)
from .items import DownloadItem, ItemLocked, ItemState, StopReport
from .queue import DownloadQueue
from .session import RunState, Session, download
from .validation import ValidationError

__version__ = "0.1.0"

__all__ = [
    "DownloadItem",
    "DownloadQueue",
    "Event",
    "GitAnnex",
    "GitAnnexNotFound",
    "ItemEvent",
    "ItemFinished",
    "ItemInterrupted",
    "ItemLocked",
    "ItemProgress",
    "ItemSent",
    "ItemState",
    "LogLine",
    "ProcessExited",
    "ProcessStarted",
    "RepoError",
    "RunState",
    "Session",
    "StopReport",
    "ValidationError",
    "__version__",
    "download",
    "find_git_annex",
]
