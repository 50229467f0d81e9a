"""Input formats: text ``URL PATH`` lines, JSON Lines records, and CSV/TSV with a header.

Records are read as a stream (downloads start before the input ends). A record
that cannot be used becomes a :class:`Rejection` with its file, line and reason;
the others go on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .defaults import FORMATS
from .events import InputRejected
from .streams import iter_line_batches
from .validation import (
    ValidationError,
    check_field_name,
    check_metadata,
    derive_path,
    normalize_path,
)

__all__ = [
    "FORMATS",
    "InputRecord",
    "RecordParser",
    "Rejection",
    "destination",
    "detect_format",
    "drop_finished_lines",
    "parse_lines",
    "parse_text",
    "read_record_batches",
    "read_records",
    "shard_of",
]


# Long free-text columns are fine (the csv module refuses fields over 128 KiB by default).
csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
_TEXT_LINE = re.compile(r"(\S+)(?:\s+(.*))?", re.DOTALL)
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}


@dataclass(slots=True)
class InputRecord:
    """One usable record: a URL, a destination (None: derive it from the URL), extras.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``,
    which made a record cost 1.2 us to build instead of 0.3 (a million of them per
    million-line input). Nothing changes a record once read.
    """

    url: str
    path: str | None
    source: str
    line: int
    metadata: dict[str, list[str]] = field(default_factory=dict)
    extra_urls: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """``file:line`` of the record."""
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class Rejection:
    """A record that cannot be used: where it is and why."""

    source: str
    line: int
    reason: str
    text: str = ""

    def event(self) -> InputRejected:
        """The event that reports this refusal."""
        return InputRejected(source=self.source, line=self.line, reason=self.reason, text=self.text)


def detect_format(name: str, explicit: str | None = None) -> str:
    """The format of input ``name``: ``explicit`` if given, else by extension, else text."""
    if explicit is not None:
        if explicit not in FORMATS:
            choices = ", ".join(FORMATS)
            raise ValueError(f"unknown input format {explicit!r} (choose from {choices})")
        return explicit
    return _EXTENSIONS.get(Path(name).suffix.lower(), "text")


def parse_text(line: str, source: str, number: int) -> InputRecord | Rejection | None:
    """A text line ``URL [PATH]``: the path is everything after the first blank, trimmed."""
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return None
    url, blank, path = stripped.partition(" ")
    if not blank or "\t" in url or path[:1].isspace() or not url.isprintable():
        # Other blanks than one space (tabs, several spaces, Unicode spaces): the full rule.
        match = _TEXT_LINE.fullmatch(stripped)
        assert match is not None  # any non-blank text matches
        url, path = match[1], match[2] or ""
    return InputRecord(url, path or None, source, number)


def parse_json(line: str, source: str, number: int) -> InputRecord | Rejection | None:
    """A JSON Lines record ``{"url", "path", "metadata", "extra_urls"}``."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return Rejection(source, number, f"not valid JSON ({error.msg})", line)
    except RecursionError:
        return Rejection(source, number, "the JSON is nested too deeply to read", line)
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        return Rejection(source, number, f"the JSON cannot be read ({error})", line)
    if not isinstance(record, dict):
        return Rejection(source, number, "a record must be a JSON object", line)
    url = record.get("url")
    if not isinstance(url, str):
        return Rejection(source, number, "the record has no 'url' string", line)
    path = record.get("path")
    if path is not None and not isinstance(path, str):
        return Rejection(source, number, "'path' must be a string", line)
    extra = record.get("extra_urls") or []
    if not isinstance(extra, list) or not all(isinstance(u, str) for u in extra):
        return Rejection(source, number, "'extra_urls' must be a list of strings", line)
    try:
        metadata = check_metadata(record.get("metadata") or {})
    except ValidationError as error:
        return Rejection(source, number, str(error), line)
    return InputRecord(
        url=url,
        path=path or None,
        source=source,
        line=number,
        metadata=metadata,
        extra_urls=tuple(extra),
    )


