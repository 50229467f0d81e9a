"""The journal: every item's life and every run, in SQLite inside the repository's git folder.

A run that dies (kill -9, the OOM killer, a crash, a reboot) leaves the journal
as it was at its last flush; the next run reads it to resume. Writes are
batched: the queue reports each changed item (:meth:`Journal.item_changed`),
and :meth:`Journal.flush` writes them all in one transaction. Callers flush
before a change is shown or printed, so nothing is reported that the journal
does not hold. WAL mode lets ``tui-annex status`` read while a run writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .annex.repo import RepoError
from .items import DownloadItem, ItemState, grow_to

__all__ = [
    "JOURNAL_NAME",
    "Journal",
    "JournalBusy",
    "JournalError",
    "JournalItem",
    "RunRecord",
    "git_dir_of",
    "journal_path",
    "lock_repository",
    "process_start_time",
    "set_aside",
    "when",
]

#: The journal's folder inside the git directory, and its file name there.
JOURNAL_FOLDER = "tui-annex"
JOURNAL_NAME = "journal.sqlite"
SCHEMA_VERSION = 1

#: Seconds between writes of in-flight progress (bytes, speed) for ``tui-annex status``.
PROGRESS_EVERY = 1.0

#: Longest delay (seconds) before a change that is not an outcome is written.
FLUSH_LAG = 0.2

#: Item states as the journal writes them; ``removed`` is the journal's own.
REMOVED = "removed"
UNFINISHED_STATES = (ItemState.QUEUED.value, ItemState.SENT.value, ItemState.INTERRUPTED.value)

#: ``settled``: what is known of a done item's place in git.
NOT_VERIFIED, STAGED, COMMITTED = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL,
    pid INTEGER NOT NULL,
    pid_start INTEGER,
    options TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outcome TEXT,
    exit_code INTEGER,
    commits TEXT NOT NULL DEFAULT '[]',
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    unsent INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER,
    resumed_by INTEGER
);
CREATE TABLE IF NOT EXISTS items (
    run INTEGER NOT NULL,
    item INTEGER NOT NULL,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    key TEXT,
    errors TEXT NOT NULL DEFAULT '[]',
    note TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    extra_urls TEXT NOT NULL DEFAULT '[]',
    source TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    rate REAL NOT NULL DEFAULT 0,
    settled INTEGER NOT NULL DEFAULT 0,
    existed INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (run, item)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_path ON items (path);
CREATE INDEX IF NOT EXISTS items_state ON items (run, state);
CREATE TABLE IF NOT EXISTS processes (
    pid INTEGER NOT NULL,
    pid_start INTEGER,
    run INTEGER NOT NULL,
    argv TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    PRIMARY KEY (pid, started)
);
"""

#: Column order of ``SELECT *`` from each table.
_RUN_COLUMNS = [
    "id",
    "started",
    "ended",
    "pid",
    "pid_start",
    "options",
    "inputs",
    "outcome",
    "exit_code",
    "commits",
    "done",
    "failed",
    "interrupted",
    "unsent",
    "rejected",
    "resumed_from",
    "resumed_by",
]
_PATHS_A_QUERY = 500  # under SQLite's oldest limit of 999 parameters a statement
_ITEM_COLUMNS = [
    "run",
    "item",
    "url",
    "path",
    "state",
    "key",
    "errors",
    "note",
    "metadata",
    "extra_urls",
    "source",
    "attempts",
    "bytes_done",
    "total",
    "rate",
    "settled",
    "existed",
    "updated",
]

_UPSERT = """
INSERT INTO items (run, item, url, path, state, key, errors, note, metadata, extra_urls,
                   source, attempts, bytes_done, total, rate, existed, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run, item) DO UPDATE SET
    url = excluded.url, path = excluded.path, state = excluded.state, key = excluded.key,
    errors = excluded.errors, note = excluded.note, attempts = excluded.attempts,
    bytes_done = excluded.bytes_done, total = excluded.total, rate = excluded.rate,
    existed = excluded.existed, updated = excluded.updated,
    settled = CASE WHEN excluded.state = 'done' THEN items.settled ELSE 0 END
WHERE excluded.updated >= items.updated
"""
#: An older version of an item never overwrites a newer one (``updated`` only grows), so
#: a write at once may overtake the writer thread's backlog.

