"""Input records checked in bulk: the URL and path each is sent with, or why it is refused.

:func:`check_batch` checks a slice of parsed records as the queue adds them
(all but the paths' claims, which are the queue's) into a :class:`CheckedBatch`:
in the run's process for a small input, in the reader process for a large one
(:mod:`tui_annex.loader`), which sends the batch as a few long strings.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection
from dataclasses import dataclass

from .inputs import InputRecord, Rejection
from .validation import all_plain, check_url, derive_path, normalize_path

__all__ = [
    "NOTHING_EXTRA",
    "SLICE",
    "CheckedBatch",
    "check_batch",
    "check_record",
    "refusal",
]

SLICE = 256  # records a batch: the event loop's step when it adds them (a few ms)
_BULK_FROM = 16  # records: fewer are checked one by one, faster than in bulk
NOTHING_EXTRA: tuple[None, tuple[str, ...]] = (None, ())  # no metadata, no extra URLs

Extras = dict[int, tuple[dict[str, list[str]] | None, tuple[str, ...]]]


def check_record(record: InputRecord, schemes: Collection[str]) -> tuple[str, str] | Rejection:
    """The URL and path ``record`` is sent with, or why it is refused.

    A record without a path gets one derived from its URL, as input files do.
    The path's claim (taken by another item?) is the queue's to check.
    """
    url = record.url
    path = record.path if record.path is not None else derive_path(url)
    try:
        url = check_url(url, schemes)
        path = normalize_path(path)
        for extra in record.extra_urls:
            check_url(extra, schemes)
    except ValueError as error:  # ValidationError, or text git-annex could not take
        derived = path if record.path is None else None
        return refusal(record.source, record.line, record.url, derived, error)
    return url, path


def refusal(
    source: str, line: int, url: str, derived_path: str | None, error: ValueError
) -> Rejection:
    """The refusal of the record at ``source:line``; ``derived_path``: the path it was given
    from its URL, if it named none."""
    reason = str(error)
    if derived_path is not None:
        reason = f"{reason} (path {derived_path!r} derived from the URL)"
    return Rejection(source, line, reason, url)


@dataclass(slots=True)
class CheckedBatch:
    """Records parsed and checked, in input order.

    The ``i``-th usable record is sent with ``urls[i]`` and ``paths[i]``; it is
    line ``lines[i]``, its path was derived from the URL if ``derived[i]``,
    ``extras`` holds the metadata and extra URLs of those that have any, and
    ``given_urls`` the URLs as the input spelt them where the check changed them
    (an international host name in its ASCII form). ``refused`` are the records
    the parser or the checks refused.
    """

    source: str
    urls: list[str]
    paths: list[str]
    lines: list[int]
    derived: bytes
    extras: Extras
    refused: list[Rejection]
    given_urls: dict[int, str]

    def __len__(self) -> int:
        return len(self.urls) + len(self.refused)

    def records(self) -> list[InputRecord | Rejection]:
        """The batch as the parser gave it: the refused records, then the usable ones
        (a derived path as None, to be derived again)."""
        records: list[InputRecord | Rejection] = list(self.refused)
        for index, (url, path, line) in enumerate(
            zip(self.urls, self.paths, self.lines, strict=True)
        ):
            metadata, extra_urls = self.extras.get(index, NOTHING_EXTRA)
            given = None if self.derived[index] else path
            text = self.given_urls.get(index, url)
            records.append(InputRecord(text, given, self.source, line, metadata or {}, extra_urls))
        return records

    def pack(self) -> tuple[object, ...]:
        """The batch as sent: the strings joined by newlines, which neither a checked URL
        nor a checked path may hold."""
        refused = [(rejection.line, rejection.reason, rejection.text) for rejection in self.refused]
        return (
            "\n".join(self.urls),
            "\n".join(self.paths),
            array("q", self.lines).tobytes(),
            self.derived,
            self.extras,
            refused,
            self.given_urls,
        )

    @classmethod
    def unpack(cls, source: str, packed: tuple[object, ...]) -> CheckedBatch:
        urls, paths, lines, derived, extras, refused, given_urls = packed
        assert isinstance(urls, str) and isinstance(paths, str) and isinstance(lines, bytes)
        assert isinstance(derived, bytes) and isinstance(extras, dict)
        assert isinstance(refused, list) and isinstance(given_urls, dict)
        numbers = array("q")
        numbers.frombytes(lines)
        return cls(
            source,
            urls.split("\n") if numbers else [],
            paths.split("\n") if numbers else [],
            numbers.tolist(),
            derived,
            extras,
            [Rejection(source, line, reason, text) for line, reason, text in refused],
            given_urls,
        )


def check_batch(
    source: str, records: list[InputRecord | Rejection], schemes: Collection[str]
) -> CheckedBatch:
    """Check parsed records as the queue would (all but the paths' claims)."""
    if len(records) >= _BULK_FROM and all(type(record) is InputRecord for record in records):
        plain: list[InputRecord] = records  # type: ignore[assignment]  # checked just above
        if not any(record.metadata or record.extra_urls for record in plain):
            urls = [record.url for record in plain]
            paths = [
                record.path if record.path is not None else derive_path(record.url)
                for record in plain
            ]
            if all_plain(urls, paths, schemes):  # the common slice: a few passes in C
                given = bytes(record.path is None for record in plain)
                numbers = [record.line for record in plain]
                return CheckedBatch(source, urls, paths, numbers, given, {}, [], {})
    urls = []
    paths = []
    lines: list[int] = []
    derived = bytearray()
    extras: Extras = {}
    refused: list[Rejection] = []
    given_urls: dict[int, str] = {}
    for record in records:
        if isinstance(record, Rejection):
            refused.append(record)
            continue
        checked = check_record(record, schemes)
        if isinstance(checked, Rejection):
            refused.append(checked)
            continue
        if record.metadata or record.extra_urls:
            extras[len(urls)] = (record.metadata or None, record.extra_urls)
        if checked[0] != record.url:
            given_urls[len(urls)] = record.url
        urls.append(checked[0])
        paths.append(checked[1])
        lines.append(record.line)
        derived.append(record.path is None)
    return CheckedBatch(source, urls, paths, lines, bytes(derived), extras, refused, given_urls)
