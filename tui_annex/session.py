"""A download session: the queue, the repository and the git-annex processes behind one API.

Both front ends (the Textual app and ``--no-ui``) and library users drive a
:class:`Session` and read the same event stream::

    async with Session("~/data", jobs=4) as session:
        session.queue.add("https://example.org/a.csv", "raw/a.csv")
        session.queue.close()
        async for event in session.events():
            print(event)
    print(session.report())
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from .annex.addurl import AddurlDriver
from .annex.batch import run_to_completion
from .annex.locate import GitAnnex, find_git_annex
from .annex.repo import GitError, Repo, dangling_link, plain_file_size
from .defaults import DEFAULT_AHEAD, DEFAULT_GRACE, DEFAULT_STALL_TIMEOUT
from .events import Event, ItemFinished, ItemInterrupted, LogLevel, LogLine, ProcessExited
from .items import DownloadItem, ItemState, RunState, StopReport, split_waiting
from .queue import DownloadQueue
from .recovery import leftovers_removed
from .streams import cancel_and_wait, wait_first
from .validation import DEFAULT_SCHEMES

__all__ = ["RunState", "Session"]

#: How many times in a row git-annex may die without finishing an item before the run stops.
MAX_DEATHS = 3

#: How many of git-annex's last stderr lines a death message quotes.
LAST_WORDS = 3


class Session:
    """Feeds a :class:`DownloadQueue` to git-annex and yields one stream of typed events.

    :meth:`events` runs ``git annex addurl --batch`` passes until the queue is
    closed and nothing is pending, or until :meth:`stop`. It may be called again
    later (after a retry or new items) but not twice at once. Leaving the
    ``async with`` block, or cancelling the consumer, stops git-annex (forced)
    and leaves no process behind.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        queue: DownloadQueue | None = None,
        git_annex: GitAnnex | str | os.PathLike[str] | None = None,
        jobs: int | None = None,
        lookahead: int | None = None,
        ahead: float | None = None,
        addurl_options: Sequence[str] = (),
        schemes: Iterable[str] = DEFAULT_SCHEMES,
        create: bool = False,
        grace: float = DEFAULT_GRACE,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self.repo_path = Path(repo).expanduser()
        self.queue = queue if queue is not None else DownloadQueue(schemes=schemes)
        self.git_annex = git_annex if isinstance(git_annex, GitAnnex) else find_git_annex(git_annex)
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        # git-annex -J N keeps items in later stages (checksum, staging) that still
        # count as in flight: with fewer than about N waiting its workers starve
        # (measured: -J4 with 2 waiting ran ~19% slower than with 4 or more; see
        # bench/throughput.py). Small files need more: each spends ~0.1 s in git-annex
        # however many wait, so by default the lookahead grows to half a second's worth
        # of answers, four times its floor at most (bench/window.py: -J4 needs about 16
        # waiting). A lookahead given alone is fixed.
        self.lookahead = lookahead if lookahead is not None else max(2, self.jobs)
        if ahead is None:
            ahead = DEFAULT_AHEAD if lookahead is None else 0.0
        self.ahead = ahead
        self.addurl_options = tuple(addurl_options)
        self.create = create
        self.grace = grace
        self.stall_timeout = stall_timeout if stall_timeout else None
        self._holding: str | None = None
        """Why items git-annex has not started wait to be taken back, once that is safe."""
        self._restart_waits = False
        """A restart for :attr:`_cut` waits until no other download is being stored."""
        self._cut: dict[int, float | str] = {}
        """Items the current git-annex is stopped for: seconds stalled, why (cancelled),
        or :class:`Held` (not started; back to the queue)."""
        self.repo: Repo | None = None
        self._driver: AddurlDriver | None = None
        self._stop = asyncio.Event()
        self._forced = False
        self._finished = False
        self._running = False
        self._stream: AsyncGenerator[Event, None] | None = None
        # Fail fast on options that would break the batch protocol.
        self._make_driver(self.repo_path)

    def _make_driver(self, repo_path: Path) -> AddurlDriver:
        return AddurlDriver(
            self.queue,
            repo_path,
            git_annex=self.git_annex,
            jobs=self.jobs,
            lookahead=self.lookahead,
            ahead=self.ahead,
            options=self.addurl_options,
            grace=self.grace,
        )

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._driver is not None:
            self.stop(force=True)
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    async def open(self) -> Repo:
        """Open (or, with ``create``, make) the repository; raise RepoError if unusable."""
        if self.repo is None:
            self.repo = await Repo.open(self.repo_path, self.git_annex, create=self.create)
        return self.repo

    @property
    def state(self) -> RunState:
        """The run state shown to the user."""
        if self._forced:
            return RunState.FINISHED if not self._running else RunState.STOPPING
        if self._stop.is_set():
            return RunState.FINISHED if not self._running else RunState.DRAINING
        if self._finished and not self._running:
            return RunState.FINISHED
        if not self._running:
            return RunState.IDLE
        if self.queue.paused:
            return RunState.PAUSED
        return RunState.RUNNING

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """Whether :meth:`events` is under way (git-annex may be running)."""
        return self._running

    @property
    def forced(self) -> bool:
        """Whether a forced stop was asked for."""
        return self._forced

    def stop(self, *, force: bool = False) -> None:
        """Stop feeding. Graceful: in-flight downloads finish and are staged.

        Forced: git-annex's process group gets SIGTERM, then SIGKILL after the
        grace period; files it had finished are staged afterwards.
        """
        self._stop.set()
        if force:
            self._forced = True
        if self._driver is not None:
            self._driver.stop(force=force)
            if not force:
                self._hold_back(self._driver, "stopping")

    def pause(self) -> None:
        """Send no new item; downloads under way go on. Items git-annex holds but has
        not started go back to the queue (git-annex is restarted without them: batch
        mode cannot take a line back; the downloads resume where they were)."""
        self.queue.pause()
        if self._driver is not None and not self._stop.is_set():
            self._hold_back(self._driver, "paused")

    def unpause(self) -> None:
        """Send items again after :meth:`pause`."""
        self._holding = None
        self.queue.resume()

    def take_back_stop(self) -> bool:
        """Undo a graceful :meth:`stop` while its downloads drain: the queue feeds again
        (into the same git-annex while its input is open, else into a new one). False
        after a forced stop, or when no stop is under way."""
        if not self._running or self._forced or not self._stop.is_set():
            return False
        self._stop.clear()
        self._holding = None
        if self._driver is not None:
            self._driver.carry_on()
        return True

    def _hold_back(self, driver: AddurlDriver, why: str) -> None:
        """Take back from git-annex the items it has not started (no byte yet): restart it
        without them; they go back to the front of the queue, as never sent.

        Only while every job of git-annex is mid-download: one that may be storing a
        file (all its bytes in, or no byte seen yet: a small file goes by unreported)
        would be cut off half-stored. Then the restart waits for the next answer.
        """
        self._holding = None
        flying = list(driver.in_flight.values())
        starting, waiting = split_waiting(flying, self.jobs)
        if not waiting:
            return
        if not driver.forced and (starting or _storing(flying)):
            self._holding = why
            return
        for item in waiting:
            self._cut.setdefault(item.id, Held(why))
        driver.stop(force=True)  # nothing more if a restart is under way (a cancel, a stall)

    def not_started(self) -> frozenset[int]:
        """The items git-annex holds but has not started (see :func:`split_waiting`)."""
        driver = self._driver
        if driver is None:
            return frozenset()
        return frozenset(item.id for item in split_waiting(driver.in_flight.values(), self.jobs)[1])

    def cancel(self, item_id: int) -> bool:
        """Cancel one download in flight: git-annex is restarted without it (batch mode
        cannot drop one item), the others resume where they were, and it ends failed
        ("cancelled"), to retry at will. False if the item is not in flight now, or
        after a forced stop. A stop that drains lets the others finish."""
        driver = self._driver
        if driver is None or self._forced:
            return False
        if not any(item.id == item_id for item in driver.in_flight.values()):
            return False
        self._cut[item_id] = CANCELLED  # also in a restart under way: it ends cancelled
        self._restart(driver)
        return True

    def resume(self) -> None:
        """Clear an earlier stop so that :meth:`events` runs again (a new round)."""
        if self._running:
            raise RuntimeError("cannot resume while events() is running")
        self._stop.clear()
        self._forced = False
        self._finished = False

    def report(self) -> StopReport:
        """What became of every item: added, failed, interrupted, never sent."""
        return self.queue.report()

    def events(self) -> AsyncGenerator[Event, None]:
        """Run git-annex over the queue and yield every event until the work is over.

        Leaving the ``async with`` block closes the stream too, even if its consumer
        left it suspended (an exception in the loop): nothing is left running.
        """
        stream = self._events()
        self._stream = stream
        return stream

    async def _events(self) -> AsyncGenerator[Event, None]:
        if self._running:
            raise RuntimeError("Session.events() is already running")
        repo = await self.open()
        self._running = True
        deaths = 0
        try:
            while not self._forced:
                # A graceful stop still lets the downloads a restart cut off go on.
                draining = self._stop.is_set()
                if draining and not self.queue.has_resumes():
                    break
                if draining or self.queue.has_ready():
                    exited: ProcessExited | None = None
                    finished = 0
                    cut_off: list[int] = []
                    last_words: deque[str] = deque(maxlen=LAST_WORDS)
                    async with contextlib.aclosing(self._pass(repo)) as events:
                        async for event in events:
                            if isinstance(event, ProcessExited):
                                exited = event
                            elif isinstance(event, ItemFinished):
                                finished += 1
                            elif isinstance(event, ItemInterrupted):
                                cut_off.append(event.item_id)
                            elif isinstance(event, LogLine) and event.source == "stderr":
                                last_words.append(event.text)
                            yield event
                    if exited is not None and exited.unexpected and not self._stop.is_set():
                        deaths = 1 if finished else deaths + 1
                        said = " | ".join(last_words) or "nothing on stderr"
                        again = self.queue.send_again_first(
                            item_id for item_id in cut_off if item_id in self.queue
                        )
                        if deaths > MAX_DEATHS:
                            # What it was downloading ends interrupted, not "not sent".
                            cut = self.queue.interrupt_resumes()
                            yield LogLine(
                                source="app",
                                level="error",
                                text=f"git-annex died {deaths} times in a row without finishing "
                                f"anything (status {exited.returncode}; it said: {said}); "
                                f"stopping with {len(cut)} item(s) interrupted and "
                                f"{len(self.queue.pending())} not sent",
                            )
                            break
                        yield LogLine(
                            source="app",
                            level="warning",
                            text=f"git-annex died (status {exited.returncode}; it said: {said}); "
                            f"starting it again: {len(again)} interrupted download(s) go first "
                            "and resume where they were",
                        )
                    continue
                if self.queue.closed and not self.queue.has_pending():
                    break
                await self._wait_for_work()
        finally:
            # Downloads a restart cut off and no pass sent again (a forced stop came
            # first) end interrupted, as their restart's ItemInterrupted said.
            self.queue.interrupt_resumes()
            self._running = False
            self._finished = True

    async def _pass(self, repo: Repo) -> AsyncGenerator[Event, None]:
        """One git-annex process: feed until done or stopped, then stage what it left."""
        driver = self._make_driver(repo.path)
        if self._stop.is_set():
            driver.stop(force=self._forced)
        self._driver = driver
        finished: list[str] = []
        interrupted: list[int] = []
        stalled = self._cut
        stalled.clear()
        self._restart_waits = False
        exited: ProcessExited | None = None
        message: LogLine | None = None
        cleared: LogLine | None = None
        watchdog = (
            asyncio.create_task(self._watch_stalls(driver, stalled))
            if self.stall_timeout is not None
            else None
        )
        try:
            async with contextlib.aclosing(driver.run()) as events:
                async for event in events:
                    if isinstance(event, ItemFinished):
                        if event.success:
                            finished.append(event.path)
                        if self._restart_waits:  # an answer: maybe nothing is stored now
                            self._restart(driver)
                        if self._holding is not None:  # an answer: a job came free
                            self._hold_back(driver, self._holding)
                    elif isinstance(event, ItemInterrupted):
                        interrupted.append(event.item_id)
                        if isinstance(stalled.get(event.item_id), Held):
                            continue  # never started: it goes back to the queue, unreported
                    elif isinstance(event, ProcessExited):
                        exited = event
                    yield event
        finally:
            if watchdog is not None:
                await cancel_and_wait(watchdog)
            self._driver = None
            # git-annex stages only when it exits normally; on any other end (a
            # forced stop, a crash, a consumer that left early) stage what it finished.
            normal = exited is not None and not exited.forced and exited.returncode in (0, 1)
            if finished and not normal:
                message = await run_to_completion(self._stage(repo, finished))
            if interrupted and exited is not None and not normal:
                cleared = await run_to_completion(self._clear_leftovers(repo, interrupted))
        if message is not None:
            yield message
        if cleared is not None:
            yield cleared
        if stalled:
            for event in self._after_stall(stalled, interrupted, resume=not self._forced):
                yield event

    async def _watch_stalls(self, driver: AddurlDriver, stalled: dict[int, float | str]) -> None:
        """Force a restart of git-annex when a download gets no data for too long.

        Batch mode cannot cancel one item, and a stalled server would hold its
        download forever. A download that got data is judged from its last
        data. One that never got any is judged only while git-annex has a free
        job for it (fewer than ``jobs`` downloads have data): git-annex takes
        items in the order they were sent, so the first ones without data hold
        its free jobs; they are judged from when they were sent or from the
        last answer (when a job last came free), whichever is later. A server
        that accepts the connection and never answers is caught this way.
        """
        timeout = self.stall_timeout
        assert timeout is not None
        while not driver.stopping:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            flying = list(driver.in_flight.values())
            starting = split_waiting(flying, self.jobs)[0]
            for item in flying:
                last = item.last_progress_at
                # With every byte in, git-annex checksums the file: slow, silent, not stalled.
                if last is not None and not item.all_in and now - last > timeout:
                    stalled[item.id] = now - last
            wall = time.time()
            for item in starting:
                since = max(item.sent_at or wall, driver.last_answer_at)
                if wall - since > timeout:
                    stalled[item.id] = wall - since
            if stalled:
                self._restart(driver)

    def _restart(self, driver: AddurlDriver) -> None:
        """Restart git-annex for the items in :attr:`_cut`, once no other download is being
        stored (all its bytes in: cut off then, it could be left half-stored); until then
        the restart waits for the next answer (or the watchdog's next look)."""
        if driver.forced:
            return
        others = [item for item in driver.in_flight.values() if item.id not in self._cut]
        if _storing(others):
            self._restart_waits = True
            return
        self._restart_waits = False
        driver.stop(force=True)

    def _after_stall(
        self, stalled: dict[int, float | str], interrupted: list[int], *, resume: bool
    ) -> list[Event]:
        """Fail the stalled (or cancelled) items, put the held ones back in the queue, and
        (with ``resume``: not after a forced stop) send the others that were cut off
        again, first."""
        events: list[Event] = []
        held = [
            item_id
            for item_id, why in stalled.items()
            if isinstance(why, Held)
            and item_id in self.queue
            and self.queue.get(item_id).state is ItemState.INTERRUPTED
        ]
        for item_id, idle in stalled.items():
            if item_id not in self.queue or isinstance(idle, Held):
                continue
            item = self.queue.get(item_id)
            if item.state is not ItemState.INTERRUPTED:
                continue
            errors = (
                (idle,)
                if isinstance(idle, str)
                else (
                    f"stalled: no data for {idle:.0f} s (--stall-timeout {self.stall_timeout:g})",
                )
            )
            self.queue.mark_finished(item, success=False, key=None, errors=errors, note=None)
            events.append(
                ItemFinished(
                    item_id=item.id, url=item.url, path=item.path, success=False, errors=errors
                )
            )
        self.queue.put_back(held)
        others = [i for i in interrupted if i not in stalled and i in self.queue]
        # Only what had data is a download; the rest only waited in git-annex's input.
        had_data = {i for i in others if self.queue.get(i).bytes_done > 0}
        resumed = self.queue.send_again_first(others) if resume else []
        ended = [i for i in stalled if i in self.queue and not isinstance(stalled[i], Held)]
        if ended:
            names = ", ".join(self.queue.get(i).path for i in ended)
            why = "cancelled" if all(isinstance(stalled[i], str) for i in ended) else "stalled"
            text = f"{names}: {why}; git-annex was restarted"
        else:
            reason = next((v for v in stalled.values() if isinstance(v, Held)), Held("paused"))
            text = (
                f"{reason}: {len(held)} item(s) git-annex had not started went back to the "
                "queue; git-annex was restarted without them"
            )
        if resume:
            going = sum(1 for item in resumed if item.id in had_data)
            text += f" ({going} other download(s) resume where they were"
            if len(resumed) > going:
                text += f", {len(resumed) - going} waiting item(s) go first again"
            text += ")"
        level: LogLevel = "warning" if ended else "info"
        events.insert(0, LogLine(source="app", level=level, text=text))
        return events

    async def _stage(self, repo: Repo, paths: list[str]) -> LogLine:
        present = [path for path in paths if os.path.lexists(repo.path / path)]
        try:
            await repo.stage(present, self.addurl_options)
            staged = await repo.indexed_paths(present)
        except GitError as error:
            return LogLine(source="app", level="error", text=f"staging finished files: {error}")
        text = f"staged {len(staged)} file(s) git-annex finished before it was stopped"
        if len(staged) < len(present):
            left = len(present) - len(staged)
            text += f"; {left} could not be (the index is locked, or git refuses the path)"
        return LogLine(
            source="app", level="warning" if len(staged) < len(present) else "info", text=text
        )

    async def _clear_leftovers(self, repo: Repo, item_ids: list[int]) -> LogLine | None:
        """Remove the files a git-annex that was stopped or died left half-added at the
        paths of downloads it had not answered for (:func:`half_added`): killed between
        moving a download into place and adding it, it leaves the file in the work tree,
        and sent again, git-annex refuses to overwrite it. They download again."""
        items = [self.queue.get(item_id) for item_id in item_ids if item_id in self.queue]
        plain = [item.path for item in items if half_added(repo.path, item)]
        if not plain:
            return None
        try:
            tracked = await repo.indexed_paths(plain)
        except GitError as error:
            return LogLine(source="app", level="error", text=f"checking left files: {error}")
        removed = []
        for path in plain:
            if path not in tracked:
                with contextlib.suppress(FileNotFoundError):
                    (repo.path / path).unlink()
                removed.append(path)
        if not removed:
            return None
        return leftovers_removed(removed, "file(s) git-annex left half-added when it ended")

    async def _wait_for_work(self) -> None:
        await wait_first(self.queue.wait_changed(), self._stop.wait())

    def counts(self) -> dict[ItemState, int]:
        """How many items are in each state."""
        return self.queue.counts()


