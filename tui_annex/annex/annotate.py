"""Metadata and extra URLs for finished files, each through its own batch process.

``git annex metadata --batch --json`` takes ``{"key", "fields"}`` records and
``git annex registerurl --batch`` takes ``KEY URL`` lines. Work is handed over
with :meth:`Annotator.submit`, which never blocks, so reading addurl's output is
never held up by them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from ..events import Event, LogLine
from ..items import DownloadItem
from ..streams import merge
from .addurl import classify_stderr
from .batch import BatchInputClosed, BatchProcess
from .repo import Repo

__all__ = ["Annotator"]


@dataclass(frozen=True)
class _Work:
    line: str
    path: str
    what: str

    def not_recorded(self) -> LogLine:
        return LogLine(source="app", level="error", text=f"{self.path}: {self.what} not recorded")


class _Channel:
    """One lazily started batch process and the lines waiting for it."""

    def __init__(self, repo: Repo, argv: list[str]) -> None:
        self.repo = repo
        self.argv = argv
        self.waiting: asyncio.Queue[_Work | None] = asyncio.Queue()
        self.sent: dict[str, _Work] = {}
        self.applied = 0
        self.failed = 0
        self.ended = False

    def submit(self, work: _Work) -> LogLine | None:
        """Queue ``work``; if the process has already ended, say it is not recorded."""
        if self.ended:
            self.failed += 1
            return work.not_recorded()
        self.waiting.put_nowait(work)
        return None

    def close(self) -> None:
        self.waiting.put_nowait(None)

    async def run(self) -> AsyncGenerator[Event, None]:
        try:
            async with contextlib.aclosing(self._run()) as events:
                async for event in events:
                    yield event
        finally:
            self.ended = True

    async def _run(self) -> AsyncGenerator[Event, None]:
        first = await self.waiting.get()
        if first is None:
            return
        git_annex = self.repo.git_annex
        async with (
            BatchProcess(self.argv, cwd=self.repo.path, env=git_annex.annex_env()) as process,
            contextlib.aclosing(merge(self._feed(process, first), self._read(process))) as events,
        ):
            async for event in events:
                yield event
        for work in self.sent.values():
            self.failed += 1
            yield work.not_recorded()
        self.sent.clear()

    async def _feed(self, process: BatchProcess, first: _Work) -> AsyncIterator[Event]:
        work: _Work | None = first
        while work is not None:
            self.sent[work.line] = work
            try:
                await process.send(work.line)
            except BatchInputClosed:
                break
            work = await self.waiting.get()
        await process.close_input()
        # Whatever was still waiting when the process died is reported, not dropped.
        while not self.waiting.empty():
            left = self.waiting.get_nowait()
            if left is not None:
                self.failed += 1
                yield left.not_recorded()

    async def _read(self, process: BatchProcess) -> AsyncIterator[Event]:
        async for output in process.output():
            if output.stream == "stderr":
                if output.text.strip():
                    level = classify_stderr(output.text)
                    yield LogLine(source="stderr", level=level, text=output.text)
                continue
            try:
                record = json.loads(output.text)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                if output.text.strip():
                    yield LogLine(source="stdout", level="warning", text=output.text)
                continue
            inputs = record.get("input")
            key = inputs[0] if isinstance(inputs, list) and inputs else None
            work = self.sent.pop(key, None) if isinstance(key, str) else None
            if work is None:
                continue
            if record.get("success") is True:
                self.applied += 1
            else:
                self.failed += 1
                messages = "; ".join(map(str, record.get("error-messages") or [])) or "failed"
                yield LogLine(
                    source="app", level="error", text=f"{work.path}: {work.what}: {messages}"
                )


class Annotator:
    """Applies each finished item's metadata and extra URLs, by key."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        annex = repo.git_annex
        self.metadata = _Channel(
            repo, annex.argv("metadata", "--batch", "--json", "--json-error-messages")
        )
        self.urls = _Channel(
            repo, annex.argv("registerurl", "--batch", "--json", "--json-error-messages")
        )
        self._closed = False
        self.unkeyed = 0
        """Items with metadata or extra URLs whose file went into git (no key to hold them)."""

    async def submit(self, item: DownloadItem) -> LogLine | None:
        """Queue ``item``'s metadata and extra URLs; a warning if they cannot be applied.

        When addurl reported no key (the URL was registered on a file already
        there), the key is looked up; only a file kept in git has none.
        """
        if not (item.metadata or item.extra_urls):
            return None
        if item.key is None:
            item.key = await self.repo.lookup_key(item.path)
        if item.key is None:
            # git-annex keeps metadata and URLs by key; a file in git has none.
            self.unkeyed += 1
            return LogLine(
                source="app",
                level="error",
                text=f"{item.path}: git-annex put the file in git, not in the annex "
                "(annex.largefiles), so its metadata and extra URLs cannot be recorded",
                item_id=item.id,
            )
        problems = []
        if item.metadata:
            line = json.dumps({"key": item.key, "fields": item.metadata}, ensure_ascii=False)
            problems.append(self.metadata.submit(_Work(line, item.path, "metadata")))
        for url in item.extra_urls:
            problems.append(
                self.urls.submit(_Work(f"{item.key} {url}", item.path, f"extra URL {url}"))
            )
        return next((problem for problem in problems if problem is not None), None)

    @property
    def failed(self) -> int:
        """How many metadata records and extra URLs could not be recorded (a failed run)."""
        return self.metadata.failed + self.urls.failed + self.unkeyed

    def close(self) -> None:
        """No more work: the processes finish what they have and exit."""
        if not self._closed:
            self._closed = True
            self.metadata.close()
            self.urls.close()

    def events(self) -> AsyncGenerator[Event, None]:
        """Run both processes (started only when needed) until closed and done."""
        return merge(self.metadata.run(), self.urls.run())