#: The same for many rows in one statement, from one JSON array: SQLite walks it without
#: the GIL, where ``executemany`` takes the GIL back for every row (a writer thread that
#: does so stalls the event loop at each hand-over; 2.6 times slower loading at 1,000,000).
_COLUMNS = (
    "run, item, url, path, state, key, errors, note, metadata, extra_urls, source, "
    "attempts, bytes_done, total, rate, existed, updated"
)
_UPSERT_MANY = (
    f"INSERT INTO items ({_COLUMNS}) SELECT "
    + ", ".join(f"json_extract(value, '$[{n}]')" for n in range(17))
    + " FROM json_each(?) WHERE true"
    + _UPSERT[_UPSERT.index("ON CONFLICT") - 1 :]
)
#: An item's first row while it is as its input gave it (queued, never tried): a short
#: row (id, URL, path, source, metadata, extra URLs) where the rest is the columns'
#: defaults. Most of a huge input's rows are these: a third of the JSON to build (on
#: the event loop's thread) and of the fields for SQLite to take apart. A row already
#: there is newer (written at once: sent, edited, removed), so it stays.
_FRESH_COLUMNS = "run, item, url, path, source, metadata, extra_urls, state, updated"
_INSERT_FRESH = (
    f"INSERT INTO items ({_FRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, "
    "coalesce(?, '{}'), coalesce(?, '[]'), 'queued', ?) ON CONFLICT (run, item) DO NOTHING"
)
_INSERT_FRESH_MANY = (
    f"INSERT INTO items ({_FRESH_COLUMNS}) SELECT ?1, "
    + ", ".join(f"json_extract(value, '$[{n}]')" for n in range(4))
    + ", coalesce(json_extract(value, '$[4]'), '{}'), "
    "coalesce(json_extract(value, '$[5]'), '[]'), 'queued', ?2 "
    "FROM json_each(?3) WHERE true ON CONFLICT (run, item) DO NOTHING"
)

#: From how many rows on a write goes through :data:`_UPSERT_MANY`.
MANY = 32

#: Rows the writer thread writes per transaction: a write at once waits for no more.
WRITE_CHUNK = 1000
#: Rows the writer thread may have to write before more are handed over: past that, the
#: changes wait as they are (the items themselves), not as rows (memory stays bounded
#: when a huge input loads faster than SQLite writes it).
BEHIND = 20_000


class JournalError(RuntimeError):
    """The journal cannot be read or written (corrupt, truncated, or not a journal)."""


class JournalBusy(RepoError):
    """Another tui-annex is running in this repository right now."""


@dataclass(frozen=True)
class RunRecord:
    """One run as the journal holds it."""

    id: int
    started: float
    ended: float | None
    pid: int
    pid_start: int | None
    options: dict[str, Any]
    inputs: list[str]
    outcome: str | None
    exit_code: int | None
    commits: list[str]
    done: int
    failed: int
    interrupted: int
    unsent: int
    rejected: int
    resumed_from: int | None
    resumed_by: int | None

    @property
    def alive(self) -> bool:
        """Whether the process of this run is still running (never a reused pid)."""
        if self.ended is not None:
            return False
        started = process_start_time(self.pid)
        return started is not None and started == self.pid_start

    @property
    def died(self) -> bool:
        """Whether the run ended without writing its end (kill -9, crash, reboot)."""
        return self.ended is None and not self.alive


