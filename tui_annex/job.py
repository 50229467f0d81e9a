"""One run of tui-annex: inputs in, downloads, metadata, commit, failures file, log file.

Both front ends (``--no-ui`` and the Textual app) consume :meth:`Job.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from .annex.annotate import Annotator
from .annex.repo import GitError, Repo, RepoError
from .checked import SLICE
from .defaults import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .events import (
    Event,
    InputRejected,
    ItemFinished,
    ItemInterrupted,
    ItemProgress,
    LogLine,
    ProcessExited,
    ProcessStarted,
    RoundFinished,
    RoundStarted,
)
from .inputs import (
    InputRecord,
    Rejection,
    destination,
    drop_finished_lines,
    shard_of,
)
from .items import Destinations, DownloadItem, ItemState, StopReport
from .journal import (
    COMMITTED,
    STAGED,
    Journal,
    JournalError,
    JournalItem,
    git_dir_of,
    journal_path,
    lock_repository,
    set_aside,
)
from .loader import (
    CheckedBatch,
    ReaderFailed,
    ReadSettings,
    record_batches,
    start_early,
    stop_early,
)
from .options import RunOptions
from .queue import DownloadQueue
from .recovery import ResumeOffer, carry_over, resume_offer, settle_added, stop_left_over_processes
from .redact import redact
from .retry import backoff, is_transient
from .session import Session
from .streams import cancel_and_wait, merge, wait_first
from .validation import ValidationError, check_url

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Job",
    "describe",
    "exit_status",
]


#: How long a run waits at its start for another git command's ``index.lock`` to go.
INDEX_LOCK_WAIT = 10.0

#: Input records read between two ``gc.freeze()`` calls while an input is loaded.
FREEZE_EVERY = 50_000


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
        self.journal: Journal | None = None
        self.resumed: ResumeOffer | None = None
        """The unfinished run this one carried on, if any."""
        self.merged_records = 0
        """Input records whose destination the resumed run already had."""
        self.already_added = 0
        """Input records that earlier runs already added (not downloaded again)."""
        self.commits: list[str] = []
        self.commit_error: str | None = None
        self.failures_written = False
        """Whether ``-F`` was written at the end of the last round."""
        self.failures_error: str | None = None
        self._added_before: set[str] = set()
        """Where (``file:line``) the input records earlier runs had added are."""
        self._merged: dict[str, int] = {}
        self._retry_timers: dict[int, asyncio.TimerHandle] = {}
        self._retries_held: set[int] = set()
        """Failures whose retry a stop called off: a stop taken back retries them."""
        self._ended = asyncio.Event()
        self._inputs_done = False
        self._rng = random.Random()
        self._carried_done: set[int] = set()
        self._carried: set[int] = set()
        self._has_history = False
        self._early: list[str] = []  # readers started early (loader.start_early)
        self._indexed: set[str] = set()
        self._journal_failure_said = False
        self._log_failure_said = False
        self._notices: list[Event] = []
        self.start_error: str | None = None
        self.other_shards = 0
        """Input records left to the other shares of ``--shard``."""
        self._other_shares = Destinations()
        """The paths the other shares take (``--shard``), to refuse what clashes with them."""
        self.run_id: int | None = None
        """This run's number in the journal (``tui-annex history``), once it started."""
        self.faults_beyond_the_queue = False
        """The last round had a problem the queue does not show (a refused input line,
        metadata, the commit, ``-F``, or files left uncommitted because items failed)."""
        """Why the run could not start (a locked index, another run...), if it could not."""
        self._lock_fd: int | None = None

    def pending_resume(self) -> ResumeOffer | None:
        """The unfinished run a start would resume (for the app to ask first), if any."""
        if not self.options.journal or self.options.resume == "fresh":
            return None
        git_dir = git_dir_of(Path(self.options.repo).expanduser())
        if git_dir is None or not journal_path(git_dir).exists():
            return None
        try:
            journal = Journal.open_read_only(journal_path(git_dir))
        except JournalError:
            return None  # the run itself sets an unreadable journal aside, and says so
        try:
            return resume_offer(journal)
        except JournalError:
            return None
        finally:
            journal.close()

    def choose_resume(self, choice: str) -> None:
        """The user's answer to :meth:`pending_resume`: ``resume`` or ``fresh``."""
        if self._inputs_started:
            raise RuntimeError("the run has started; it is too late to choose")
        self.options.resume = "fresh" if choice == "fresh" else "resume"

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
        self._cancel_retries()

    def carry_on(self) -> bool:
        """Take a graceful stop back, so that what is queued (or retried, or added) runs
        again: while its downloads drain (the round goes on) or once they have (a new
        round starts if anything is queued). False after a forced stop, or when nothing
        was stopped."""
        session = self.session
        if not self._interrupts or session.forced:
            return False
        if session.running:
            if not session.take_back_stop():
                return False
        else:
            session.resume()
        self._interrupts = 0
        self._retry_held()
        # The stop closed the queue: reopened, it wakes run() (a round starts if anything
        # is queued; a pause stays a pause), and closes again once no more work can come.
        self.queue.reopen()
        self._maybe_close_queue()
        return True

    def pause(self) -> None:
        """Send no new item (see :meth:`Session.pause`): what git-annex has not started
        goes back to the queue; the downloads under way go on."""
        self.session.pause()

    def unpause(self) -> None:
        """Send items again after :meth:`pause`."""
        self.session.unpause()

    def cancel(self, item_id: int) -> bool:
        """Cancel one download in flight (see :meth:`Session.cancel`); False if it is not."""
        return self.session.cancel(item_id)

    def stop(self, *, force: bool = False) -> None:
        """Stop now: gracefully, or forced (as a second interrupt)."""
        self._interrupts = max(self._interrupts + 1, 2 if force else 1)
        self.session.stop(force=force)
        self._cancel_retries()

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> AsyncGenerator[Event, None]:
        """Run rounds until :meth:`end`: the first over the input, then one whenever items
        are queued again (a retry, items added by hand), unless the user stopped the run.

        Each round starts with :class:`RoundStarted` and ends with :class:`RoundFinished`;
        the app reads this one stream and never starts a round itself.
        """
        rounds = 0
        while True:
            rounds += 1
            yield RoundStarted(round=rounds)
            async with contextlib.aclosing(self.events()) as events:
                async for event in events:
                    yield event
            while not self._ended.is_set():
                if self.queue.has_pending() and not self.interrupted:
                    break
                await wait_first(self.queue.wait_changed(), self._ended.wait())
            if self._ended.is_set():
                return

    def end(self) -> None:
        """No more rounds: :meth:`run` returns once the round in progress (if any) is over."""
        self._ended.set()

    async def events(self) -> AsyncGenerator[Event, None]:
        """Run one round and yield every event; the last one is :class:`RoundFinished`."""
        try:
            repo = await self.session.open()
            self._open_log()
            # Before anything is staged or sent (a dead run's files are staged on resume).
            await self._wait_for_index_lock(repo)
            starting = not self._inputs_started
            if starting:
                self._check_failures_file()
                await self._check_addurl_options(repo)
                messages = await self._start_journal(repo)
        except RepoError as error:
            self.start_error = str(error)
            raise
        if starting:
            for message in [*self._notices, *messages]:
                self._write_log(message)
                yield message
            self._notices.clear()
        # report().done also holds the done items the user cleared from the view (forget);
        # done items carried over from a dead run still wait for this round's commit, and
        # their metadata and extra URLs for the annotator (that run may have died first).
        done_before = {item.id for item in self.queue.report().done} - self._carried_done
        annotate_first = [
            self.queue.get(item_id)
            for item_id in sorted(self._carried_done)
            if self.queue.get(item_id).metadata or self.queue.get(item_id).extra_urls
        ]
        self._carried_done = set()
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
            self._inputs_done = True
            self._maybe_close_queue()

        async def run_session() -> AsyncIterator[Event]:
            try:
                for item in annotate_first:
                    warning = await annotator.submit(item)
                    if warning is not None:
                        yield warning
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
                        if isinstance(event, ItemFinished):
                            self._maybe_close_queue()
            finally:
                annotator.close()
                if reader is not None and not reader.done():
                    await cancel_and_wait(reader)
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
                self._journal_event(event)
                self._write_log(event)
                yield event
                while self._notices:
                    yield self._notices.pop(0)
        self.annotation_failures += annotator.failed
        finished = await self._finish_round(repo, done_before)
        self._flush_journal()
        while self._notices:
            correction = self._notices.pop(0)
            self._write_log(correction)
            yield correction
        if finished.commit_error:
            failure = LogLine(
                source="app",
                level="error",
                text=f"the commit failed; the files stay staged: {finished.commit_error}",
            )
            self._write_log(failure)
            yield failure
        self._write_log(finished)
        self.last_round = finished
        yield finished

    def read_early(self) -> None:
        """Start reading large inputs now, in reader processes, while the run starts up."""
        if self.options.shard is None:  # else read in process
            for name in self.options.inputs:
                key = start_early(name, self._read_settings())
                if key is not None:
                    self._early.append(key)

    def close_early(self) -> None:
        """Stop the readers :meth:`read_early` started (a run refused before it starts)."""
        stop_early(self._early)
        self._early.clear()

    def _read_settings(self) -> ReadSettings:
        options = self.options
        return ReadSettings(
            self.queue.schemes,
            options.input_format,
            options.url_column,
            options.path_column,
            tuple(options.metadata_columns),
        )

    async def _read_inputs(self, notices: asyncio.Queue[Event | None]) -> None:
        """Stream every input into the queue; rejections go to ``notices``."""
        options = self.options
        name = "input"
        loaded = 0
        try:
            for name in options.inputs:
                batches = record_batches(
                    name,
                    self._read_settings(),
                    stdin=self._stdin,
                    in_process=options.shard is not None,
                )
                async with contextlib.aclosing(batches):
                    async for batch in batches:
                        # A chunk's records (~1,000) in slices: the feeder, the screen
                        # and the keys get the loop every few milliseconds (a key's
                        # message takes several hops, each behind the ready steps).
                        # The reader process sends its batches sliced.
                        slices = (
                            [batch]
                            if isinstance(batch, CheckedBatch)
                            else [
                                batch[start : start + SLICE]
                                for start in range(0, len(batch), SLICE)
                            ]
                        )
                        for chunk in slices:
                            for rejection in self._add_batch(chunk):
                                event = rejection.event()
                                self.rejected.append(event)
                                notices.put_nowait(event)
                            loaded += len(chunk)
                            if loaded >= FREEZE_EVERY:
                                # The queue's items live as long as the run and hold no
                                # cycles: moved out of the collector's sight, they no
                                # longer make each full collection walk a million objects
                                # (-30% loading time at 1,000,000 items).
                                gc.freeze()
                                loaded = 0
                            await asyncio.sleep(0)
        except OSError as error:
            self._input_failed(str(error.filename or name), str(error), notices)
        except ReaderFailed as error:
            self._input_failed(name, str(error), notices)
        except Exception as error:
            self._input_failed(name, f"reading stopped: {type(error).__name__}: {error}", notices)
        finally:
            stop_early(self._early)  # the readers of inputs this run stopped before
            self._inputs_done = True
            self._maybe_close_queue()
            said = []
            if self.merged_records:
                said.append(f"{self.merged_records} were already in the resumed run")
            if self.other_shards and self.options.shard is not None:
                share, count = self.options.shard
                said.append(
                    f"{self.other_shards} belong to the other shares (--shard {share}/{count})"
                )
            if self.already_added:
                said.append(
                    f"{self.already_added} were added by earlier runs (not downloaded again)"
                )
            if said:
                notices.put_nowait(_info("input records: " + "; ".join(said)))

    def _input_failed(self, source: str, reason: str, notices: asyncio.Queue[Event | None]) -> None:
        """Reading an input failed part-way: say so, and let the run end as failed."""
        self.input_errors += 1
        event = InputRejected(source=source, line=0, reason=reason)
        self.rejected.append(event)
        notices.put_nowait(event)

    def _add_batch(self, batch: list[InputRecord | Rejection] | CheckedBatch) -> list[Rejection]:
        """Queue a chunk's records; return the refusals, in input order."""
        if self.options.shard is not None:  # read in process: never a CheckedBatch
            assert not isinstance(batch, CheckedBatch)
            return self._add_share(batch, *self.options.shard)
        if self.journal is not None and (self._carried or self._has_history):
            return self._add_known(batch.records() if isinstance(batch, CheckedBatch) else batch)
        if isinstance(batch, CheckedBatch):
            self.records_read += len(batch.urls)
            _added, refused = self.queue.add_checked(batch)
            return refused
        self.records_read += sum(1 for record in batch if not isinstance(record, Rejection))
        _added, refused = self.queue.add_records(batch)
        return refused

    def _add_share(
        self, batch: list[InputRecord | Rejection], share: int, count: int
    ) -> list[Rejection]:
        """``--shard``: queue this share's records; keep the others' paths in view.

        Every share reads the whole input, so each refuses exactly what one run
        over all of it would: a path that is a file in one record and a folder
        in an earlier one is refused wherever it falls, and shares never clash
        when their branches are merged.
        """
        refused: list[Rejection] = []
        for record in batch:
            if isinstance(record, Rejection):
                refused.append(record)
                continue
            path = destination(record)
            if shard_of(record, count) != share:
                self.other_shards += 1
                if path is not None:
                    try:
                        self.queue.check_path(path)
                        self._other_shares.check(path)
                    except ValidationError:
                        continue  # its own share refuses it, as one run would
                    self._other_shares.claim(path, 0)
                continue
            if path is not None:
                try:
                    self._other_shares.check(path)
                except ValidationError as error:
                    reason = f"{error} (in another share of --shard)"
                    refused.append(Rejection(record.source, record.line, reason, record.url))
                    continue
            rejection = self._add(record)
            if rejection is not None:
                refused.append(rejection)
        return refused

    def _earlier_entries(
        self, records: list[InputRecord | Rejection]
    ) -> dict[str, JournalItem] | None:
        """What earlier runs journalled as done for these records' destinations, in one
        look-up (None: look each up alone)."""
        if not self._has_history or self.journal is None:
            return None
        paths = [destination(r) for r in records if not isinstance(r, Rejection)]
        try:
            return self.journal.find_done(path for path in paths if path is not None)
        except JournalError:
            return None

    def _add_known(self, records: list[InputRecord | Rejection]) -> list[Rejection]:
        """Queue a chunk's records in a run the journal may know them from (a resumed run's,
        or added by an earlier run); return the refusals, in line order."""
        earlier = self._earlier_entries(records)
        refused: list[Rejection] = []
        fresh: list[InputRecord | Rejection] = []
        taken: set[str] = set()  # the paths of the fresh records

        def add_fresh() -> None:  # one bulk add for the fresh records so far
            refused.extend(self.queue.add_records(fresh)[1])
            fresh.clear()
            taken.clear()

        for record in records:
            if isinstance(record, Rejection):
                refused.append(record)
                continue
            self.records_read += 1
            path = destination(record)
            if path in taken:
                add_fresh()  # what _known says of this one depends on whether they were
            known = self._known(record, path, earlier)
            if isinstance(known, Rejection):
                refused.append(known)
            elif known is None:
                fresh.append(record)
                if path is not None:
                    taken.add(path)
        add_fresh()
        refused.sort(key=lambda rejection: rejection.line)
        return refused

    def _add(self, record: InputRecord) -> Rejection | None:
        self.records_read += 1
        if self.journal is not None and (self._carried or self._has_history):
            known = self._known(record, destination(record), None)
            if known is not None:
                return known if isinstance(known, Rejection) else None
        _added, refused = self.queue.add_records([record])
        return refused[0] if refused else None

    def _known(
        self,
        record: InputRecord,
        path: str | None,
        earlier: dict[str, JournalItem] | None,
    ) -> Rejection | bool | None:
        """A record the journal already knows: True (merged or already added), a Rejection,
        or None to add it as usual. ``path``: where it goes (None: refused); ``earlier``:
        the journal's done entries of a chunk's paths."""
        assert self.journal is not None
        try:
            url = check_url(record.url, self.queue.schemes)
        except ValueError:
            return None  # the queue gives the reason
        if path is None:
            return None
        owner = self.queue.owner(path)
        if owner is not None and owner in self._carried:
            item = self.queue.get(owner)
            if item.url != url:
                return Rejection(
                    record.source,
                    record.line,
                    f"the resumed run downloads {path!r} from another URL ({item.url})",
                    record.url,
                )
            self.merged_records += 1
            self._merged[record.location] = owner
            return True
        if not self._has_history or owner is not None:
            return None
        try:
            entry = self.journal.find_path(path) if earlier is None else earlier.get(path)
        except JournalError:
            return None
        if (
            entry is not None
            and entry.state == "done"
            and entry.settled >= STAGED
            and entry.url == url
            # Metadata and extra URLs always go to git-annex again: whether an earlier
            # run recorded them is not known (a run may have died before it did).
            and not record.metadata
            and not record.extra_urls
            and path in self._indexed
        ):
            self.already_added += 1
            self._added_before.add(record.location)
            return True
        return None

    def _retry(self, event: ItemFinished) -> LogLine | None:
        """Try a transient failure again after a growing pause, while it has retries left.

        Not after a stop, and not for permanent failures (404, refused...). The
        item waits as failed, with a note saying when it goes again; then it is
        sent first, never behind the rest of the queue.
        """
        item = self.queue.get(event.item_id)
        retries = self.options.retries
        if self.session.stop_requested or not retries or item.attempts > retries:
            return None
        if not is_transient(item.errors):
            return None
        delay = backoff(item.attempts, base=self.options.retry_wait, rng=self._rng)
        item.note = f"retry {item.attempts} of {retries} in {delay:.0f} s"
        loop = asyncio.get_running_loop()
        self._retry_timers[item.id] = loop.call_later(delay, self._retry_now, item.id)
        reason = "; ".join(item.errors) or "failed"
        return LogLine(
            source="app",
            level="warning",
            text=f"{item.path}: {reason}; retry {item.attempts} of {retries} in {delay:.1f} s",
            item_id=item.id,
        )

    def _retry_now(self, item_id: int) -> None:
        self._retry_timers.pop(item_id, None)
        if not self.session.stop_requested and item_id in self.queue:
            retried = self.queue.retry([item_id])
            self.queue.move_to_top(item.id for item in retried)
        self._maybe_close_queue()

    def _cancel_retries(self) -> None:
        for item_id, handle in self._retry_timers.items():
            handle.cancel()
            self._retries_held.add(item_id)
            if item_id in self.queue:
                self.queue.get(item_id).note = "its retry was called off by the stop"
        self._retry_timers.clear()
        self._maybe_close_queue()

    def _retry_held(self) -> None:
        """A stop was taken back: retry the failures whose retry it called off, now."""
        held, self._retries_held = self._retries_held, set()
        for item_id in sorted(held):
            if item_id in self.queue and self.queue.get(item_id).state is ItemState.FAILED:
                self._retry_now(item_id)

    def _maybe_close_queue(self) -> None:
        """Close the queue (git-annex's input ends) once no more work can come.

        That is once the input is read, no retry is waiting, and no item, queued
        or in flight, could still fail into a retry: a retry then goes to the
        running git-annex instead of waiting for it to finish a stuck download.
        """
        if not self._inputs_done or self._retry_timers:
            return
        counts = self.queue.counts()
        # An interrupted item is about to be sent again (a restart) or to fail into a retry.
        busy = counts[ItemState.SENT] or counts[ItemState.INTERRUPTED] or self.queue.has_pending()
        if busy and self.options.retries and not self.session.stop_requested:
            return
        self.queue.close()

    # -- the end of a round -----------------------------------------------------------

    async def _finish_round(self, repo: Repo, done_before: set[int]) -> RoundFinished:
        report = self.queue.report()
        fresh = [item for item in report.done if item.id not in done_before]
        # Done means in the index, checked: git-annex answers success without staging
        # a file that was already there, and git refuses some paths.
        await self._wait_for_index_lock(repo, quiet=True)
        settled = set(await settle_added(repo, self.queue, fresh, self.options.addurl_options))
        # git-annex's "success" was reported as it came: correct what git did not stage.
        self._notices.extend(
            ItemFinished(
                item_id=item.id,
                url=item.url,
                path=item.path,
                success=False,
                key=item.key,
                errors=item.errors,
            )
            for item in fresh
            if item.id not in settled
        )
        if self.journal is not None:
            self._journal_call(self.journal.settle, settled, STAGED)
        report = self.queue.report()
        added = [item.path for item in report.done if item.id in settled]
        committed: str | None = None
        holds: list[str] = []
        self.commit_error = None
        problems = bool(report.failed or report.interrupted or report.unsent)
        if self.options.commit and added and (self.options.commit_on_failure or not problems):
            message = self.options.message.replace("{count}", str(len(added)))
            try:
                committed, holds = await repo.commit_paths(added, message)
            except GitError as error:
                self.commit_error = str(error)
            if committed is not None:
                self.commits.append(committed)
                if self.journal is not None:
                    self._journal_call(self.journal.settle, settled, COMMITTED)
        if self.options.failures is not None:
            self._write_failures(report)
        held_back = bool(problems and added and self.options.commit and committed is None)
        self.faults_beyond_the_queue = bool(
            self.rejected
            or self.annotation_failures
            or self.commit_error
            or self.failures_error
            or held_back
        )
        if self.interrupted:
            code = EXIT_INTERRUPTED
        elif not len(self.queue) and not self.queue.forgotten and not self._nothing_left_to_do():
            code = EXIT_USAGE
        elif (
            problems
            or self.rejected
            or self.annotation_failures
            or self.commit_error
            or self.failures_error
        ):
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
            committed_files=len(holds),
            commit_error=self.commit_error,
            already_added=self.already_added,
            exit_code=code,
        )

    def _write_failures(self, report: StopReport) -> None:
        """Write ``-F``: what is left to do, as an input to feed back in.

        When ``-F`` names an input file, that file is rewritten without the
        records that were added: everything else in it stays, records never
        read included.
        """
        target = self.options.failures
        assert target is not None
        self.failures_written = False
        self.failures_error = None
        try:
            source = self._failures_input()
            if source is None:
                write_failures(target, [*report.failed, *report.interrupted, *report.unsent])
            else:
                name, path = source
                done = {item.id for item in report.done}
                added = {item.location for item in report.done} | self._added_before
                added |= {where for where, item_id in self._merged.items() if item_id in done}
                options = self.options
                drop_finished_lines(
                    name,
                    lambda record: record.location in added,
                    path=path,
                    input_format=options.input_format,
                    url_column=options.url_column,
                    path_column=options.path_column,
                    metadata_columns=options.metadata_columns,
                )
        except OSError as error:
            self.failures_error = f"could not write {target}: {error.strerror or error}"
            self._write_log(LogLine(source="app", level="error", text=self.failures_error))
            return
        self.failures_written = True

    def _failures_input(self) -> tuple[str, Path] | None:
        """The input ``-F`` names (the same file, by inode, standard input too), if any:
        the input's name as read, and the file behind it."""
        target = self.options.failures
        if target is None or not target.exists():
            return None
        wanted = target.stat()
        for name in self.options.inputs:
            try:
                found = os.fstat(0) if name == "-" else os.stat(name)
            except OSError:
                continue
            if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
                return name, target
        return None

    def _check_failures_file(self) -> None:
        """Refuse an ``-F`` that cannot be written, before anything is downloaded."""
        target = self.options.failures
        if target is None:
            return
        if target.is_dir():
            raise RepoError(f"-F {target} is a folder; name a file")
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise RepoError(f"-F {target} is not a regular file; name a file it may replace")
        if target.exists() and not target.stat().st_mode & 0o200:
            raise RepoError(f"-F {target} is read-only")
        folder = target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Proof by trying: permission bits say nothing for root, or on /proc.
            handle, probe = tempfile.mkstemp(prefix=".tui-annex-probe-", dir=folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            raise RepoError(
                f"-F {target}: cannot write in {folder}: {error.strerror or error}"
            ) from error

    def _nothing_left_to_do(self) -> bool:
        """Whether every input record was added by an earlier run (a success, not bad input)."""
        return bool(self.already_added or self.merged_records or self.resumed)

    # -- the journal ------------------------------------------------------------------

    async def _start_journal(self, repo: Repo) -> list[Event]:
        """Lock the repository, open (or set aside) the journal, stop what a dead run left
        running, and carry its unfinished items over. Before anything is sent."""
        self._has_history = False
        git_dir = git_dir_of(repo.path)
        if git_dir is None:
            result = await repo.git("rev-parse", "--absolute-git-dir")
            git_dir = Path(result.stdout.strip())
        path = journal_path(git_dir)
        try:
            # One run at a time in a repository, journal or not.
            self._lock_fd = lock_repository(path.parent)
        except OSError as error:
            return [_journal_unavailable(error)] if self.options.journal else []
        if not self.options.journal:
            return []
        messages: list[Event] = []
        try:
            if self.options.resume == "fresh":
                moved = set_aside(path, "before")
                if moved is not None:
                    messages.append(
                        _info(f"started afresh; the old journal is kept as {moved.name}")
                    )
            journal = self._open_journal(path, messages)
            try:
                offer, entries = await self._read_journal(journal, messages)
            except JournalError as error:
                # Damaged inside (a column that does not parse): never trusted.
                journal.close()
                journal = self._replace_journal(path, error, messages)
                offer, entries = None, []
            journal.start_run(
                self.options.record(),
                self.options.inputs,
                resumed_from=offer.run.id if offer else None,
            )
        except (JournalError, OSError) as error:
            return [*messages, _journal_unavailable(error)]
        self.journal = journal
        self.run_id = journal.run_id
        self.queue.observer = journal
        if self._has_history:
            self._indexed = await repo.indexed_paths_all()
        if offer is not None:
            self.resumed = offer
            carried = await carry_over(self.queue, journal, repo, offer, entries)
            self._carried = set(carried.items)
            self._carried_done = {
                item_id
                for item_id in carried.items
                if self.queue.get(item_id).state.value == "done"
            }
            messages.extend(carried.messages)
        elif self.options.resume == "resume":
            messages.append(_info("no unfinished run in this repository to resume"))
        if self.options.from_run is not None:
            try:
                messages.append(self._requeue_run(journal, self.options.from_run))
            except JournalError as error:
                raise RepoError(str(error)) from error
        self._flush_journal()
        return messages

    async def _read_journal(
        self, journal: Journal, messages: list[Event]
    ) -> tuple[ResumeOffer | None, list[JournalItem]]:
        """Stop left-over processes; find the run to resume and read its items."""
        messages.extend(await stop_left_over_processes(journal, self.options.grace))
        self._has_history = journal.has_items()
        offer = resume_offer(journal) if self.options.resume != "fresh" else None
        entries = list(journal.items(offer.run.id)) if offer is not None else []
        return offer, entries

    def _requeue_run(self, journal: Journal, run_id: int) -> LogLine:
        """Queue the failed, interrupted and unsent items of an earlier run (``--from-run``)."""
        if journal.run(run_id) is None:
            raise RepoError(f"there is no run {run_id} in this repository's journal")
        queued = 0
        for entry in journal.items(run_id, ("failed", "queued", "sent", "interrupted")):
            if self.queue.owner(entry.path) is not None:
                continue
            try:
                item = self.queue.restore(
                    entry.url,
                    entry.path,
                    metadata=entry.metadata,
                    extra_urls=entry.extra_urls,
                    source=entry.source,
                )
            except ValueError:
                continue
            self._carried.add(item.id)
            queued += 1
        return _info(f"queued {queued} failed or unfinished item(s) of run {run_id}")

    def _replace_journal(self, path: Path, error: JournalError, messages: list[Event]) -> Journal:
        moved = set_aside(path, "unreadable")
        messages.append(
            LogLine(
                source="app",
                level="warning",
                text=f"{error}; it was set aside as {moved.name if moved else '?'} and a "
                "new journal started (nothing in it is trusted)",
            )
        )
        self._has_history = False
        return Journal.open(path)

    def _open_journal(self, path: Path, messages: list[Event]) -> Journal:
        """Open the journal; one that cannot be read is set aside (kept) and a new one started."""
        try:
            return Journal.open(path)
        except JournalError as error:
            return self._replace_journal(path, error, messages)

    def _journal_event(self, event: Event) -> None:
        """Write the journal before ``event`` reports an outcome anywhere.

        Outcomes (done, failed, interrupted: the item's row alone) and processes
        are written first, always; other changes ("sent", progress) ride along, at least every
        :data:`~tui_annex.journal.FLUSH_LAG` seconds (a screen flushes before it draws). A
        "sent" the journal missed only means the item is sent again on resume.
        """
        journal = self.journal
        if journal is None:
            return
        if isinstance(event, ProcessStarted):
            journal.process_started(event.pid, event.argv)
        elif isinstance(event, ProcessExited):
            journal.process_ended(event.pid)
        if isinstance(event, ItemFinished | ItemInterrupted) and event.item_id in self.queue:
            self._journal_call(journal.flush_soon, True, self.queue.get(event.item_id))
        else:
            self._journal_call(journal.flush_soon, isinstance(event, RoundFinished))

    def _flush_journal(self) -> None:
        if self.journal is not None:
            self._journal_call(self.journal.flush)

    def _journal_call(self, call: Any, *args: Any) -> None:
        """Call the journal; a failure stops journaling (said once), never the downloads."""
        journal = self.journal
        if journal is None:
            return
        try:
            call(*args)
        except JournalError as error:
            journal.failed = str(error)
        if journal.failed is not None and not self._journal_failure_said:
            self._journal_failure_said = True
            said = LogLine(
                source="app",
                level="error",
                text=f"journal: {journal.failed}; the downloads go on, but this run cannot "
                "be resumed after a crash",
            )
            self._write_log(said)
            self._notices.append(said)

    async def _check_addurl_options(self, repo: Repo) -> None:
        """Fail at start, with git-annex's own words, on ``--addurl-opts`` it refuses.

        Found later, every item would end "interrupted" with a usage text in the log.
        """
        options = self.options.addurl_options
        if not options:
            return
        probe = await repo.annex("addurl", "--batch", *options, check=False, input=b"")
        if probe.returncode != 0:
            said = [line for line in probe.stderr.splitlines() if line.strip()]
            reason = said[0] if said else f"exit status {probe.returncode}"
            raise RepoError(f"git annex addurl refuses the options {' '.join(options)}: {reason}")

    async def _wait_for_index_lock(self, repo: Repo, *, quiet: bool = False) -> None:
        """Wait (bounded) for another git command's ``index.lock``; raise RepoError if it stays."""
        git_dir = git_dir_of(repo.path)
        if git_dir is None:
            return
        lock = git_dir / "index.lock"
        if not lock.exists():
            return
        if not quiet:
            self._write_log(_info(f"waiting for {lock} (another git command is running)"))
        deadline = time.monotonic() + INDEX_LOCK_WAIT
        while lock.exists():
            if time.monotonic() > deadline:
                if quiet:
                    return  # the check of what is staged then says what could not be added
                raise RepoError(
                    f"the repository's index is locked ({lock} exists): another git command "
                    "is running, or one crashed; remove the file once no git command runs"
                )
            await asyncio.sleep(0.2)

    # -- the log file -----------------------------------------------------------------

    @property
    def log_path(self) -> Path | None:
        """The log file this run writes (None: none)."""
        return self.options.log_file

    def _open_log(self) -> None:
        path = self.options.log_file
        if path is None or self._log is not None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The log may hold paths and hosts the user keeps private: owner only.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)
            self._log = open(fd, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        except OSError as error:
            self._log_failed(error)

    def _log_failed(self, error: OSError) -> None:
        """A log problem never stops the downloads; it is said once, on screen."""
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
        self._log = None
        if not self._log_failure_said:
            self._log_failure_said = True
            self._notices.append(
                LogLine(
                    source="app",
                    level="warning",
                    text=f"no log file: {self.options.log_file}: {error.strerror or error}; "
                    "the run goes on without one",
                )
            )

    def _write_log(self, event: Event) -> None:
        if self._log is None or isinstance(event, ItemProgress):
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.time))
        try:
            self._log.write(f"{stamp} {describe(event)}\n")
            self._log.flush()
        except OSError as error:  # a full disk, a vanished folder
            self._log_failed(error)

    def close(self) -> None:
        """Write how the run ended to the journal; close it and the log file."""
        self.close_early()  # a run that never read its inputs
        journal, self.journal = self.journal, None
        if journal is not None:
            self._end_run(journal)
            journal.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def exit_code(self) -> int:
        """The run's exit status (:func:`exit_status`), the one rule every front end reports.

        A round that ended with failures the user then removed from the queue
        (and nothing else wrong) ends the run with 0: the report shows nothing
        failed, and the exit status says the same.
        """
        code = exit_status(
            self.last_round,
            interrupted=self.interrupted,
            refused=self.start_error is not None,
            pending=self.queue.has_pending(),
        )
        if code == EXIT_FAILED and self.last_round is not None and not self.faults_beyond_the_queue:
            report = self.queue.report()
            if report.done and not (
                report.failed or report.interrupted or report.unsent or report.in_flight
            ):
                return EXIT_OK
        return code

    def _end_run(self, journal: Journal) -> None:
        report = self.queue.report()
        code = self.exit_code()
        outcome = {EXIT_OK: "complete", EXIT_INTERRUPTED: "stopped", EXIT_USAGE: "no input"}.get(
            code, "failed"
        )
        if self.start_error is not None:
            outcome = "refused"
        counts = {
            "done": len(report.done),
            "failed": len(report.failed),
            "interrupted": len(report.interrupted) + len(report.in_flight),
            "unsent": len(report.unsent),
            "rejected": len(self.rejected),
        }
        with contextlib.suppress(JournalError):
            journal.end_run(outcome=outcome, exit_code=code, commits=self.commits, counts=counts)


