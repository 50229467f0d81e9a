"""What the app needs of a job and its session (the real :class:`~tui_annex.job.Job`, or a fake)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from ..events import Event, InputRejected
from ..items import RunState
from ..queue import DownloadQueue

__all__ = ["JobLike", "SessionLike"]


class SessionLike(Protocol):
    """The part of :class:`tui_annex.session.Session` the app reads."""

    @property
    def state(self) -> RunState: ...


class JobLike(Protocol):
    """What the app needs of :class:`tui_annex.job.Job` (tests pass a fake with this shape)."""

    @property
    def session(self) -> SessionLike: ...
    @property
    def queue(self) -> DownloadQueue: ...
    @property
    def rejected(self) -> Sequence[InputRejected]: ...
    @property
    def interrupted(self) -> bool: ...
    def run(self) -> AsyncGenerator[Event, None]: ...
    def end(self) -> None: ...
    def choose_resume(self, choice: str) -> None: ...
    def interrupt(self) -> None: ...
    def stop(self, *, force: bool = False) -> None: ...
    def close(self) -> None: ...
