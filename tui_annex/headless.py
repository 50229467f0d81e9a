"""The ``--no-ui`` front end: rich progress on a terminal (:mod:`.rich_output`), plain lines
or JSON otherwise.

Ctrl-C once: stop feeding and let in-flight downloads finish (then stage and
commit them). Twice, or SIGTERM/SIGHUP: forced stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .annex.repo import RepoError
from .defaults import EXIT_FAILED, EXIT_OUTPUT_CLOSED
from .events import (
    Event,
    InputRejected,
    ItemFinished,
    ItemInterrupted,
    LogLine,
    RoundFinished,
)
from .items import StopReport
from .job import Job, describe
from .redact import redact, redact_fields

__all__ = ["Output", "run_headless"]


class Output:
    """Where events go; one subclass per output mode."""

    def start(self) -> None:
        """Called before the first event."""

    def handle(self, event: Event) -> None:
        """Show one event."""

    def notice(self, text: str) -> None:
        """Show a message of the front end itself (e.g. about Ctrl-C)."""

    def finish(self, job: Job, result: RoundFinished | None) -> None:
        """Show the final report."""


def _stamp(at: float | None = None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at if at is not None else time.time()))


class PlainOutput(Output):
    """One timestamped line per finished or failed file and per log line; no progress."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def handle(self, event: Event) -> None:
        if isinstance(event, ItemFinished):
            print(f"{_stamp(event.time)} {describe(event)}", file=self.out, flush=True)
        elif isinstance(event, ItemInterrupted):
            print(f"{_stamp(event.time)} interrupted {event.path}", file=self.out, flush=True)
        elif isinstance(event, (LogLine, InputRejected)):
            print(f"{_stamp(event.time)} {describe(event)}", file=self.err, flush=True)

    def notice(self, text: str) -> None:
        print(f"{_stamp()} {text}", file=self.err, flush=True)

    def finish(self, job: Job, result: RoundFinished | None) -> None:
        for line in report_lines(job.queue.report(), job):
            print(line, file=self.err)
        if result is not None:
            print(f"{_stamp(result.time)} {describe(result)}", file=self.out, flush=True)


class JsonOutput(Output):
    """One JSON object per event on stdout, for scripts."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def handle(self, event: Event) -> None:
        print(json.dumps(event_record(event), ensure_ascii=False), file=self.out, flush=True)

    def notice(self, text: str) -> None:
        record = {"event": "notice", "time": time.time(), "text": text}
        print(json.dumps(record), file=self.out, flush=True)


def event_record(event: Event) -> dict[str, Any]:
    """The JSON form of an event: ``{"event": kind, "time": ..., fields...}``."""
    record: dict[str, Any] = {"event": event.kind}
    record.update(redact_fields(dataclasses.asdict(event)))
    return record


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def report_lines(report: StopReport, job: Job, limit: int = 20) -> list[str]:
    """What did not get added, item by item (the first ``limit`` of each kind)."""
    lines: list[str] = []
    sections = (
        ("failed", report.failed),
        ("interrupted (outcome unknown)", report.interrupted),
        ("never sent", report.unsent),
    )
    for title, items in sections:
        if not items:
            continue
        lines.append(f"{len(items)} {title}:")
        for item in items[:limit]:
            why = f": {'; '.join(item.errors)}" if item.errors else ""
            lines.append(redact(f"  {item.path} <- {item.url}{why}"))
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more")
    if job.failures_written and job.options.failures is not None:
        if lines:
            lines.append(f"written to {job.options.failures} (feed it back in to retry)")
    elif job.failures_error:
        lines.append(f"error: {job.failures_error}")
    return lines


class ClosedReaderGuard(Output):
    """Passes everything on to ``inner``; when the reader of the output goes away
    (``tui-annex --json | head``), or the output cannot be written (a full disk),
    stops the run gracefully and prints nothing more.

    The run still ends as a stop does: in-flight downloads finish, files are
    staged and committed, ``-F`` is written.
    """

    def __init__(self, inner: Output, on_closed: Callable[[], None]) -> None:
        self.inner = inner
        self.on_closed = on_closed
        self.closed = False
        self.error: OSError | None = None
        """Why the output could not be written, if not because its reader went away."""

    def _guard(self, call: Callable[[], None]) -> None:
        if self.closed:
            return
        try:
            call()
        except BrokenPipeError:
            self.closed = True
            self.on_closed()
        except OSError as error:
            self.closed = True
            self.error = error
            self.on_closed()

    def start(self) -> None:
        self._guard(self.inner.start)

    def handle(self, event: Event) -> None:
        self._guard(lambda: self.inner.handle(event))

    def notice(self, text: str) -> None:
        self._guard(lambda: self.inner.notice(text))

    def finish(self, job: Job, result: RoundFinished | None) -> None:
        self._guard(lambda: self.inner.finish(job, result))


def choose_output(job: Job, *, json_mode: bool, out: TextIO, err: TextIO) -> Output:
    """JSON when asked, rich on a terminal, plain lines otherwise."""
    if json_mode:
        return JsonOutput(out)
    if out.isatty():
        # rich is imported for a terminal only: a pipe or a file starts 20 ms sooner.
        from rich.console import Console

        from .rich_output import RichOutput

        return RichOutput(Console(file=out), job)
    return PlainOutput(out, err)


async def run_job(job: Job, output: Output) -> int:
    """Run ``job`` to its end under signal handling; return the exit status."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []

    def on_interrupt() -> None:
        job.interrupt()
        if job.session.forced:
            output.notice("forced stop: terminating git-annex")
        else:
            output.notice(
                "stopping: no more downloads start; in-flight ones finish "
                "(press Ctrl-C again to stop them now)"
            )

    def on_terminate() -> None:
        job.stop(force=True)
        output.notice("terminated: stopping git-annex")

    handlers: dict[int, Callable[[], None]] = {
        signal.SIGINT: on_interrupt,
        signal.SIGTERM: on_terminate,
        signal.SIGHUP: on_terminate,
    }
    for signum, handler in handlers.items():
        try:
            loop.add_signal_handler(signum, handler)
            installed.append(signum)
        except (ValueError, RuntimeError, NotImplementedError):
            pass
    result: RoundFinished | None = None
    output.start()
    try:
        async with contextlib.aclosing(job.events()) as events:
            async for event in events:
                if isinstance(event, RoundFinished):
                    result = event
                output.handle(event)
    except RepoError as error:  # the job knows: its exit code says 2
        output.notice(f"error: {error}")
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        output.finish(job, result)
        job.close()
    return job.exit_code()


def run_headless(job: Job, *, json_mode: bool = False) -> int:
    """Run ``job`` without the Textual app; return the exit status."""
    output = ClosedReaderGuard(
        choose_output(job, json_mode=json_mode, out=sys.stdout, err=sys.stderr),
        on_closed=lambda: job.stop(force=False),
    )
    code = asyncio.run(run_job(job, output))
    if output.closed:
        error = output.error
        if error is not None:
            with contextlib.suppress(OSError):
                print(
                    f"tui-annex: the output cannot be written ({error.strerror or error}); "
                    "the run was stopped, and what it finished is committed",
                    file=sys.stderr,
                    flush=True,
                )
        # Python's own flush at exit would fail on the closed pipe (or the full disk)
        # and say so.
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (1, 2):
            os.dup2(devnull, stream)
        os.close(devnull)
        return EXIT_OUTPUT_CLOSED if error is None else EXIT_FAILED
    return code