@dataclass(frozen=True)
class JournalItem:
    """One item as the journal holds it."""

    run: int
    item: int
    url: str
    path: str
    state: str
    key: str | None
    errors: tuple[str, ...]
    note: str | None
    metadata: dict[str, list[str]]
    extra_urls: tuple[str, ...]
    source: str | None
    attempts: int
    bytes_done: int
    total: int | None
    rate: float
    settled: int
    existed: bool | None


def git_dir_of(repo: Path) -> Path | None:
    """The git directory of the work tree ``repo`` (``.git`` or where a ``.git`` file points)."""
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                target = Path(text.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else (repo / target).resolve()
    return None


def journal_path(git_dir: Path) -> Path:
    """Where the journal of the repository with this git directory lives."""
    return git_dir / JOURNAL_FOLDER / JOURNAL_NAME


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None if no such process lives.

    Together with the pid this names a process for good: a pid reused later
    has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return _start_time_without_proc(pid)
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields and fields[0] == "Z":
        return None
    return int(fields[19]) if len(fields) > 19 else None


def _start_time_without_proc(pid: int) -> int | None:
    """Where /proc is missing (macOS) a live pid is all we can tell; 0 stands for "alive"."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0
    return 0


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Journal:
    """The SQLite journal of one repository.

    Open with :meth:`open`; :meth:`lock` before running (one run at a time per
    repository). Item writes are queued by :meth:`item_changed` and
    :meth:`item_removed` and written by :meth:`flush`: at once, or (``wait=False``)
    by a writer thread, in order, so that a screen's refresh never waits on the
    disk (SQLite releases the GIL while it writes).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.RLock()
        """Held around every use of the connection (this thread's or the writer's)."""
        self._writes: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._backlog = 0
        """Writes handed to the writer and not done yet (guarded by :attr:`_done`)."""
        self._backlog_rows = 0
        """The rows of those writes."""
        self._done = threading.Condition()
        self.run_id: int | None = None
        self._pending: dict[int, DownloadItem] = {}
        self._removed: dict[int, DownloadItem] = {}
        self._in_flight: dict[int, DownloadItem] = {}
        self._progress_at = 0.0
        self._flushed_at = 0.0
        self._json_rows = True
        """Whether SQLite takes many rows as one JSON array (see :data:`_UPSERT_MANY`)."""
        self._clock = 0.0
        """The last ``updated`` stamp given: strictly growing, so the newest row wins."""
        self._written = bytearray()
        """One byte per item id of this run: 1 once a row of it was written or handed
        over (a later one is no first row: see :data:`_INSERT_FRESH`)."""
        self.failed: str | None = None
        """Why journaling stopped mid-run (a full disk, a vanished file), if it did."""

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Journal:
        """Open (or create) the journal at ``path``; raise JournalError if it is unusable."""
        if not create and not path.exists():
            raise JournalError(f"no journal at {path}")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # URLs may hold credentials: the journal is its owner's alone.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise JournalError(f"cannot open the journal {path}: {error}") from error
        try:
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(_SCHEMA)
            found = connection.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if found is None:
                connection.execute(
                    "INSERT INTO meta (name, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif found[0] != str(SCHEMA_VERSION):
                raise JournalError(
                    f"the journal {path} has schema {found[0]}, this tui-annex reads "
                    f"{SCHEMA_VERSION}"
                )
            connection.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error as error:
            connection.close()
            raise JournalError(f"the journal {path} is unreadable: {error}") from error
        except JournalError:
            connection.close()
            raise
        return cls(path, connection)

    @classmethod
    def open_read_only(cls, path: Path) -> Journal:
        """Open an existing journal for reading (``tui-annex status`` and ``history``)."""
        if not path.exists():
            raise JournalError(f"no journal at {path}: tui-annex has not run in this repository")
        try:
            uri = f"{path.absolute().as_uri()}?mode=ro"
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error as error:
            raise JournalError(f"the journal {path} is unreadable: {error}") from error
        return cls(path, connection)

    def close(self) -> None:
        """Write what is pending and close the journal (and release the run lock)."""
        with contextlib.suppress(JournalError):
            self.flush(force_progress=True)
        if self._writer is not None:
            self._writes.put(None)  # after everything handed over
            self._writer.join()
            self._writer = None
        self._db.close()

    # -- runs -------------------------------------------------------------------------

    def start_run(
        self, options: dict[str, Any], inputs: Iterable[str], *, resumed_from: int | None = None
    ) -> int:
        """Write a new run (this process) and return its id."""
        pid = os.getpid()
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (started, pid, pid_start, options, inputs, resumed_from) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    pid,
                    process_start_time(pid),
                    _json(options),
                    _json(list(inputs)),
                    resumed_from,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            if resumed_from is not None:
                self._db.execute(
                    "UPDATE runs SET resumed_by = ? WHERE id = ?", (run_id, resumed_from)
                )
        self.run_id = run_id
        self._written = bytearray()
        return run_id

    def end_run(
        self,
        *,
        outcome: str,
        exit_code: int,
        commits: list[str],
        counts: dict[str, int],
    ) -> None:
        """Write how this run ended."""
        self.flush(force_progress=True)
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ended = ?, outcome = ?, exit_code = ?, commits = ?, done = ?, "
                "failed = ?, interrupted = ?, unsent = ?, rejected = ? WHERE id = ?",
                (
                    time.time(),
                    outcome,
                    exit_code,
                    _json(commits),
                    counts.get("done", 0),
                    counts.get("failed", 0),
                    counts.get("interrupted", 0),
                    counts.get("unsent", 0),
                    counts.get("rejected", 0),
                    self.run_id,
                ),
            )

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        query = "SELECT * FROM runs ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [self._run_record(row) for row in self._query(query)]

    def run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return self._run_record(rows[0]) if rows else None

    def unfinished_run(self) -> RunRecord | None:
        """The newest run that left work undone (died, or stopped) and was not resumed yet."""
        for run in self.runs():
            if run.id == self.run_id or run.alive or run.resumed_by is not None:
                continue
            if run.died or self.count_states(run.id, UNFINISHED_STATES) or self._unsettled(run.id):
                return run
            return None
        return None

    def count_states(self, run_id: int, states: Iterable[str] | None = None) -> int:
        """How many of the run's items are in ``states`` (all items when None)."""
        if states is None:
            return int(self._query("SELECT count(*) FROM items WHERE run = ?", (run_id,))[0][0])
        wanted = list(states)
        marks = ",".join("?" * len(wanted))
        rows = self._query(
            f"SELECT count(*) FROM items WHERE run = ? AND state IN ({marks})", (run_id, *wanted)
        )
        return int(rows[0][0])

    def state_counts(self, run_id: int) -> dict[str, int]:
        """The run's items counted by state."""
        rows = self._query(
            "SELECT state, count(*) FROM items WHERE run = ? GROUP BY state", (run_id,)
        )
        return {str(state): int(count) for state, count in rows}

    def _unsettled(self, run_id: int) -> int:
        rows = self._query(
            "SELECT count(*) FROM items WHERE run = ? AND state = 'done' AND settled = ?",
            (run_id, NOT_VERIFIED),
        )
        return int(rows[0][0])

    # -- items ------------------------------------------------------------------------

    def items(self, run_id: int, states: Iterable[str] | None = None) -> Iterator[JournalItem]:
        """The run's items (in ``states``), in the order they were added."""
        try:
            yield from self._items(run_id, states)
        except (ValueError, TypeError, KeyError) as error:
            raise JournalError(f"the journal {self.path} holds a damaged item: {error}") from error

    def _items(self, run_id: int, states: Iterable[str] | None) -> Iterator[JournalItem]:
        """The rows behind :meth:`items`."""
        if states is None:
            rows = self._query("SELECT * FROM items WHERE run = ? ORDER BY item", (run_id,))
        else:
            wanted = list(states)
            marks = ",".join("?" * len(wanted))
            rows = self._query(
                f"SELECT * FROM items WHERE run = ? AND state IN ({marks}) ORDER BY item",
                (run_id, *wanted),
            )
        for row in rows:
            yield _journal_item(row)

    def find_path(self, path: str) -> JournalItem | None:
        """The newest journal entry for destination ``path`` (removed ones aside)."""
        rows = self._query(
            "SELECT * FROM items WHERE path = ? AND state != 'removed' "
            "ORDER BY run DESC, item DESC LIMIT 1",
            (path,),
        )
        try:
            return _journal_item(rows[0]) if rows else None
        except (ValueError, TypeError) as error:
            raise JournalError(f"the journal {self.path} holds a damaged item: {error}") from error

    def find_done(self, paths: Iterable[str]) -> dict[str, JournalItem]:
        """The newest journal entries of destinations in ``paths`` that are done (removed
        entries aside, as :meth:`find_path`), a few hundred paths a query. A damaged entry
        is left out."""
        unique = list(dict.fromkeys(paths))
        newest: dict[str, Any] = {}
        path_at, state_at = _ITEM_COLUMNS.index("path"), _ITEM_COLUMNS.index("state")
        for start in range(0, len(unique), _PATHS_A_QUERY):
            chunk = unique[start : start + _PATHS_A_QUERY]
            rows = self._query(
                f"SELECT * FROM items WHERE path IN ({','.join('?' * len(chunk))}) "
                "AND state != 'removed' ORDER BY run, item",
                tuple(chunk),
            )
            for row in rows:  # oldest first: the newest of a path comes last
                newest[row[path_at]] = row
        found = {}
        for path, row in newest.items():
            if row[state_at] == "done":
                with contextlib.suppress(ValueError, TypeError):
                    found[path] = _journal_item(row)
        return found

    def has_items(self) -> bool:
        """Whether any run has journalled an item (a fresh journal can skip path look-ups)."""
        return bool(self._query("SELECT 1 FROM items LIMIT 1"))

    def adopt(self, moves: Iterable[tuple[JournalItem, int]]) -> None:
        """Move items of an earlier run into this one, under their new item ids."""
        assert self.run_id is not None
        with self._transaction():
            self._db.executemany(
                "UPDATE items SET run = ?, item = ? WHERE run = ? AND item = ?",
                ((self.run_id, new_id, old.run, old.item) for old, new_id in moves),
            )

    def item_changed(self, item: DownloadItem) -> None:
        """Note that ``item`` changed; it is written at the next :meth:`flush`."""
        self._pending[item.id] = item
        self._removed.pop(item.id, None)
        if item.state is ItemState.SENT:
            self._in_flight[item.id] = item
        else:
            self._in_flight.pop(item.id, None)

    def item_removed(self, item: DownloadItem) -> None:
        """Note that ``item`` was removed from the queue."""
        self._pending.pop(item.id, None)
        self._in_flight.pop(item.id, None)
        self._removed[item.id] = item

    def settle(self, item_ids: Iterable[int], settled: int) -> None:
        """Record that these done items are staged (or committed)."""
        self.flush()
        with self._transaction():
            self._db.executemany(
                "UPDATE items SET settled = ? WHERE run = ? AND item = ?",
                ((settled, self.run_id, item_id) for item_id in item_ids),
            )

    @property
    def dirty(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self._pending or self._removed)

    def flush_soon(self, outcome: bool, item: DownloadItem | None = None) -> None:
        """Write an outcome now; hand the other changes to the writer thread, at most
        every FLUSH_LAG s.

        ``item``: the outcome is this item's, and only its row is written now (a
        huge input's backlog is no reason to make the outcome wait), even if a
        refresh handed its change to the writer thread already; without it (the
        end of a round), everything is. Each flush is a commit (tens of
        microseconds): flushing before every event would cost a fast pipeline
        more than all else it does.
        """
        now = time.monotonic()
        if outcome and item is not None:
            self.item_changed(item)
            self.flush(only=(item.id,))
            outcome = False
        if outcome or now - self._flushed_at >= FLUSH_LAG:
            self._flushed_at = now
            self.flush(wait=outcome)

    def flush(
        self,
        *,
        force_progress: bool = False,
        wait: bool = True,
        only: Collection[int] | None = None,
    ) -> None:
        """Write every pending change in one transaction (and in-flight progress, at most 1/s).

        ``wait``: write it now (what the writer thread still has may land later:
        it is older, and an older version of an item never overwrites a newer
        one); else hand it to the writer thread and return at once. ``only``:
        write just these items' changes now (an edit by hand: the rest may be a
        huge input's backlog, which is no reason to make a key wait).

        If writing fails (a full disk, the file gone), journaling stops and
        :attr:`failed` says why; the downloads go on.
        """
        if self.run_id is None or self.failed is not None:
            return
        if only is not None:
            self._write_now(only)
            return
        room = BEHIND - self._backlog_rows
        if not wait and room <= 0:
            return
        now = self._stamp()
        progress = bool(self._in_flight) and (
            force_progress or now - self._progress_at >= PROGRESS_EVERY
        )
        work: _Write | None = None
        if self._pending or self._removed or progress:
            run = self.run_id
            pending = self._pending
            if wait or len(pending) <= room:
                chosen = list(pending.values())
                pending.clear()
            else:  # the rest waits for the writer to catch up
                chosen = list(itertools.islice(pending.values(), room))
                for item in chosen:
                    del pending[item.id]
            chosen, fresh = self._first_rows(chosen)
            rows = _rows(run, chosen, self._removed.values(), now)
            sizes = (
                [
                    (item.bytes_done, item.total, item.speed, run, item.id)
                    for item in self._in_flight.values()
                ]
                if progress
                else []
            )
            work = _Write(rows, sizes, fresh, (run, now))
            self._removed.clear()
            if progress:
                self._progress_at = now
        if work is None:
            return
        if not wait:
            self._hand_over(work)
            return
        try:
            self._write(work)
        except JournalError as error:
            self.failed = str(error)

    def _stamp(self) -> float:
        """The time to stamp rows with: strictly growing, so that the newest row wins."""
        self._clock = max(time.time(), self._clock + 1e-6)
        return self._clock

    def _write_now(self, item_ids: Collection[int]) -> None:
        run = self.run_id
        assert run is not None
        changed = [self._pending.pop(i) for i in item_ids if i in self._pending]
        removed = [self._removed.pop(i) for i in item_ids if i in self._removed]
        self._first_rows(changed + removed, short=False)
        rows = _rows(run, changed, removed, self._stamp())
        if rows:
            try:
                self._write(_Write(rows, []))
            except JournalError as error:
                self.failed = str(error)

    def _first_rows(
        self, items: list[DownloadItem], *, short: bool = True
    ) -> tuple[list[DownloadItem], list[tuple[Any, ...]]]:
        """Note that rows of ``items`` are written now; with ``short``, split off those
        whose first row this is and that are as their input gave them, as short rows
        (:data:`_INSERT_FRESH`). Return the rest and the short rows."""
        written = self._written
        if items:
            grow_to(written, max(item.id for item in items))
        rest: list[DownloadItem] = []
        fresh: list[tuple[Any, ...]] = []
        queued = ItemState.QUEUED
        for item in items:
            if (
                short
                and not written[item.id]
                and item.state is queued
                and not item.attempts
                and item.key is None
                and not item.errors
                and item.note is None
                and item.total is None
                and not item.bytes_done
                and item.existed is None
            ):
                fresh.append(
                    (
                        item.id,
                        item.url,
                        item.path,
                        item.location,
                        _json(item.metadata) if item.metadata else None,
                        _json(list(item.extra_urls)) if item.extra_urls else None,
                    )
                )
            else:
                rest.append(item)
            written[item.id] = 1
        return rest, fresh

    def _write(self, work: _Write) -> None:
        rows, sizes, fresh, (run, stamp) = work
        # One row alone is its own transaction: BEGIN and COMMIT would double its cost.
        with self._transaction() if len(rows) + len(fresh) != 1 or sizes else self._statement():
            if len(rows) >= MANY and self._json_rows:
                try:
                    self._db.execute(_UPSERT_MANY, (json.dumps(rows),))
                except sqlite3.OperationalError:  # an SQLite without its JSON functions
                    self._json_rows = False
            if rows and (len(rows) < MANY or not self._json_rows):
                self._db.executemany(_UPSERT, rows)
            if len(fresh) >= MANY and self._json_rows:
                try:
                    self._db.execute(_INSERT_FRESH_MANY, (run, stamp, json.dumps(fresh)))
                except sqlite3.OperationalError:
                    self._json_rows = False
            if fresh and (len(fresh) < MANY or not self._json_rows):
                self._db.executemany(_INSERT_FRESH, ((run, *row, stamp) for row in fresh))
            if sizes:
                self._db.executemany(
                    "UPDATE items SET bytes_done = ?, total = ?, rate = ? "
                    "WHERE run = ? AND item = ?",
                    sizes,
                )

    def _hand_over(self, work: _Write) -> None:
        """Give ``work`` to the writer thread (started on first use)."""
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_behind, name="tui-annex-journal", daemon=True
            )
            self._writer.start()
        with self._done:
            self._backlog += 1
            self._backlog_rows += len(work.rows) + len(work.fresh)
        self._writes.put(work)

    def _write_behind(self) -> None:
        """The writer thread: write what :meth:`flush` hands over, in order, until None.

        At a lower CPU priority: downloads and the screen go first; the journal
        catches up when they leave it room.
        """
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while (work := self._writes.get()) is not None:
            rows, sizes, fresh, stamp = work
            try:
                # In chunks: a write at once (an outcome) waits for one chunk at most.
                for start in range(0, max(len(rows), len(fresh), 1), WRITE_CHUNK):
                    if self.failed is None:
                        end = start + WRITE_CHUNK
                        self._write(
                            _Write(
                                rows[start:end],
                                sizes if start == 0 else [],
                                fresh[start:end],
                                stamp,
                            )
                        )
            except JournalError as error:
                self.failed = str(error)
            finally:
                with self._done:
                    self._backlog -= 1
                    self._backlog_rows -= len(rows) + len(fresh)
                    self._done.notify_all()

    def drain(self) -> None:
        """Wait until the writer thread has written everything handed to it."""
        with self._done:
            while self._backlog:
                self._done.wait()

    # -- processes --------------------------------------------------------------------

    def process_started(self, pid: int, argv: Iterable[str]) -> None:
        """Record a git-annex process this run started (pid and start time)."""
        if self.run_id is None or self.failed is not None:
            return
        with contextlib.suppress(JournalError), self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO processes (pid, pid_start, run, argv, started) "
                "VALUES (?, ?, ?, ?, ?)",
                (pid, process_start_time(pid), self.run_id, _json(list(argv)), time.time()),
            )

    def process_ended(self, pid: int) -> None:
        """Record that a process of this run is gone."""
        if self.run_id is None or self.failed is not None:
            return
        with contextlib.suppress(JournalError), self._transaction():
            self._db.execute(
                "UPDATE processes SET ended = ? WHERE pid = ? AND run = ? AND ended IS NULL",
                (time.time(), pid, self.run_id),
            )

    def left_running(self) -> list[tuple[int, int | None, list[str]]]:
        """Processes of earlier runs never recorded as ended: (pid, start time, argv)."""
        rows = self._query(
            "SELECT pid, pid_start, argv, run FROM processes WHERE ended IS NULL AND run != ?",
            (self.run_id or -1,),
        )
        return [(int(pid), start, json.loads(argv)) for pid, start, argv, _run in rows]

    def forget_processes(self, pids: Iterable[int]) -> None:
        """Mark processes of earlier runs as ended (stopped, or found gone)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE processes SET ended = ? WHERE pid = ? AND ended IS NULL",
                ((time.time(), pid) for pid in pids),
            )

    # -- plumbing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise JournalError(f"writing the journal {self.path} failed: {error}") from error

    @contextlib.contextmanager
    def _statement(self) -> Iterator[None]:
        """One statement in autocommit mode, with errors as JournalError."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as error:
                raise JournalError(f"writing the journal {self.path} failed: {error}") from error

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise JournalError(f"reading the journal {self.path} failed: {error}") from error

    def _run_record(self, row: Any) -> RunRecord:
        try:
            fields = dict(zip(_RUN_COLUMNS, row, strict=True))
            for name in ("options", "inputs", "commits"):
                fields[name] = json.loads(fields[name])
            return RunRecord(**fields)
        except (ValueError, TypeError) as error:
            raise JournalError(f"the journal {self.path} holds a damaged run: {error}") from error