def parse_lines(text: str, source: str = "typed") -> list[InputRecord | Rejection]:
    """Records of pasted or typed lines: each line is a JSON Lines record if it starts
    with ``{``, else a text ``URL [PATH]`` line; blank lines and ``#`` comments are skipped."""
    records: list[InputRecord | Rejection] = []
    for number, line in enumerate(text.splitlines(), 1):
        parse = parse_json if line.lstrip().startswith("{") else parse_text
        record = parse(line, source, number)
        if record is not None:
            records.append(record)
    return records


def _quote_open_after(line: str, delimiter: str, open_quote: bool) -> bool:
    """Whether a quoted CSV field is still open at the end of ``line``.

    CSV's rules: a quote opens a field only at the field's start (``5" floppy``
    is plain text), and ``""`` inside a quoted field is a quote. One pass over
    the new line, so a long record costs linear time.
    """
    at_field_start = not open_quote
    index, length = 0, len(line)
    while index < length:
        char = line[index]
        if open_quote:
            if char == '"':
                if index + 1 < length and line[index + 1] == '"':
                    index += 2
                    continue
                open_quote = False
        elif char == '"' and at_field_start:
            open_quote = True
        at_field_start = not open_quote and char == delimiter
        index += 1
    return open_quote


class _TableParser:
    """CSV/TSV rows after a header naming the URL and path columns."""

    def __init__(
        self,
        delimiter: str,
        url_column: str,
        path_column: str,
        metadata_columns: Iterable[str],
    ) -> None:
        self.delimiter = delimiter
        self.url_column = url_column
        self.path_column = path_column
        self.metadata_columns = tuple(metadata_columns)
        self.header: list[str] | None = None
        self.pending: list[str] = []
        self.open_quote = False
        self.first_line = 0

    def feed(self, line: str, source: str, number: int) -> InputRecord | Rejection | None:
        if not self.pending:
            if not line.strip():
                return None
            self.first_line = number
        self.pending.append(line)
        self.open_quote = _quote_open_after(line, self.delimiter, self.open_quote)
        if self.open_quote:  # a quoted field goes on on the next line
            return None
        text = "\n".join(self.pending)
        self.pending = []
        try:
            row = next(csv.reader([text], delimiter=self.delimiter), [])
        except csv.Error as error:
            return Rejection(source, self.first_line, f"not valid CSV ({error})", text[:200])
        if self.header is None:
            return self._take_header(row, source, number)
        return self._row(row, source, self.first_line, text)

    def _take_header(self, row: list[str], source: str, number: int) -> Rejection | None:
        header = [name.strip() for name in row]
        used = {self.url_column, self.path_column, *self.metadata_columns}
        folded: dict[str, str] = {}
        for name in header:
            twin = folded.get(name.casefold())
            # Which column would win is a guess: refuse rather than drop a value quietly.
            if twin is not None and ("*" in used or name in used or twin in used):
                self.header = []
                same = f"{name!r} twice" if twin == name else f"{twin!r} and {name!r}"
                why = "git-annex folds metadata field names together" if twin != name else ""
                return Rejection(
                    source,
                    number,
                    f"the header names column {same}{f' ({why})' if why else ''}",
                    ",".join(row),
                )
            folded[name.casefold()] = name
        if self.url_column not in header:
            self.header = []
            return Rejection(
                source, number, f"the header has no {self.url_column!r} column", ",".join(row)
            )
        wanted = [c for c in self.metadata_columns if c != "*" and c not in header]
        if wanted:
            self.header = []
            return Rejection(source, number, f"the header has no column {wanted[0]!r}")
        self.header = header
        for name in self._fields():
            try:
                check_field_name(name)
            except ValidationError as error:
                self.header = []
                return Rejection(source, number, f"column {name!r}: {error}")
        return None

    def _fields(self) -> list[str]:
        """The columns that become metadata."""
        header = self.header or []
        if "*" in self.metadata_columns:
            return [c for c in header if c not in (self.url_column, self.path_column)]
        return list(self.metadata_columns)

    def _row(self, row: list[str], source: str, number: int, text: str) -> InputRecord | Rejection:
        header = self.header or []
        if not header:
            return Rejection(source, number, "skipped: the header is unusable", text)
        if len(row) != len(header):
            return Rejection(
                source, number, f"expected {len(header)} columns, found {len(row)}", text
            )
        values = dict(zip(header, row, strict=True))
        try:
            metadata = check_metadata({n: [values[n]] for n in self._fields() if values[n]})
        except ValidationError as error:
            return Rejection(source, number, str(error), text)
        return InputRecord(
            url=values[self.url_column].strip(),
            path=values.get(self.path_column, "").strip() or None,
            source=source,
            line=number,
            metadata=metadata,
        )


