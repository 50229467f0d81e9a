"""Picking up after a run that died: left-over processes, unfinished items, unstaged files.

Every start, before anything is sent: a git-annex an earlier run left running
is stopped; the unfinished run's items are carried into the queue; and what
git-annex finished without staging is staged and counts as done. At the end of
every round :func:`settle_added` checks that what git-annex called added is in
the index, so the report never says "done" for a file git does not track.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .annex.batch import group_alive, stop_group
from .annex.repo import (
    WITHOUT_CONTENT,
    GitError,
    Repo,
    dangling_link,
    in_real_folder,
    lacks_content,
    link_key,
    plain_file_size,
)
from .events import LogLine
from .items import DownloadItem, ItemState
from .journal import (
    COMMITTED,
    NOT_VERIFIED,
    UNFINISHED_STATES,
    Journal,
    JournalItem,
    RunRecord,
    process_start_time,
    when,
)
from .queue import DownloadQueue
from .validation import ValidationError

__all__ = [
    "ResumeOffer",
    "carry_over",
    "leftovers_removed",
    "resume_offer",
    "settle_added",
    "stop_left_over_processes",
]

#: Journal states of items whose outcome the dead run never learned.
_IN_FLIGHT_STATES = (ItemState.SENT.value, ItemState.INTERRUPTED.value)


@dataclass(frozen=True)
class ResumeOffer:
    """What an unfinished run left: its record and its items by what became of them."""

    run: RunRecord
    done: int
    """Items it added (files in the repository)."""
    left: int
    """Items it never finished: never sent, or in flight when it ended."""
    in_flight: int
    """Of those, the ones git-annex was working on when the run ended."""
    failed: int

    def describe(self) -> str:
        """One sentence for the user."""
        how = "died" if self.run.died else "was stopped"
        return (
            f"run {self.run.id} ({when(self.run.started)}) {how}: {self.done} added, "
            f"{self.left} left ({self.in_flight} in flight), {self.failed} failed"
        )


def resume_offer(journal: Journal) -> ResumeOffer | None:
    """The unfinished run of this repository with its counts, or None."""
    run = journal.unfinished_run()
    if run is None:
        return None
    counts = journal.state_counts(run.id)
    left = sum(counts.get(state, 0) for state in UNFINISHED_STATES)
    in_flight = sum(counts.get(state, 0) for state in _IN_FLIGHT_STATES)
    return ResumeOffer(
        run=run,
        done=counts.get(ItemState.DONE.value, 0),
        left=left,
        in_flight=in_flight,
        failed=counts.get(ItemState.FAILED.value, 0),
    )


async def stop_left_over_processes(journal: Journal, grace: float) -> list[LogLine]:
    """Stop every git-annex an earlier run left running (never a process that reused its pid)."""
    messages: list[LogLine] = []
    gone: list[int] = []
    for pid, started, argv in journal.left_running():
        now = process_start_time(pid)
        ours = now is not None and now == started
        # A dead leader whose group still has members: the group id cannot have been reused.
        orphans = now is None and group_alive(pid)
        if ours or orphans:
            await stop_group(pid, grace)
            command = " ".join(os.path.basename(word) for word in argv[:2])
            messages.append(
                LogLine(
                    source="app",
                    level="warning",
                    text=f"stopped {command} (pid {pid}) left running by an earlier tui-annex",
                )
            )
        gone.append(pid)
    if gone:
        journal.forget_processes(gone)
    return messages


@dataclass
class CarriedOver:
    """What :func:`carry_over` put into the queue."""

    items: dict[int, JournalItem]
    """New item id to the journal entry it came from."""
    done: list[int]
    """Items found added (staged now, or waiting for this run's commit)."""
    messages: list[LogLine]


async def carry_over(
    queue: DownloadQueue,
    journal: Journal,
    repo: Repo,
    offer: ResumeOffer,
    entries: Iterable[JournalItem],
) -> CarriedOver:
    """Queue the unfinished run's items in this run, after reconciling them with the repository.

    ``entries`` are that run's items, read from ``journal`` beforehand. Items
    in flight when that run ended come first. A file git-annex finished
    but never staged is staged and counts as done; an interrupted download is
    sent again (git-annex resumes it with a Range request).
    """
    committing = bool(offer.run.options.get("commit", True))
    carried: dict[int, JournalItem] = {}
    moves: list[tuple[JournalItem, int]] = []
    refused: list[str] = []
    check: list[DownloadItem] = []
    for entry in entries:
        unsettled_done = entry.state == ItemState.DONE.value and (
            entry.settled == NOT_VERIFIED or (committing and entry.settled < COMMITTED)
        )
        if entry.state not in UNFINISHED_STATES and not unsettled_done:
            continue
        try:
            item = queue.restore(
                entry.url,
                entry.path,
                metadata=entry.metadata,
                extra_urls=entry.extra_urls,
                source=entry.source,
                attempts=entry.attempts,
                first=entry.state in _IN_FLIGHT_STATES,
            )
        except (ValidationError, ValueError) as error:
            refused.append(f"{entry.path}: {error}")
            continue
        item.existed = entry.existed
        carried[item.id] = entry
        moves.append((entry, item.id))
        if entry.state != ItemState.QUEUED.value or entry.existed is False:
            check.append(item)  # it was sent: git-annex may have left its file
    journal.adopt(moves)
    made_with = offer.run.options.get("addurl_options")
    addurl_options = [str(word) for word in made_with] if isinstance(made_with, list) else []
    done, reconciled = await _reconcile(queue, repo, check, carried, addurl_options)
    messages = [
        LogLine(
            source="app",
            level="info",
            text=f"resuming {offer.describe()}; {len(carried) - len(done)} to send, "
            f"{len(done)} found added",
        )
    ]
    messages.extend(
        LogLine(source="app", level="warning", text=f"not carried over: {why}") for why in refused
    )
    messages.extend(reconciled)
    return CarriedOver(items=carried, done=done, messages=messages)


async def _reconcile(
    queue: DownloadQueue,
    repo: Repo,
    items: Sequence[DownloadItem],
    carried: dict[int, JournalItem],
    addurl_options: Sequence[str],
) -> tuple[list[int], list[LogLine]]:
    """Mark done what the repository holds; add what git-annex left unadded."""
    plain = {item.path for item in items if plain_file_size(repo.path, item.path) is not None}
    indexed, keys = await in_index_after_staging(
        repo,
        items,
        lambda item: _made_by_git_annex(repo.path, item, carried[item.id]),
        addurl_options,
    )
    done = []
    urls = []
    dangling = []
    for item in items:
        if item.path not in indexed:
            entry = carried[item.id]
            if entry.existed is False and dangling_link(repo.path, item.path):
                dangling.append(item.path)
            continue
        key = carried[item.id].key or keys.get(item.path) or link_key(repo.path, item.path)
        queue.mark_carried_done(item, key=key)
        done.append(item.id)
        if item.path in plain and item.path in keys:
            # Killed before it added the download, git-annex had not recorded its URL.
            urls.append((keys[item.path], item.url))
    messages = []
    for path in dangling:
        # Killed after making the link and before moving the download in: sent again
        # with the link there, git-annex would call it added without its content.
        with contextlib.suppress(FileNotFoundError):
            (repo.path / path).unlink()
    if dangling:
        messages.append(leftovers_removed(dangling, "link(s) git-annex left without their content"))
    try:
        await repo.register_urls(urls)
    except GitError as error:
        messages.append(
            LogLine(source="app", level="warning", text=f"recording the web's URLs: {error}")
        )
    return done, messages


def _made_by_git_annex(top: Path, item: DownloadItem, entry: JournalItem) -> bool:
    """Whether what is at the item's path is git-annex's finished work for it."""
    path = top / item.path
    if path.is_symlink():
        # An annexed file: a link into the object store, with the object present.
        return "/annex/objects/" in os.readlink(path) and path.exists()
    if entry.existed is not False:
        return False  # something was there when it was sent (the journal holds that first)
    size = plain_file_size(top, item.path)
    if size is None:
        return False
    if entry.state == ItemState.DONE.value:
        # git-annex said it added it: a small file it put in git, or an unlocked one. The
        # size its key names, when it names one, is the file's.
        return _key_size(entry.key) in (None, size)
    # Killed between moving the finished download into place and adding it: the whole
    # download. Anything else (a file of another size) is not this download's.
    if entry.total is not None:
        return size == entry.total
    # Killed before the journal heard of a byte: nothing says what size it should be
    # (a small file is often written before its first progress is journaled).
    return size >= entry.bytes_done


def _key_size(key: str | None) -> int | None:
    """The size a key names (``SHA256E-s1234--…``), if it names one."""
    if key is None:
        return None
    fields = key.split("--", 1)[0].split("-")
    sizes = [field[1:] for field in fields[1:] if field.startswith("s") and field[1:].isdigit()]
    return int(sizes[0]) if sizes else None


async def in_index_after_staging(
    repo: Repo,
    items: Sequence[DownloadItem],
    ours: Callable[[DownloadItem], bool],
    addurl_options: Sequence[str] = (),
) -> tuple[set[str], dict[str, str]]:
    """The items' paths in the index, once those not in it that ``ours`` accepts are added,
    and the key of each one added to the annex."""
    if not items:
        return set(), {}
    indexed = await repo.indexed_paths(item.path for item in items)
    to_stage = [item.path for item in items if item.path not in indexed and ours(item)]
    keys: dict[str, str] = {}
    if to_stage:
        keys = await stage_each(repo, to_stage, addurl_options)
        indexed |= await repo.indexed_paths(to_stage)
    return indexed, keys


async def stage_each(
    repo: Repo, paths: Iterable[str], addurl_options: Sequence[str] = ()
) -> dict[str, str]:
    """Add ``paths`` as addurl would have (:meth:`Repo.stage`); a bad one fails alone.
    Return the keys of those added to the annex."""
    listed = [path for path in paths if os.path.lexists(repo.path / path)]
    if not listed:
        return {}
    try:
        return await repo.stage(listed, addurl_options)
    except GitError:
        return {}  # what is not in the index afterwards fails, with the reason


async def settle_added(
    repo: Repo,
    queue: DownloadQueue,
    items: Sequence[DownloadItem],
    addurl_options: Sequence[str] = (),
) -> list[int]:
    """Check that every item git-annex called added is in the index, with its content
    unless the options added it without (``--fast``, ``--relaxed``); stage the ones
    that are not in the index.

    git-annex answers success without staging for a file that was already there
    (finished by a run that died, or ``git rm --cached``), and git refuses some
    paths outright. It also answers success, registering the URL, when a link to
    an object this repository lacks is at the path: nothing was downloaded. What
    still is not in the index afterwards, or has no content, fails, with the
    reason. Return the ids of the items that are in the index.
    """
    indexed, _keys = await in_index_after_staging(repo, items, lambda _item: True, addurl_options)
    downloaded = not WITHOUT_CONTENT.intersection(addurl_options)
    settled = []
    for item in items:
        if item.path in indexed and not (downloaded and lacks_content(repo.path, item.path)):
            settled.append(item.id)
            continue
        if item.path in indexed:
            why = (
                "not downloaded: an annexed file whose content this repository lacks was "
                "at its path, and git-annex only recorded the URL for it "
                "('git annex get' fetches it)"
            )
        elif not os.path.lexists(repo.path / item.path):
            why = "git-annex reported it added, but the file is missing"
        else:
            why = (
                "git-annex reported it added, but git did not stage it "
                "(the index is locked, or git refuses the path)"
            )
            if item.existed is False and _remove_made(repo.path, item.path):
                # Left there, sent again, it would fail as "already exists" in every run.
                why += "; its file was removed, so that it downloads again"
        queue.mark_finished(item, success=False, key=item.key, errors=(why,), note=None)
    return settled


def _remove_made(top: Path, path: str) -> bool:
    """Remove the file or link git-annex made at ``path`` (in a real folder of the
    repository); whether it is gone."""
    where = top / path
    if not ((where.is_symlink() or where.is_file()) and in_real_folder(top, path)):
        return False
    try:
        where.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def leftovers_removed(paths: Sequence[str], what: str) -> LogLine:
    """The warning that ``paths``, ``what`` git-annex left when it ended, were removed."""
    more = ", …" if len(paths) > 3 else ""
    return LogLine(
        source="app",
        level="warning",
        text=f"removed {len(paths)} {what} ({', '.join(paths[:3])}{more}); they download again",
    )
