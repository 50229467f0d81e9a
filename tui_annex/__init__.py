"""tui-annex: a terminal download manager for git-annex repositories.

The engine is usable as a library: build a :class:`Session`, add items to its
:class:`DownloadQueue`, and iterate :meth:`Session.events`.
"""

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
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

# The public names are imported when first used: a reader process (loader.py) or a
# ``--help`` does not pay for the engine's imports.
_WHERE = {
    "DownloadItem": "items",
    "DownloadQueue": "queue",
    "Event": "events",
    "GitAnnex": "annex",
    "GitAnnexNotFound": "annex",
    "ItemEvent": "events",
    "ItemFinished": "events",
    "ItemInterrupted": "events",
    "ItemLocked": "items",
    "ItemProgress": "events",
    "ItemSent": "events",
    "ItemState": "items",
    "LogLine": "events",
    "ProcessExited": "events",
    "ProcessStarted": "events",
    "RepoError": "annex",
    "RunState": "session",
    "Session": "session",
    "StopReport": "items",
    "ValidationError": "validation",
    "download": "session",
    "find_git_annex": "annex",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and so every name's type
    __getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
