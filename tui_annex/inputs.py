"""Input formats: text ``URL PATH`` lines, JSON Lines records, and CSV/TSV with a header.

Records are read as a stream (downloads start before the input ends). A record
that cannot be used becomes a :class:`Rejection` with its file, line and reason;
the others go on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import json
import os
import re
import sys
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from .streams import iter_lines
from .validation import MAX_NAME_BYTES

__all__ = [
    "FORMATS",
    "InputRecord",
    "Rejection",
    "check_metadata",
    "derive_path",
    "detect_format",
    "parse_text",
    "read_records",
]

FORMATS = ("text", "jsonl", "csv", "tsv")
_TEXT_LINE = re.compile(r"(\S+)(?:\s+(.*))?", re.DOTALL)
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}


@dataclass(frozen=True)
class InputRecord:
    """One usable record: a URL, a destination (None: derive it from the URL), extras."""

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


def detect_format(name: str, explicit: str | None = None) -> str:
    """The format of input ``name``: ``explicit`` if given, else by extension, else text."""
    if explicit is not None:
        if explicit not in FORMATS:
            choices = ", ".join(FORMATS)
            raise ValueError(f"unknown input format {explicit!r} (choose from {choices})")
        return explicit
    return _EXTENSIONS.get(Path(name).suffix.lower(), "text")


def derive_path(url: str) -> str:
    """A file name for ``url``: its last path segment, decoded and made safe.

    Falls back to the host name when the URL has no usable last segment.
    """
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    name = unquote(segments[-1]) if segments else ""
    name = "".join(
        "_" if char in "/\\" or unicodedata.category(char).startswith("C") else char
        for char in name
    ).strip()
    if name in ("", ".", "..") or name.lower() == ".git":
        name = (parts.hostname or "download").strip(".") or "download"
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) < 16 else ""
        room = MAX_NAME_BYTES - len(keep.encode()) - (1 if keep else 0)
        head = (stem if keep else name).encode("utf-8", "surrogateescape")[:room]
        name = head.decode("utf-8", "ignore") + ("." + keep if keep else "")
    return name


def check_metadata(metadata: Any) -> dict[str, list[str]]:
    """Validate a ``{field: [values]}`` mapping (a single string value is accepted too).

    git-annex rejects the whole metadata batch on an illegal field name, so each
    name is checked here: not empty, no whitespace, ``=`` or ``/``, and not one
    of git-annex's own ``lastchanged`` fields.
    """
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be an object of field: [values]")
    checked: dict[str, list[str]] = {}
    for name, values in metadata.items():
        if (
            not isinstance(name, str)
            or not name
            or any(char.isspace() or char in "=/" or ord(char) < 32 for char in name)
        ):
            raise ValueError(f"illegal metadata field name {name!r}")
        if name == "lastchanged" or name.endswith("-lastchanged"):
            raise ValueError(f"metadata field {name!r} is kept by git-annex itself")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"metadata field {name!r} must be a string or a list of strings")
        checked[name] = list(values)
    return checked


def parse_text(line: str, source: str, number: int) -> InputRecord | Rejection | None:
    """A text line ``URL [PATH]``: the path is everything after the first blank, trimmed."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _TEXT_LINE.fullmatch(stripped)
    assert match is not None  # any non-blank text matches
    return InputRecord(url=match[1], path=match[2] or None, source=source, line=number)


def parse_json(line: str, source: str, number: int) -> InputRecord | Rejection | None:
    """A JSON Lines record ``{"url", "path", "metadata", "extra_urls"}``."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return Rejection(source, number, f"not valid JSON ({error.msg})", line)
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
    except ValueError as error:
        return Rejection(source, number, str(error), line)
    return InputRecord(
        url=url,
        path=path or None,
        source=source,
        line=number,
        metadata=metadata,
        extra_urls=tuple(extra),
    )


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
        self.first_line = 0

    def feed(self, line: str, source: str, number: int) -> InputRecord | Rejection | None:
        if not self.pending:
            if not line.strip():
                return None
            self.first_line = number
        self.pending.append(line)
        text = "\n".join(self.pending)
        if text.count('"') % 2:  # a quoted field goes on on the next line
            return None
        self.pending = []
        row = next(csv.reader([text], delimiter=self.delimiter), [])
        if self.header is None:
            return self._take_header(row, source, number)
        return self._row(row, source, self.first_line, text)

    def _take_header(self, row: list[str], source: str, number: int) -> Rejection | None:
        header = [name.strip() for name in row]
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
        return None

    def _row(self, row: list[str], source: str, number: int, text: str) -> InputRecord | Rejection:
        header = self.header or []
        if not header:
            return Rejection(source, number, "skipped: the header is unusable", text)
        if len(row) != len(header):
            return Rejection(
                source, number, f"expected {len(header)} columns, found {len(row)}", text
            )
        values = dict(zip(header, row, strict=True))
        if "*" in self.metadata_columns:
            fields = [c for c in header if c not in (self.url_column, self.path_column)]
        else:
            fields = list(self.metadata_columns)
        try:
            metadata = check_metadata({name: [values[name]] for name in fields if values[name]})
        except ValueError as error:
            return Rejection(source, number, str(error), text)
        return InputRecord(
            url=values[self.url_column].strip(),
            path=values.get(self.path_column, "").strip() or None,
            source=source,
            line=number,
            metadata=metadata,
        )


async def _chunks(stream: BinaryIO) -> AsyncIterator[bytes]:
    """Read a (possibly blocking) binary stream chunk by chunk in a daemon thread.

    Not ``asyncio.to_thread``: a read blocked on a terminal or an idle pipe could
    not be cancelled, and the default executor would keep the process from
    exiting after a Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
    fileno = stream.fileno()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fileno, 1 << 16)
            except OSError:
                chunk = b""
            try:
                asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return  # the loop is gone or the reader was cancelled
            if not chunk:
                return

    threading.Thread(target=pump, name="tui-annex input", daemon=True).start()
    while chunk := await chunks.get():
        yield chunk


class _ChunkSource:
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def read(self, n: int = -1) -> bytes:
        return await anext(self._chunks, b"")


async def read_records(
    name: str,
    *,
    input_format: str | None = None,
    url_column: str = "url",
    path_column: str = "path",
    metadata_columns: Iterable[str] = (),
    stdin: BinaryIO | None = None,
) -> AsyncIterator[InputRecord | Rejection]:
    """Yield the records of input ``name`` (``-``: standard input) as they are read."""
    fmt = detect_format(name, input_format)
    source = "<stdin>" if name == "-" else name
    table = (
        _TableParser("," if fmt == "csv" else "\t", url_column, path_column, metadata_columns)
        if fmt in ("csv", "tsv")
        else None
    )
    parse = parse_json if fmt == "jsonl" else parse_text
    stream = (stdin or sys.stdin.buffer) if name == "-" else open(name, "rb")  # noqa: SIM115, ASYNC230
    try:
        number = 0
        async for raw in iter_lines(_ChunkSource(_chunks(stream))):
            number += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield Rejection(source, number, "the line is not valid UTF-8")
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")
            result = table.feed(line, source, number) if table else parse(line, source, number)
            if result is not None:
                yield result
        if table is not None and table.pending:
            yield Rejection(source, table.first_line, "a quoted field is never closed")
    finally:
        if name != "-":
            stream.close()
