"""Generic async stream helpers: merging async iterators and splitting byte streams into lines."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

__all__ = [
    "ByteSource",
    "LineSplitter",
    "cancel_and_wait",
    "iter_line_batches",
    "iter_lines",
    "merge",
    "wait_first",
]


class _Channel(Generic[T]):
    """A bounded FIFO between tasks: ``asyncio.Queue``'s contract at a third of its cost
    (one deque, one waiter each way; the pipeline passes 100,000 events a second)."""

    def __init__(self, size: int) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._size = size
        self._readable: asyncio.Future[None] | None = None
        self._writable: list[asyncio.Future[None]] = []

    async def put(self, item: T) -> None:
        while len(self._items) >= self._size:
            waiter = asyncio.get_running_loop().create_future()
            self._writable.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._writable:
                    self._writable.remove(waiter)
        self._items.append(item)
        readable = self._readable
        if readable is not None and not readable.done():
            readable.set_result(None)

    async def get(self) -> T:
        while not self._items:
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        item = self._items.popleft()
        while self._writable:
            waiter = self._writable.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        return item


class _Done:
    """Marks that one source of a merge is exhausted."""


class _Failed:
    """Carries the exception a merge source raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def merge(*sources: AsyncIterable[T], buffer: int = 64) -> AsyncGenerator[T, None]:
    """Yield items from all ``sources`` as soon as any of them produces one.

    Order is kept within each source. At most ``buffer`` items wait in memory;
    a source that runs ahead waits for the consumer. The first exception a
    source raises is re-raised here as itself, after the other sources are
    closed. When the consumer stops early (``aclose``) or is cancelled, every
    source is closed and no task is left running. Use it as
    ``async with contextlib.aclosing(merge(a, b)) as events:`` so that an early
    exit closes the sources at once rather than at garbage collection.
    """
    if buffer < 1:
        raise ValueError("buffer must be at least 1")
    channel: _Channel[T | _Done | _Failed] = _Channel(buffer)

    async def pump(source: AsyncIterable[T]) -> None:
        iterator = aiter(source)
        try:
            async for item in iterator:
                await channel.put(item)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            await channel.put(_Failed(error))
            return
        finally:
            await _close_iterator(iterator)
        await channel.put(_Done())

    tasks = [asyncio.create_task(pump(source)) for source in sources]
    running = len(tasks)
    try:
        while running:
            entry = await channel.get()
            if isinstance(entry, _Done):
                running -= 1
            elif isinstance(entry, _Failed):
                raise entry.error
            else:
                yield entry
    finally:
        for task in tasks:
            task.cancel()
        # Wait for every pump (and so every source's cleanup) to finish, even if
        # we are being cancelled ourselves: no task may outlive the merge.
        await _await_cancelled(tasks)


async def _close_iterator(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


async def _await_cancelled(tasks: list[asyncio.Task[None]]) -> None:
    """Wait until ``tasks`` have all finished; re-deliver a cancellation of the caller."""
    pending = [task for task in tasks if not task.done()]
    cancelled_meanwhile = False
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled_meanwhile = True
        pending = [task for task in pending if not task.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # mark retrieved; errors were delivered through the queue
    if cancelled_meanwhile:
        raise asyncio.CancelledError


class ByteSource(Protocol):
    """Anything with an asyncio ``StreamReader``-like ``read``."""

    async def read(self, n: int = -1) -> bytes: ...


async def iter_line_batches(
    reader: ByteSource, chunk_size: int = 1 << 16
) -> AsyncGenerator[list[bytes], None]:
    """Yield the lines of ``reader`` without their line ending, a list per read.

    One list per chunk read, not one step per line: a reader of a million
    lines pays the async machinery a few thousand times. There is no per-line
    limit (unlike ``StreamReader.readline``): a 1 MB line arrives whole. A last
    line without a newline is yielded too.
    """
    lines = LineSplitter()
    while True:
        chunk = await reader.read(chunk_size)
        if not chunk:
            break
        batch = lines.feed(chunk)
        if batch:
            yield batch
    last = lines.end()
    if last:
        yield last


class LineSplitter:
    """Bytes to lines without their line endings (``\n``, and a ``\r`` before it)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` ends (none if it ends no line)."""
        self._pending += chunk
        # Split only when the new chunk ends a line: a long line arriving in many
        # chunks costs linear time, not quadratic.
        if b"\n" not in chunk:
            return []
        lines = self._pending.split(b"\n")
        self._pending = lines.pop()
        return [bytes(line.removesuffix(b"\r")) for line in lines]

    def end(self) -> list[bytes]:
        """The last line, if the input did not end with a line ending."""
        pending, self._pending = self._pending, bytearray()
        return [bytes(pending.removesuffix(b"\r"))] if pending else []


async def iter_lines(reader: ByteSource, chunk_size: int = 1 << 16) -> AsyncGenerator[bytes, None]:
    """Yield the lines of ``reader`` one by one (see :func:`iter_line_batches`)."""
    async with contextlib.aclosing(iter_line_batches(reader, chunk_size)) as batches:
        async for batch in batches:
            for line in batch:
                yield line


async def wait_first(*awaitables: Awaitable[object]) -> None:
    """Wait until any of ``awaitables`` finishes; cancel and await the rest."""
    futures = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in futures:
            future.cancel()
        await asyncio.gather(*futures, return_exceptions=True)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has finished its cleanup."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