async def _chunks(open_stream: Callable[[], BinaryIO]) -> AsyncIterator[bytes]:
    """Open and read a (possibly blocking) binary stream chunk by chunk in a daemon thread.

    Not ``asyncio.to_thread``: an open or read blocked on a terminal, a FIFO or
    an idle pipe could not be cancelled, and the default executor would keep
    the process from exiting after a Ctrl-C. An error opening or reading is
    raised here.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | OSError] = asyncio.Queue(maxsize=16)

    def pump() -> None:
        def hand_over(chunk: bytes | OSError) -> bool:
            try:
                asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return False  # the loop is gone or the reader was cancelled
            return True

        try:
            stream = open_stream()
        except OSError as error:
            hand_over(error)
            return
        try:
            fileno = stream.fileno()
            while True:
                try:
                    chunk: bytes | OSError = os.read(fileno, 1 << 16)
                except OSError as error:
                    chunk = error
                if not hand_over(chunk) or not chunk or isinstance(chunk, OSError):
                    return
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    threading.Thread(target=pump, name="tui-annex input", daemon=True).start()
    while True:
        chunk = await chunks.get()
        if isinstance(chunk, OSError):
            raise chunk
        if not chunk:
            return
        yield chunk


class _ChunkSource:
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def read(self, n: int = -1) -> bytes:
        return await anext(self._chunks, b"")


def _parsers(
    fmt: str, url_column: str, path_column: str, metadata_columns: Iterable[str]
) -> tuple[_TableParser | None, Callable[[str, str, int], InputRecord | Rejection | None]]:
    """The table parser (CSV/TSV) or the line parser (text, JSON Lines) of a format."""
    if fmt in ("csv", "tsv"):
        table = _TableParser(
            "," if fmt == "csv" else "\t", url_column, path_column, metadata_columns
        )
        return table, parse_text
    return None, parse_json if fmt == "jsonl" else parse_text


def drop_finished_lines(
    name: str,
    finished: Callable[[InputRecord], bool],
    *,
    path: Path | None = None,
    input_format: str | None = None,
    url_column: str = "url",
    path_column: str = "path",
    metadata_columns: Iterable[str] = (),
) -> int:
    """Rewrite input ``name`` atomically without the lines of records ``finished`` accepts.

    ``name`` is the input as it was read (``-`` for standard input); ``path``
    the file behind it (default: ``name``). Records get the same source and
    line numbers as when they were read, so ``finished`` can tell a record that
    was added from a refused twin. Everything else stays as it was, in the
    file's own format: records that failed or were never sent, records never
    read, refused lines, comments, a CSV header. Return how many lines were
    dropped. For ``-F`` naming an input.
    """
    source = "<stdin>" if name == "-" else name
    table, parse = _parsers(
        detect_format(name, input_format), url_column, path_column, metadata_columns
    )
    target = Path(name) if path is None else path
    kept: list[bytes] = []
    held: list[bytes] = []  # the lines of a CSV record still open (a quoted newline)
    dropped = 0
    with target.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            raw = raw if raw.endswith(b"\n") else raw + b"\n"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                kept.extend([*held, raw])
                held = []
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")
            result = table.feed(line, source, number) if table else parse(line, source, number)
            held.append(raw)
            if table is not None and table.pending:
                continue
            if isinstance(result, InputRecord) and finished(result):
                dropped += len(held)
            else:
                kept.extend(held)
            held = []
    kept.extend(held)
    _replace_atomically(target, b"".join(kept))
    return dropped


def _replace_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename (mode kept)."""
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o600
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


async def read_records(
    name: str,
    *,
    input_format: str | None = None,
    url_column: str = "url",
    path_column: str = "path",
    metadata_columns: Iterable[str] = (),
    stdin: BinaryIO | None = None,
) -> AsyncGenerator[InputRecord | Rejection, None]:
    """Yield the records of input ``name`` (``-``: standard input) as they are read."""
    batches = read_record_batches(
        name,
        input_format=input_format,
        url_column=url_column,
        path_column=path_column,
        metadata_columns=metadata_columns,
        stdin=stdin,
    )
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for record in batch:
                yield record