def exit_status(
    last_round: RoundFinished | None, *, interrupted: bool, refused: bool, pending: bool
) -> int:
    """A run's exit status from its last round and how it ended.

    0 everything added; 1 something failed, was refused or never sent (items
    added or resumed after the last round, still ``pending``, included), or the
    commit failed; 2 no valid input, or a repository the run could not start in
    (``refused``); 130 stopped by the user.
    """
    if refused:
        return EXIT_USAGE
    if interrupted:
        return EXIT_INTERRUPTED
    if last_round is None:
        return EXIT_FAILED
    if last_round.exit_code == EXIT_OK and pending:
        return EXIT_FAILED
    return last_round.exit_code


def _journal_unavailable(error: Exception) -> LogLine:
    return LogLine(
        source="app",
        level="error",
        text=f"no journal for this run ({error}): it cannot be resumed after a crash",
    )


def _info(text: str) -> LogLine:
    return LogLine(source="app", level="info", text=text)


def describe(event: Event) -> str:
    """One plain line for an event, as the log file and plain output show it (secrets masked)."""
    return redact(_describe(event))


def _describe(event: Event) -> str:
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
        if event.already_added:
            parts.append(f"{event.already_added} added before")
        commit = f"; committed {event.committed[:12]}" if event.committed else ""
        if event.committed and event.committed_files != event.done:
            commit += f" ({event.committed_files} file(s))"
        if event.commit_error:
            commit = f"; COMMIT FAILED, files left staged: {event.commit_error}"
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
