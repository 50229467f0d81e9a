"""Starting the app's job before Textual is up (this module does not import Textual).

Textual takes about 0.1 s to import and the app's first frame more; a job started
from the app's ``on_mount`` handed git-annex its first line 0.17 s after the same
command with ``--no-ui`` (measured: 0.30 against 0.13 s, 300 small files). So when
nothing has to be asked first (no unfinished run to offer, no theme to check), the
job starts at once and the app reads its events from the start when it is up:
:class:`EarlyStart` reads them meanwhile, Textual imports in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import Future

from ..events import Event
from ..job import Job

#: The signals the app handles once it is up: a signal before that waits for it.
EARLY_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


class EarlyStart:
    """The job's one event stream, read from the moment the job starts: the app reads
    what came so far, then the rest as it comes (:meth:`events`).

    Signals that come before the app is up are kept (:attr:`signals`); the app
    handles them once it has its own handlers, as if they came then.
    """

    def __init__(self, job: Job) -> None:
        self.signals: list[int] = []
        """Signals that came before the app took them over, in order."""
        self._events: list[Event] = []
        self._more = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in EARLY_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.signals.append, signum)
        self._task = asyncio.create_task(self._read(job), name="job events")

    async def _read(self, job: Job) -> None:
        try:
            async with contextlib.aclosing(job.run()) as events:
                async for event in events:
                    self._events.append(event)
                    self._more.set()
        finally:
            self._more.set()

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every event of the job, in order; then the job's exception, if it raised one."""
        while True:
            if self._events:
                batch, self._events = self._events, []
                for event in batch:
                    yield event
                continue
            if self._task.done():
                self._task.result()  # the job's error, where the app would have met it
                return
            self._more.clear()
            await self._more.wait()

    async def close(self) -> None:
        """Stop reading the job (cancelling it, as the app's worker is cancelled, if it
        still runs) and give the signals back to their defaults if the app never took
        them over."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        loop = asyncio.get_running_loop()
        for signum in EARLY_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
