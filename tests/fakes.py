"""Deterministic stand-ins for the app's tests and screenshots: a fake job over a queue we fill.

No tests here; ``tests/test_app_snapshots.py`` and ``screenshots/make_screenshots.py``
import from it. Nothing runs git-annex, nothing reads a clock. Also the narrowed
process guard the app's real-engine tests use.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from tui_annex.events import Event, InputRejected, LogLine, RoundFinished, RoundStarted
from tui_annex.items import DownloadItem, ItemState, RunState, split_waiting
from tui_annex.job import exit_status
from tui_annex.journal import RunRecord
from tui_annex.queue import DownloadQueue
from tui_annex.recovery import ResumeOffer

BASE = "https://data.example.org/survey-2026"


class FakeSession:
    """Has the run state the app reads; the fake job moves it."""

    def __init__(self, state: RunState, queue: DownloadQueue, jobs: int = 2) -> None:
        self.state = state
        self.jobs = jobs
        self._sent: dict[int, DownloadItem] = {}
        """The items in flight in the order they were sent (as the driver's), kept by
        watching the queue's changes: no tick walks the queue."""
        for item in sorted(queue.in_state(ItemState.SENT), key=lambda i: (i.sent_at or 0, i.id)):
            self._sent[item.id] = item
        queue.observer = self

    def item_changed(self, item: DownloadItem) -> None:
        if item.state is ItemState.SENT:
            self._sent.setdefault(item.id, item)
        else:
            self._sent.pop(item.id, None)

    def item_removed(self, item: DownloadItem) -> None:
        self._sent.pop(item.id, None)

    def flush(self, *, wait: bool = True, only: object = None) -> None:
        pass

    def not_started(self) -> frozenset[int]:
        """As the real session: in flight without data, beyond git-annex's free jobs."""
        return frozenset(item.id for item in split_waiting(self._sent.values(), self.jobs)[1])


class FakeJob:
    """The shape of :class:`tui_annex.job.Job`: yields a fixed list of events, then waits.

    ``interrupt()`` moves the state to draining, then stopping, like the real job.
    ``finish()`` ends the round with a :class:`RoundFinished`.
    """

    def __init__(
        self,
        queue: DownloadQueue,
        events: Sequence[Event] = (),
        *,
        state: RunState = RunState.RUNNING,
        rejected: Sequence[InputRejected] = (),
        finished: bool = False,
        starts: bool = True,
    ) -> None:
        self._queue = queue
        self._events = list(events)
        self._session = FakeSession(state, queue)
        self._rejected = list(rejected)
        self._finish = asyncio.Event() if not finished else None
        self._starts = starts
        self.interrupts = 0
        self.closed = False
        self.stops: list[bool] = []
        self.cancelled: list[int] = []
        self.carried_on = False
        self._ended = asyncio.Event()
        self.last_round: RoundFinished | None = None

    @property
    def session(self) -> FakeSession:
        return self._session

    @property
    def queue(self) -> DownloadQueue:
        return self._queue

    @property
    def rejected(self) -> list[InputRejected]:
        return self._rejected

    @property
    def log_path(self) -> None:
        return None

    @property
    def interrupted(self) -> bool:
        return self.interrupts > 0

    async def run(self) -> AsyncGenerator[Event, None]:
        """One round (as :meth:`events`), then nothing until :meth:`end`."""
        yield RoundStarted(round=1)
        async for event in self.events():
            yield event
        await self._ended.wait()

    def end(self) -> None:
        self._ended.set()

    async def events(self) -> AsyncIterator[Event]:
        if self._starts and self._session.state is RunState.IDLE:
            self._session.state = RunState.RUNNING
        for event in self._events:
            yield event
        if self._finish is None:
            self._finish = asyncio.Event()
            self._finish.set()
        await self._finish.wait()
        self._session.state = RunState.FINISHED
        report = self._queue.report()
        self.last_round = RoundFinished(
            done=len(report.done),
            failed=len(report.failed),
            interrupted=len(report.interrupted),
            unsent=len(report.unsent),
            rejected=len(self._rejected),
            exit_code=0 if report.complete else 1,
        )
        yield self.last_round

    def exit_code(self) -> int:
        return exit_status(
            self.last_round,
            interrupted=self.interrupted,
            refused=False,
            pending=self._queue.has_pending(),
        )

    def close(self) -> None:
        self.closed = True

    def finish(self) -> None:
        if self._finish is None:
            self._finish = asyncio.Event()
        self._finish.set()

    def choose_resume(self, choice: str) -> None:
        self.resume_choice = choice

    def carry_on(self) -> bool:
        """As the real job: a graceful stop whose round is over is taken back."""
        state = self._session.state
        if not self.interrupts or state not in (RunState.FINISHED, RunState.DRAINING):
            return False
        if self.stops:
            return False
        self.interrupts = 0
        if state is RunState.DRAINING:
            self._session.state = RunState.RUNNING
        self.carried_on = True
        return True

    def pause(self) -> None:
        self._queue.pause()
        if self.session.state is RunState.RUNNING:
            self.session.state = RunState.PAUSED  # as the real session

    def unpause(self) -> None:
        self._queue.resume()
        if self.session.state is RunState.PAUSED:
            self.session.state = RunState.RUNNING

    def cancel(self, item_id: int) -> bool:
        """As the real job: the item ends failed, "cancelled" (no git-annex to restart)."""
        item = self._queue.get(item_id)
        if item.state is not ItemState.SENT:
            return False
        self.cancelled.append(item_id)
        self._queue.mark_interrupted(item)
        self._queue.mark_finished(
            item, success=False, key=None, errors=("cancelled by the user",), note=None
        )
        return True

    def interrupt(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self._session.state = RunState.DRAINING
        else:
            self.stop(force=True)

    def stop(self, *, force: bool = False) -> None:
        self.stops.append(force)
        self._session.state = RunState.STOPPING if force else RunState.DRAINING


def queued_queue(count: int = 30) -> DownloadQueue:
    """A queue of ``count`` items, nothing sent yet."""
    queue = DownloadQueue()
    for number in range(1, count + 1):
        folder = ("raw", "images", "tables")[number % 3]
        queue.add(
            f"{BASE}/{folder}/part-{number:03d}.dat",
            f"{folder}/part-{number:03d}.dat",
            source=f"urls.txt:{number}",
        )
    queue.close()
    return queue


def mixed_queue() -> DownloadQueue:
    """Items in every state: 4 in flight at different points, done, failed, interrupted, queued."""
    queue = queued_queue(30)
    sizes = [48_000_000, 5_200_000, 730_000_000, 12_000]
    done_ids = [queue.take_next() for _ in range(8)]
    for number, item in enumerate(done_ids):
        assert item is not None
        if number == 2:
            queue.mark_finished(
                item,
                success=False,
                key=None,
                errors=("download failed: Not Found (HTTP 404)",),
                note=None,
            )
        elif number == 5:
            queue.mark_finished(
                item,
                success=False,
                key=None,
                errors=(
                    "download failed: Internal Server Error (HTTP 500)",
                    "addurl: 1 failed to download from the web",
                ),
                note=None,
            )
        elif number == 6:
            item.bytes_done = 3_400_000
            item.total = 9_000_000
            queue.mark_interrupted(item)
        else:
            item.total = 1_000_000 * (number + 1)
            queue.mark_finished(
                item,
                success=True,
                key=f"SHA256E-s{item.total}--{'0123456789abcdef' * 4}.dat",
                errors=(),
                note=None,
            )
    for size, fraction, speed in zip(
        sizes, (0.35, 0.8, 0.04, 0.0), (2.4e6, 850e3, 11.2e6, 0.0), strict=True
    ):
        item = queue.take_next()
        assert item is not None
        item.total = size if size > 20_000 else None
        item.bytes_done = int(size * fraction)
        item.speed = speed
        if speed:
            # Started: its last data came "now" for as long as the test looks (no clock read).
            item._last_sample = (math.inf, item.bytes_done)
        # The last one never started: git-annex holds it (the "waiting" state).
    assert not queue.in_state(ItemState.SENT)[0].errors
    return queue


def failures_queue() -> DownloadQueue:
    """A run near its end: a few queued, one in flight, failures and interruptions, many done."""
    queue = mixed_queue()
    queue.remove([item.id for item in queue.pending()[3:]])
    return queue


def over_queue() -> DownloadQueue:
    """A run that ended: what was in flight has finished, some items were never sent."""
    queue = failures_queue()
    for item in queue.in_state(ItemState.SENT):
        queue.mark_finished(
            item,
            success=True,
            key=f"SHA256E-s{item.total or 12_000}--{'9' * 64}.dat",
            errors=(),
            note=None,
        )
    return queue


#: 2026-11-22 09:00:00 UTC: when the fixed log lines happened.
AT = 1_795_338_000.0


def mixed_logs() -> list[Event]:
    """Log lines of every tag, at fixed times (shown in UTC: the tests set TZ)."""
    return [
        LogLine(
            source="app", level="info", text="git-annex 10.20261026 in /tmp/repo", time=AT + 7.0
        ),
        LogLine(source="stderr", level="warning", text="  Not Found", time=AT + 14.0),
        LogLine(
            source="app",
            level="error",
            text="images/part-003.dat: download failed (HTTP 404)",
            time=AT + 21.0,
        ),
        InputRejected(
            source="urls.txt",
            line=31,
            reason="path escapes the repository: ../etc/passwd",
            time=AT + 28.0,
        ),
        LogLine(source="stderr", level="error", text="addurl: 2 failed", time=AT + 35.0),
    ]


def died_run_offer() -> ResumeOffer:
    """What the app is offered where a run died: fixed numbers, no clock."""
    run = RunRecord(
        id=3,
        started=0.0,
        ended=None,
        pid=999_999_999,
        pid_start=None,
        options={},
        inputs=["urls.txt"],
        outcome=None,
        exit_code=None,
        commits=[],
        done=0,
        failed=0,
        interrupted=0,
        unsent=0,
        rejected=0,
        resumed_from=None,
        resumed_by=None,
    )
    return ResumeOffer(run=run, done=1284, left=3716, in_flight=8, failed=12)