class _Write(NamedTuple):
    """One transaction of item writes: upserted rows, progress updates, and first rows of
    items as their input gave them (:data:`_INSERT_FRESH`) with their run and stamp."""

    rows: list[tuple[Any, ...]]
    sizes: list[tuple[Any, ...]]
    fresh: list[tuple[Any, ...]] = []
    stamp: tuple[int, float] = (0, 0.0)


def lock_repository(folder: Path) -> int:
    """Take the repository's run lock (a file descriptor); raise JournalBusy if it is held.

    The lock is a ``flock`` on a file in the journal's folder: the kernel drops
    it when its holder dies, however it dies. Close the descriptor to release it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        who = ""
        with contextlib.suppress(JournalError):
            journal = Journal.open_read_only(folder / JOURNAL_NAME)
            try:
                live = [run for run in journal.runs(limit=5) if run.alive]
            finally:
                journal.close()
            if live:
                who = f" (pid {live[0].pid}, since {when(live[0].started)})"
        raise JournalBusy(
            f"another tui-annex is running in this repository{who}; see `tui-annex status`"
        ) from None
    return fd


def set_aside(path: Path, why: str) -> Path | None:
    """Move the journal at ``path`` (and its WAL files) aside, dated; return the new name."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"journal-{why}-{stamp}.sqlite")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"journal-{why}-{stamp}-{counter}.sqlite")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, target.with_name(target.name + suffix))
    return target


