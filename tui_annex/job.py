"""One run of tui-annex: inputs in, downloads, metadata, commit, failures file, log file.

Both front ends (``--no-ui`` and the Textual app) consume :meth:`Job.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import BinaryIO, TextIO

from .annex.annotate import Annotator
from .annex.repo import GitError, Repo
from .events import (
    Event,
    InputRejected,
    ItemFinished,
    ItemProgress,
    LogLine,
    RoundFinished,
)
from .inputs import InputRecord, Rejection, read_records
from .options import RunOptions
from .queue import DownloadItem, DownloadQueue
from .session import Session
from .streams import merge

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "Job", "describe"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Job:
    """Reads the inputs into the queue, drives the :class:`Session`, applies metadata and
    extra URLs, commits the round's files and writes the failures file.

    :meth:`events` may be called again once it has ended (after a retry, or
    items added by the user): each call is a round with its own commit.
    """

    def __init__(self, options: RunOptions, *, stdin: BinaryIO | None = None) -> None:
        self.options = options
        self.session = Session(
            options.repo,
            git_annex=options.git_annex,
            jobs=options.jobs,
            addurl_options=options.addurl_options,
            schemes=options.schemes,
            create=options.create,
            grace=options.grace,
            stall_timeout=options.stall_timeout,
        )
        self.rejected: list[InputRejected] = []
        self.records_read = 0
        self.input_errors = 0
        self.annotation_failures = 0
        self.last_round: RoundFinished | None = None
        self._stdin = stdin
        self._inputs_started = False
        self._interrupts = 0
        self._log: TextIO | None = None

    @property
    def queue(self) -> DownloadQueue:
        """The session's queue."""
        return self.session.queue

    @property
    def interrupted(self) -> bool:
        """Whether the user asked to stop."""
        return self._interrupts > 0

    def interrupt(self) -> None:
        """First call: graceful stop (in-flight downloads finish). Second: forced stop."""
        self._interrupts += 1
        self.session.stop(force=self._interrupts >= 2)

    def stop(self, *, force: bool = False) -> None:
        """Stop now: gracefully, or forced (as a second interrupt)."""
        self._interrupts = max(self._interrupts + 1, 2 if force else 1)
        self.session.stop(force=force)

    # -- the run ----------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[Event, None]:
        """Run one round and yield every event; the last one is :class:`RoundFinished`."""
        repo = await self.session.open()
        self._open_log()
        # report().done also holds the done items the user cleared from the view (forget).
        done_before = {item.id for item in self.queue.report().done}
        annotator = Annotator(repo)
        notices: asyncio.Queue[Event | None] = asyncio.Queue()
        reader: asyncio.Task[None] | None = None
        if not self._inputs_started:
            self._inputs_started = True
            reader = asyncio.create_task(self._read_inputs(notices))
        else:
            # A later round (retries, items added by hand): an earlier stop is over.
            self._interrupts = 0
            self.session.resume()
            self.queue.close()

        async def run_session() -> AsyncIterator[Event]:
            try:
                async with contextlib.aclosing(self.session.events()) as events:
                    async for event in events:
                        yield event
                        if isinstance(event, ItemFinished) and event.success:
                            warning = await annotator.submit(self.queue.get(event.item_id))
                            if warning is not None:
                                yield warning
                        elif isinstance(event, ItemFinished):
                            retry = self._retry(event)
                            if retry is not None:
                                yield retry
            finally:
                annotator.close()
                if reader is not None and not reader.done():
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
                    yield LogLine(
                        source="app",
                        level="warning",
                        text="stopped before the whole input was read; "
                        f"{self.records_read} record(s) were read",
                    )
                notices.put_nowait(None)

        async def drain_notices() -> AsyncIterator[Event]:
            while (notice := await notices.get()) is not None:
                yield notice

        async with contextlib.aclosing(
            merge(run_session(), drain_notices(), annotator.events())
        ) as stream:
            async for event in stream:
                self._write_log(event)
                yield event
        self.annotation_failures += annotator.failed
        finished = await self._finish_round(repo, done_before)
        self._write_log(finished)
        self.last_round = finished
        yield finished

    async def _read_inputs(self, notices: asyncio.Queue[Event | None]) -> None:
        """Stream every input into the queue; rejections go to ``notices``."""
        options = self.options
        name = "input"
        try:
            for name in options.inputs:
                records = read_records(
                    name,
                    input_format=options.input_format,
                    url_column=options.url_column,
                    path_column=options.path_column,
                    metadata_columns=options.metadata_columns,
                    stdin=self._stdin,
                )
                async with contextlib.aclosing(records):
                    async for record in records:
                        rejection = record if isinstance(record, Rejection) else self._add(record)
                        if rejection is not None:
                            event = InputRejected(
                                source=rejection.source,
                                line=rejection.line,
                                reason=rejection.reason,
                                text=rejection.text,
                            )
                            self.rejected.append(event)
                            notices.put_nowait(event)
        except OSError as error:
            self._input_failed(str(error.filename or name), str(error), notices)
        except Exception as error:
            self._input_failed(name, f"reading stopped: {type(error).__name__}: {error}", notices)
        finally:
            self.queue.close()

    def _input_failed(self, source: str, reason: str, notices: asyncio.Queue[Event | None]) -> None:
        """Reading an input failed part-way: say so, and let the run end as failed."""
        self.input_errors += 1
        event = InputRejected(source=source, line=0, reason=reason)
        self.rejected.append(event)
        notices.put_nowait(event)

    def _add(self, record: InputRecord) -> Rejection | None:
        self.records_read += 1
        _added, refused = self.queue.add_records([record])
        return refused[0] if refused else None

    def _retry(self, event: ItemFinished) -> LogLine | None:
        """Queue a failed item again while it has retries left (not after a stop)."""
        item = self.queue.get(event.item_id)
        if item.attempts > self.options.retries or self.session.stop_requested:
            return None
        self.queue.retry([item.id])
        return LogLine(
            source="app",
            level="warning",
            text=f"{item.path}: retrying ({item.attempts} of {self.options.retries} retries)",
            item_id=item.id,
        )

    # -- the end of a round -----------------------------------------------------------

    async def _finish_round(self, repo: Repo, done_before: set[int]) -> RoundFinished:
        report = self.queue.report()
        added = [item.path for item in report.done if item.id not in done_before]
        committed: str | None = None
        problems = bool(report.failed or report.interrupted or report.unsent)
        if self.options.commit and added and (self.options.commit_on_failure or not problems):
            message = self.options.message.replace("{count}", str(len(added)))
            try:
                committed = await repo.commit(added, message)
            except GitError as error:
                self._write_log(LogLine(source="app", level="error", text=f"commit: {error}"))
        if self.options.failures is not None:
            write_failures(
                self.options.failures, [*report.failed, *report.interrupted, *report.unsent]
            )
        if self.interrupted:
            code = EXIT_INTERRUPTED
        elif not len(self.queue) and not self.queue.forgotten:
            code = EXIT_USAGE
        elif problems or self.rejected or self.annotation_failures:
            code = EXIT_FAILED
        else:
            code = EXIT_OK
        return RoundFinished(
            done=len(report.done),
            failed=len(report.failed),
            interrupted=len(report.interrupted),
            unsent=len(report.unsent),
            rejected=len(self.rejected),
            committed=committed,
            exit_code=code,
        )

    # -- the log file -----------------------------------------------------------------

    def _open_log(self) -> None:
        path = self.options.log_file
        if path is None or self._log is not None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log = path.open("a", encoding="utf-8", errors="backslashreplace")
        except OSError:
            self._log = None

    def _write_log(self, event: Event) -> None:
        if self._log is None or isinstance(event, ItemProgress):
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.time))
        self._log.write(f"{stamp} {describe(event)}\n")
        self._log.flush()

    def close(self) -> None:
        """Close the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None


def describe(event: Event) -> str:
    """One plain line for an event, as the log file and plain output show it."""
    if isinstance(event, ItemFinished):
        if event.success:
            return f"done {event.path}" + (f" ({event.key})" if event.key else "")
        return f"failed {event.path}: {'; '.join(event.errors)}"
    if isinstance(event, InputRejected):
        return f"rejected {event.location}: {event.reason}"
    if isinstance(event, LogLine):
        return f"[{event.source} {event.level}] {event.text}"
    if isinstance(event, RoundFinished):
        parts = [f"{event.done} done", f"{event.failed} failed"]
        if event.interrupted:
            parts.append(f"{event.interrupted} interrupted")
        if event.unsent:
            parts.append(f"{event.unsent} not sent")
        if event.rejected:
            parts.append(f"{event.rejected} rejected")
        commit = f"; committed {event.committed[:12]}" if event.committed else ""
        return "finished: " + ", ".join(parts) + commit
    fields = {
        name: getattr(event, name)
        for name in getattr(event, "__dataclass_fields__", {})
        if name != "time"
    }
    return f"{event.kind} " + " ".join(f"{k}={v}" for k, v in fields.items())


def item_record(item: DownloadItem) -> dict[str, object]:
    """The input-format record for ``item`` (what the failures file holds)."""
    record: dict[str, object] = {"url": item.url, "path": item.path}
    if item.metadata:
        record["metadata"] = item.metadata
    if item.extra_urls:
        record["extra_urls"] = list(item.extra_urls)
    return record


def write_failures(path: Path, items: list[DownloadItem]) -> None:
    """Write ``items`` as JSON Lines in the input format, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".failures-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(item_record(item), ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
