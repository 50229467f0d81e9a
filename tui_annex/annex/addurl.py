"""The addurl driver: feeds a :class:`DownloadQueue` to ``git annex addurl --batch``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import stat
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from ..defaults import DEFAULT_GRACE
from ..events import (
    Event,
    ItemFinished,
    ItemInterrupted,
    ItemProgress,
    ItemSent,
    LogLevel,
    LogLine,
    ProcessExited,
    ProcessStarted,
)
from ..items import DownloadItem
from ..queue import DownloadQueue
from ..streams import merge
from .batch import BatchInputClosed, BatchProcess
from .locate import GitAnnex

__all__ = ["ADDURL_ARGS", "AddurlDriver", "classify_stderr"]

ADDURL_ARGS = (
    "--batch",
    "--with-files",
    "--json",
    "--json-error-messages",
    "--json-progress",
)

#: Options that would break the batch protocol the driver speaks.
_RESERVED = {
    "--batch",
    "--batch-keys",
    "--with-files",
    "--json",
    "--json-progress",
    "--json-error-messages",
    "-z",
    "--file",
    "--pathdepth",
    "--prefix",
    "--suffix",
    # These change what git-annex prints, which the driver reads.
    "--quiet",
    "-q",
    "--json-exceptions",
    # The number of jobs is -J's: the window and the stall watchdog count on it.
    "-J",
    "--jobs",
}

#: The time-measured lookahead grows to this many times its floor at most.
MAX_GROWTH = 4


class _ReaderDone:
    """Marks the end of the child's output inside the driver's merged stream."""


def classify_stderr(text: str) -> LogLevel:
    """Guess how serious a stderr line of git-annex is."""
    lowered = text.lower()
    if any(word in lowered for word in ("error", "failed", "fatal", "git-annex:")):
        return "error"
    if any(word in lowered for word in ("warning", "not ", "unable", "cannot", "retrying")):
        return "warning"
    return "info"


class AddurlDriver:
    """Runs one ``git annex addurl --batch`` process over a queue and yields its events.

    Items are written while fewer than a window (``jobs`` plus a lookahead)
    are in flight, so everything not yet sent stays editable in the queue; the
    window is refilled once half the lookahead (at least one) is free.

    With ``ahead`` seconds, the lookahead is measured in time: git-annex holds as
    many waiting items as it answered in the last ``ahead`` seconds (``lookahead``
    at least, :data:`MAX_GROWTH` times that at most). Each small file spends about
    0.1 s inside git-annex whatever the load, so a lookahead of a few items leaves
    its jobs idle between answers (a fifth of the time at ``-J4``); the bound keeps
    what a run of small files measured from handing git-annex a crowd of the big
    files after them, which would stay locked from editing for minutes.
    Answers are matched to items by their ``input`` field. One call of
    :meth:`run` is one process: it ends when the queue is closed and empty, on
    :meth:`stop`, or when the child dies.
    """

    def __init__(
        self,
        queue: DownloadQueue,
        repo: str | os.PathLike[str],
        *,
        git_annex: GitAnnex,
        jobs: int,
        lookahead: int = 2,
        ahead: float = 0.0,
        options: Sequence[str] = (),
        grace: float = DEFAULT_GRACE,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        reserved = [
            opt
            for opt in options
            if opt.split("=", 1)[0] in _RESERVED or (opt.startswith("-J") and opt[2:].isdigit())
        ]
        if reserved:
            raise ValueError(f"these addurl options are managed by tui-annex: {' '.join(reserved)}")
        self.queue = queue
        self.repo = repo
        self.git_annex = git_annex
        self.jobs = jobs
        self.lookahead = max(lookahead, 0)
        self.ahead = max(ahead, 0.0)
        self._answered: deque[float] = deque()
        """When (``time.monotonic()``) git-annex answered, over the last ``ahead`` seconds."""
        self._fed_at: float | None = None
        self._folders: dict[str, float] = {}
        self.options = tuple(options)
        self.grace = grace
        self.in_flight: dict[str, DownloadItem] = {}
        self.last_answer_at = 0.0
        """When (``time.time()``) git-annex last answered for an item: a job came free."""
        self._stopping = asyncio.Event()
        self._draining = False
        self._waiter: asyncio.Future[None] | None = None
        """What the feeder sleeps on: the queue's next change, or a stop (no task each time)."""
        self._forced = False
        self._input_closed = False
        self._process: BatchProcess | None = None
        self._terminator: asyncio.Task[int] | None = None

    def _lookahead_now(self) -> int:
        """How many items git-annex may hold beyond its jobs now."""
        if not self.ahead or self._fed_at is None:
            return self.lookahead
        now = time.monotonic()
        answered = self._answered
        while answered and answered[0] < now - self.ahead:
            answered.popleft()
        # A run younger than ``ahead`` has answered for a part of it: scale up (by 2 at
        # most, so that a few quick answers at the start do not send a crowd).
        age = now - self._fed_at
        scale = self.ahead / max(age, self.ahead / 2) if age < self.ahead else 1.0
        measured = math.ceil(len(answered) * scale)
        return min(max(self.lookahead, measured), max(1, self.lookahead) * MAX_GROWTH)

    @property
    def argv(self) -> list[str]:
        """The command line of the child."""
        return self.git_annex.argv("addurl", *ADDURL_ARGS, "-J", str(self.jobs), *self.options)

    @property
    def forced(self) -> bool:
        """Whether a forced stop was asked for."""
        return self._forced

    @property
    def stopping(self) -> bool:
        """Whether a forced stop was asked for, or the input is over (no item will go out)."""
        return self._stopping.is_set()

    def stop(self, *, force: bool = False) -> None:
        """Stop feeding. Graceful: in-flight items finish (and downloads a restart cut off
        go on); the input closes once none is left, so :meth:`carry_on` may take the
        stop back until then. Forced: terminate git-annex now."""
        if not force:
            self._draining = True
            self._poke()
            return
        self._stopping.set()
        self._poke()
        if not self._forced:
            self._forced = True
            if self._process is not None and self._process.returncode is None:
                self._terminator = asyncio.create_task(self._process.terminate())

    def carry_on(self) -> bool:
        """Take a graceful stop back: feed the queue again. False once the input is closed
        (or after a forced stop): the process is on its way out."""
        if self._forced or self._input_closed or self._stopping.is_set():
            return False
        self._draining = False
        self._poke()
        return True

    def _poke(self) -> None:
        """Wake the feeder to look again (a stop, or a stop taken back)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def run(self) -> AsyncGenerator[Event, None]:
        """Start git-annex, feed it, and yield every event until it has exited.

        However the run ends (even when the consumer stops early or is
        cancelled), items still in flight are marked interrupted.
        """
        try:
            async with BatchProcess(
                self.argv, cwd=self.repo, env=self.git_annex.annex_env(), grace=self.grace
            ) as process:
                self._process = process
                if self._forced:
                    self._terminator = asyncio.create_task(process.terminate())
                yield ProcessStarted(pid=process.pid, argv=tuple(self.argv))
                async with contextlib.aclosing(
                    merge(self._feed(process), self._read(process))
                ) as events:
                    async for event in events:
                        if isinstance(event, _ReaderDone):
                            break
                        yield event
                returncode = await process.wait()
                if self._terminator is not None:
                    await self._terminator
        finally:
            left = list(self.in_flight.values())
            self.in_flight.clear()
            for item in left:
                self.queue.mark_interrupted(item)
        for item in left:
            yield ItemInterrupted(item_id=item.id, url=item.url, path=item.path)
        # Dying before its input ended is unexpected; so is a death by signal or an odd
        # status after it (1 only says that some item failed).
        unexpected = not self._forced and (not self._input_closed or returncode not in (0, 1))
        yield ProcessExited(
            returncode=returncode, forced=self._forced, unexpected=unexpected, pid=process.pid
        )

    async def _feed(self, process: BatchProcess) -> AsyncIterator[Event]:
        queue = self.queue
        repo = os.fspath(self.repo)
        while not self._stopping.is_set():
            draining = self._draining
            ready = queue.has_resumes() if draining else queue.has_ready()
            lookahead = self._lookahead_now()
            window = self.jobs + lookahead
            # Refilled once half the lookahead is free, not at every answer: one write per
            # few items, and git-annex still holds more than its jobs can start.
            if ready and window - len(self.in_flight) >= max(1, lookahead // 2):
                if self._fed_at is None:
                    self._fed_at = time.monotonic()
                batch: list[DownloadItem] = []
                while len(self.in_flight) + len(batch) < window:
                    item = queue.take_next(resumes_only=draining)
                    if item is None:
                        break
                    blocked = blocked_by_tree(repo, item.path, self._folders)
                    if blocked is not None:
                        # Sent, git's check-attr helper would die and fail every later item.
                        errors = (blocked,)
                        queue.mark_finished(item, success=False, key=None, errors=errors, note=None)
                        yield ItemFinished(
                            item_id=item.id,
                            url=item.url,
                            path=item.path,
                            success=False,
                            errors=errors,
                        )
                        continue
                    # What git-annex leaves at a path it never answered for is its own
                    # work only if nothing was there before (see recovery).
                    item.existed = os.access(
                        f"{repo}/{item.path}", os.F_OK, follow_symlinks=False
                    )  # as os.path.lexists, without raising inside for a missing path
                    batch.append(item)
                # The journal holds them as sent (and what was at their paths) before
                # git-annex has them: one write for the batch, of the batch alone.
                queue.persist([item.id for item in batch])
                lines = [item.input_line for item in batch]
                for line, item in zip(lines, batch, strict=True):
                    self.in_flight[line] = item
                try:
                    await process.send_many(lines)  # one write for the batch
                except BatchInputClosed:
                    for line in lines:
                        del self.in_flight[line]
                    for unsent in reversed(batch):
                        queue.give_back(unsent)
                    return
                for item in batch:
                    yield ItemSent(
                        item_id=item.id, url=item.url, path=item.path, attempt=item.attempts
                    )
                continue
            if queue.closed and not queue.has_pending():
                break
            if draining and not self.in_flight and not queue.has_resumes():
                break
            await self._wait_for_work()
        self._input_closed = True
        await process.close_input()

    async def _wait_for_work(self) -> None:
        # One future, woken by the queue or by _poke: a wait per answer must be cheap.
        self._waiter = self.queue.wait_changed()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _read(self, process: BatchProcess) -> AsyncIterator[Event | _ReaderDone]:
        async for line in process.output():
            if line.stream == "stderr":
                if line.text.strip():
                    yield LogLine(source="stderr", level=classify_stderr(line.text), text=line.text)
                continue
            event = self._parse(line.text)
            if event is not None:
                yield event
        yield _ReaderDone()

    def _parse(self, text: str) -> Event | None:
        """Turn one stdout line into an event; anything unexpected becomes a log line."""
        fast = _PROGRESS.fullmatch(text)
        if fast is not None:
            # Most lines are progress, in git-annex's own layout: read without a JSON parse.
            item = self.in_flight.get(fast[1])
            if item is None:
                return None
            done = int(fast[2])
            total = int(fast[3]) if fast[3] is not None else None
            self.queue.mark_progress(item, done, total)
            return ItemProgress(
                item_id=item.id, url=item.url, path=item.path, bytes_done=done, total=total
            )
        if not text.strip():
            return None
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            return LogLine(source="stdout", level="warning", text=text)
        if "byte-progress" in record:
            action = record.get("action")
            item = self._match(action.get("input") if isinstance(action, dict) else None)
            if item is None:
                return None  # progress of an item we no longer wait for
            done = _as_int(record.get("byte-progress")) or 0
            total = _as_int(record.get("total-size"))
            self.queue.mark_progress(item, done, total)
            return ItemProgress(
                item_id=item.id, url=item.url, path=item.path, bytes_done=done, total=total
            )
        if "success" in record:
            self.last_answer_at = time.time()
            if self.ahead:
                self._answered.append(time.monotonic())
            found = self._match(record.get("input"), pop=True)
            if found is None:
                return LogLine(source="stdout", level="warning", text=f"unmatched answer: {text}")
            errors = tuple(str(m) for m in record.get("error-messages") or () if str(m).strip())
            success = record.get("success") is True
            if not success and not errors:
                errors = ("git-annex reported a failure without a message",)
            key = record.get("key") if isinstance(record.get("key"), str) else None
            note = record.get("note") if isinstance(record.get("note"), str) else None
            self.queue.mark_finished(found, success=success, key=key, errors=errors, note=note)
            return ItemFinished(
                item_id=found.id,
                url=found.url,
                path=found.path,
                success=success,
                key=key,
                errors=errors,
                note=note,
            )
        return LogLine(source="stdout", level="info", text=text)

    def _match(self, inputs: Any, *, pop: bool = False) -> DownloadItem | None:
        if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], str):
            return None
        if pop:
            return self.in_flight.pop(inputs[0], None)
        return self.in_flight.get(inputs[0])


#: A progress line as git-annex writes it, with no escapes in its file and input (any
#: other line, or one with escapes, is parsed as JSON).
_PROGRESS = re.compile(
    r'\{"action":\{"command":"addurl","file":"[^"\\]*","input":\["([^"\\]*)"\]\},'
    r'"byte-progress":(0|[1-9][0-9]{0,17}),"percent-progress":"[^"\\]*"'
    r'(?:,"total-size":(0|[1-9][0-9]{0,17}))?\}'
)  # numbers as JSON writes them, short enough for int() (longer ones: the JSON path)


def blocked_by_tree(
    repo: str | os.PathLike[str], path: str, folders: dict[str, float] | None = None
) -> str | None:
    """Why ``path`` cannot be created in the working tree, or None.

    A parent that exists as a file or a symlink (an annexed file is a symlink)
    makes git refuse the path, which kills git-annex's helper for the whole batch.
    ``folders`` remembers for a second the folders found fine (real ones, or not
    there yet), by their ``time.monotonic()``: a download into one costs no lookup.
    """
    parts = path.split("/")
    if len(parts) == 1:
        return None
    now = time.monotonic() if folders is not None else 0.0
    top = os.fspath(repo)
    parent = "/".join(parts[:-1])
    if folders is not None and now - folders.get(parent, -_FOLDER_MEMORY) < _FOLDER_MEMORY:
        return None
    folder = top
    for depth, part in enumerate(parts[:-1], start=1):
        folder = f"{folder}/{part}"
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            break  # created by git-annex as needed
        except OSError as error:
            return f"{'/'.join(parts[:depth])}: {error.strerror}"
        if not stat.S_ISDIR(mode):
            kind = "a symlink" if stat.S_ISLNK(mode) else "a file"
            return f"{'/'.join(parts[:depth])} is {kind} in the repository, not a folder"
    if folders is not None:
        if len(folders) > 4096:
            folders.clear()
        folders[parent] = now
    return None


#: How long (seconds) a folder found real is taken as one without looking again.
_FOLDER_MEMORY = 1.0


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