def _rows(
    run: int, changed: Iterable[DownloadItem], removed: Iterable[DownloadItem], now: float
) -> list[tuple[Any, ...]]:
    """The journal rows of items changed and removed, stamped ``now``."""
    rows = [_item_row(run, item, now) for item in changed]
    rows += [_item_row(run, item, now, REMOVED) for item in removed]
    return rows


def _item_row(
    run: int, item: DownloadItem, now: float, state: str | None = None
) -> tuple[Any, ...]:
    return (
        run,
        item.id,
        item.url,
        item.path,
        state or item.state.value,
        item.key,
        _json(list(item.errors)) if item.errors else "[]",
        item.note,
        _json(item.metadata) if item.metadata else "{}",
        _json(list(item.extra_urls)) if item.extra_urls else "[]",
        item.location,
        item.attempts,
        item.bytes_done,
        item.total,
        item.rate,
        item.existed,
        now,
    )


def _journal_item(row: Any) -> JournalItem:
    fields = dict(zip(_ITEM_COLUMNS, row, strict=True))
    del fields["updated"]
    fields["errors"] = tuple(json.loads(fields["errors"]))
    fields["metadata"] = json.loads(fields["metadata"])
    fields["extra_urls"] = tuple(json.loads(fields["extra_urls"]))
    fields["existed"] = None if fields["existed"] is None else bool(fields["existed"])
    return JournalItem(**fields)


def when(at: float) -> str:
    """A run's time as the journal's messages show it: ``2026-11-22 03:29``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
