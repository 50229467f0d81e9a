"""Starting the app's job before Textual is up (this module does not import Textual).

Textual takes about 0.1 s to import and the app's first frame more; a job started
from the app's ``on_mount`` handed git-annex its first line 0.17 s after the same
command with ``--no-ui`` (measured: 0.30 against 0.13 s, 300 small files). So when
nothing has to be asked or checked first (no unfinished run to offer, no theme), the
input is small (a short run, where 0.15 s counts; a large one would delay the first
frame instead, the job and the import taking turns on the one interpreter) and the
command runs in the foreground of its terminal (started with ``&``, it must stop at
its first touch of the terminal having sent nothing, as every terminal program does),
the job starts at once and the app reads its events from the start when it is up:
:class:`EarlyStart` reads them meanwhile, Textual imports in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ..events import Event, RoundFinished, RoundStarted
from ..job import Job

#: Signals the app handles itself (before it is up, :class:`EarlyStart` keeps them for
#: it). SIGINT only comes from outside (``kill -INT``) once the app is up: the
#: terminal's ctrl+c is a key there, since Textual turns ISIG off.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: Inputs up to this size in all (about a thousand lines) start before the app is up.
EARLY_START_MAX_BYTES = 1 << 16

#: How long a job stopped because the app failed may take to end its round (after the
#: forced stop's grace), before it is cancelled.
STOP_WAIT = 60.0


def import_in_background(module: str) -> Future[None]:
    """Import ``module`` in a daemon thread (the import is mostly Python: the thread
    takes turns with the job's event loop, which mostly waits on git)."""
    done: Future[None] = Future()

    def run() -> None:
        try:
            importlib.import_module(module)
        except BaseException as error:  # handed to whoever waits
            done.set_exception(error)
        else:
            done.set_result(None)

    threading.Thread(target=run, name=f"import {module}", daemon=True).start()
    return done


def may_start_early(job: Job) -> bool:
    """Whether ``job`` may start before the app is up: small inputs, in the foreground.

    (No theme to check and no unfinished run to offer: the caller knows those.)
    """
    total = 0
    for name in job.options.inputs:
        try:
            total += os.stat(name).st_size
        except (OSError, ValueError):
            return False  # the job says why, in the app
    return total <= EARLY_START_MAX_BYTES and _in_the_foreground()


def _in_the_foreground() -> bool:
    """Whether our terminal's foreground process group is ours (true without a terminal)."""
    for stream in (sys.stdin, sys.stdout):
        try:
            fd = stream.fileno()
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return True


def handle_signals(handler: Callable[[int], object] | None) -> None:
    """Have the running loop call ``handler(signum)`` for :data:`HANDLED_SIGNALS` (with
    None: give them back to their defaults, if the loop had them)."""
    loop = asyncio.get_running_loop()
    for signum in HANDLED_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            if handler is None:
                loop.remove_signal_handler(signum)
            else:
                loop.add_signal_handler(signum, handler, signum)


@dataclass(frozen=True, slots=True)
class EarlySignal:
    """A signal that came before the app was up, where it came in the job's events."""

    signum: int


class EarlyStart:
    """The job's one event stream, read from the moment the job starts: the app reads
    what came so far, then the rest as it comes (:meth:`events`).

    A signal that comes before the app is up takes its place in the stream (an
    :class:`EarlySignal`), so that the app acts on it as the run stood when it came:
    a Ctrl-C after the round ended stopped nothing. :attr:`at` is when the event the
    reader was last given came (the app's clock for a round starts and ends there).
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.at = time.monotonic()
        """When the event :meth:`events` yielded last came (``time.monotonic``)."""
        self._events: list[tuple[float, Event | EarlySignal]] = []
        self._before_any: list[int] = []
        self._started = False
        self._in_round = False
        self._more = asyncio.Event()
        handle_signals(self._signalled)
        self._task = asyncio.create_task(self._read(job), name="job events")

    def _signalled(self, signum: int) -> None:
        if not self._started:  # the round starts first: the signal acts on it
            self._before_any.append(signum)
            return
        self._events.append((time.monotonic(), EarlySignal(signum)))
        self._more.set()

    async def _read(self, job: Job) -> None:
        try:
            async with contextlib.aclosing(job.run()) as stream:
                async for event in stream:
                    self._events.append((time.monotonic(), event))
                    if isinstance(event, RoundStarted | RoundFinished):
                        self._in_round = isinstance(event, RoundStarted)
                    if not self._started:
                        self._started = True
                        for signum in self._before_any:
                            self._signalled(signum)
                    self._more.set()
        finally:
            self._more.set()

    async def events(self) -> AsyncGenerator[Event | EarlySignal, None]:
        """Every event of the job and early signal, in order; then the job's exception,
        if it raised one."""
        while True:
            if self._events:
                batch, self._events = self._events, []
                for at, event in batch:
                    self.at = at
                    yield event
                continue
            if self._task.done():
                self._task.result()  # the job's error, where the app would have met it
                return
            self._more.clear()
            await self._more.wait()

    async def close(self) -> None:
        """Once the app is gone: a round still running (the app failed) is stopped as a
        forced stop stops it, what it finished staged and committed; the job runs no
        more rounds; the signals go back to their defaults if the app never took them
        over."""
        task = self._task
        if not task.done():
            if self._in_round:
                self.job.stop(force=True)
            self.job.end()
            wait = self.job.options.grace + STOP_WAIT
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), wait)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        handle_signals(None)