#: The error of a download the user cancelled.
CANCELLED = "cancelled by the user (r queues it again)"


class Held(str):
    """Why an item git-annex held but had not started was taken back (``paused``,
    ``stopping``): it goes back to the queue, as never sent."""

    __slots__ = ()


def half_added(top: Path, item: DownloadItem) -> bool:
    """Whether the item's path holds what git-annex leaves when killed between finishing
    the item's download and adding it, where nothing was when the item was sent: a
    plain file of exactly the bytes it said it had downloaded (moved into place), or a
    link to an object that is not there (the content not yet moved in); in a real folder
    of the repository (whether git tracks it is for the caller to ask)."""
    if item.existed is not False:
        return False  # something was there before
    if dangling_link(top, item.path):
        return True
    if item.bytes_done <= 0:
        return False  # git-annex never reported a byte
    size = plain_file_size(top, item.path)
    return size == item.bytes_done and item.total in (None, item.bytes_done)


async def download(
    repo: str | os.PathLike[str],
    items: Iterable[tuple[str, str]],
    **options: object,
) -> StopReport:
    """Add every ``(url, path)`` to ``repo`` and return the report; a one-call convenience."""
    session = Session(repo, **options)  # type: ignore[arg-type]
    for url, path in items:
        session.queue.add(url, path)
    session.queue.close()
    async with session, contextlib.aclosing(session.events()) as events:
        async for _event in events:
            pass
    return session.report()


def _storing(items: Iterable[DownloadItem]) -> bool:
    """Whether git-annex may be storing one of these downloads now: all its bytes are in
    (seen arriving), and it checksums and moves the file; cut off, it is left half-stored."""
    return any(item.all_in for item in items if item.last_progress_at is not None)
