"""What the app needs of a job and its session (the real :class:`~tui_annex.job.Job`, or a fake),
and where the app's run stands."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..events import Event, InputRejected, RoundFinished
from ..items import RunState
from ..queue import DownloadQueue

__all__ = ["JobLike", "RunStatus", "SessionLike"]


class SessionLike(Protocol):
    """The part of :class:`tui_annex.session.Session` the app reads."""

    @property
    def state(self) -> RunState: ...
    def not_started(self) -> Collection[int]: ...


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
    def exit_code(self) -> int: ...
    @property
    def log_path(self) -> Path | None: ...
    def run(self) -> AsyncGenerator[Event, None]: ...
    def end(self) -> None: ...
    def choose_resume(self, choice: str) -> None: ...
    def interrupt(self) -> None: ...
    def cancel(self, item_id: int) -> bool: ...
    def carry_on(self) -> bool: ...
    def pause(self) -> None: ...
    def unpause(self) -> None: ...
    def stop(self, *, force: bool = False) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunStatus:
    """Where the app's run stands: written by the app, read by the queue screen."""

    running: bool = False
    """A round is under way."""
    stop_presses: int = 0
    """How often the user asked to stop (ctrl+c, ctrl+q) while a round ran."""
    quitting: bool = False
    """The app quits once the round has ended."""
    error: str | None = None
    """The job ended with an error (shown, and printed after exit)."""
    round: RoundFinished | None = None
    """The last round's report."""
    commits: list[str] = field(default_factory=list)
    """The commits the job's rounds made, oldest first."""
    committed_files: int = 0
    """How many files the commits hold, all rounds together."""
    commit_error: str | None = None
    """Why the last round's commit failed (its files stay staged), if it did."""
    started_at: float | None = None
    """When (``time.monotonic()``) the current (or last) round started."""
    ended_at: float | None = None
    """When the last round ended (None while one runs)."""
    earlier: float = 0.0
    """Seconds the earlier rounds took (the time between rounds is not the run's)."""

    def start_round(self, now: float) -> None:
        """A round starts: count the last one's time in :attr:`earlier`."""
        if self.started_at is not None and self.ended_at is not None:
            self.earlier += self.ended_at - self.started_at
        self.started_at, self.ended_at = now, None

    @property
    def round_elapsed(self) -> float | None:
        """Seconds the current (or last) round took (or has taken so far)."""
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None else time.monotonic()) - self.started_at

    @property
    def elapsed(self) -> float | None:
        """Seconds spent in rounds, all of them (idle time between rounds left out)."""
        current = self.round_elapsed
        return None if current is None else self.earlier + current

    @property
    def over(self) -> bool:
        """No round runs and one has ended (or the job failed)."""
        return not self.running and (self.round is not None or self.error is not None)