def shard_of(record: InputRecord, count: int) -> int:
    """Which of ``count`` shares (1 to ``count``) a record belongs to.

    Decided by its destination path as it is sent (derived from the URL when the
    record names none), hashed with BLAKE2b: the same share on every machine, in
    every run and whatever the order of the input, so N clones running shares 1
    to N download disjoint sets whose union is the input. A record whose path is
    refused is placed by its raw text, so exactly one share reports it.
    """
    key = destination(record) or (record.path if record.path is not None else record.url)
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


def destination(record: InputRecord) -> str | None:
    """Where a record is downloaded to, as it is sent (None if its path is refused)."""
    try:
        return normalize_path(record.path if record.path is not None else derive_path(record.url))
    except ValueError:
        return None


def _decoded(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def read_record_batches(
    name: str,
    *,
    input_format: str | None = None,
    url_column: str = "url",
    path_column: str = "path",
    metadata_columns: Iterable[str] = (),
    stdin: BinaryIO | None = None,
) -> AsyncGenerator[list[InputRecord | Rejection], None]:
    """Yield the records of input ``name`` (``-``: standard input), a list per chunk read."""
    source = "<stdin>" if name == "-" else name
    fmt = detect_format(name, input_format)
    if name == "-":
        given = stdin or (sys.stdin.buffer if sys.stdin is not None else None)
        if given is None:
            yield [Rejection(source, 0, "standard input is closed; give the input as a file")]
            return

        def open_stream() -> BinaryIO:
            return given

    else:

        def open_stream() -> BinaryIO:
            return open(name, "rb")

    parser = RecordParser(source, fmt, url_column, path_column, metadata_columns)
    chunks = iter_line_batches(_ChunkSource(_chunks(open_stream)))
    async with contextlib.aclosing(chunks) as lines:
        async for raws in lines:
            batch = parser.feed(raws)
            if batch:
                yield batch
    for batch in parser.finish():
        yield batch


class RecordParser:
    """An input's lines to records, a list of lines at a time.

    Keeps what spans lines: the line number, a CSV header, a quoted field still
    open. :meth:`finish` settles a quote that was never closed.
    """

    def __init__(
        self,
        source: str,
        fmt: str,
        url_column: str = "url",
        path_column: str = "path",
        metadata_columns: Iterable[str] = (),
    ) -> None:
        self.source = source
        self._table, self._parse = _parsers(fmt, url_column, path_column, metadata_columns)
        self._number = 0

    def feed(self, raws: list[bytes]) -> list[InputRecord | Rejection]:
        """The records of ``raws``, lines without their line endings, in input order."""
        source, table, parse = self.source, self._table, self._parse
        number = self._number
        batch: list[InputRecord | Rejection] = []
        try:  # one decode per chunk; a chunk with a bad line is decoded line by line
            texts: list[str | None] = list(b"\n".join(raws).decode("utf-8").split("\n"))
        except UnicodeDecodeError:
            texts = [_decoded(raw) for raw in raws]
        for line in texts:
            number += 1
            if line is None:
                batch.append(Rejection(source, number, "the line is not valid UTF-8"))
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")
            result = table.feed(line, source, number) if table else parse(line, source, number)
            if result is not None:
                batch.append(result)
        self._number = number
        return batch

    def finish(self) -> Iterator[list[InputRecord | Rejection]]:
        """The records still held at the end of the input: a quote opened and never closed
        ran to the end, so its first line alone is refused and the lines it swallowed are
        read again, as records of their own."""
        table, source = self._table, self.source
        while table is not None and table.pending:
            stuck, first = table.pending, table.first_line
            table.pending, table.open_quote = [], False
            batch: list[InputRecord | Rejection] = [
                Rejection(source, first, "a quoted field is never closed", stuck[0][:200])
            ]
            for number, line in enumerate(stuck[1:], first + 1):
                result = table.feed(line, source, number)
                if result is not None:
                    batch.append(result)
            yield batch
