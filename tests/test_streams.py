"""The generic merge of async iterators and the line splitter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_annex.streams import iter_lines, merge


class Gate:
    """A source that yields each value only when the test lets it, and notes its closing."""

    def __init__(self, values: list[str]) -> None:
        self.values = values
        self.allowed = asyncio.Queue[None]()
        self.produced = 0
        self.closed = False

    def allow(self, count: int = 1) -> None:
        for _ in range(count):
            self.allowed.put_nowait(None)

    async def __call__(self) -> AsyncIterator[str]:
        try:
            for value in self.values:
                await self.allowed.get()
                self.produced += 1
                yield value
        finally:
            self.closed = True


async def endless(counter: list[int]) -> AsyncIterator[int]:
    while True:
        counter[0] += 1
        yield counter[0]
        await asyncio.sleep(0)


def other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_item_comes_out_as_soon_as_any_source_yields() -> None:
    slow, fast = Gate(["s1"]), Gate(["f1", "f2"])
    async with contextlib.aclosing(merge(slow(), fast())) as merged:
        fast.allow()
        assert await asyncio.wait_for(anext(merged), 5) == "f1"
        fast.allow()
        assert await asyncio.wait_for(anext(merged), 5) == "f2"
        slow.allow()
        assert await asyncio.wait_for(anext(merged), 5) == "s1"
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(merged), 5)


@given(st.lists(st.lists(st.integers(), max_size=20), min_size=1, max_size=5))
def test_order_is_kept_within_each_source(sources: list[list[int]]) -> None:
    async def gen(index: int, values: list[int]) -> AsyncIterator[tuple[int, int]]:
        for value in values:
            yield index, value
            await asyncio.sleep(0)

    async def collect() -> list[tuple[int, int]]:
        return [x async for x in merge(*(gen(i, v) for i, v in enumerate(sources)), buffer=3)]

    merged = asyncio.run(collect())
    for index, values in enumerate(sources):
        assert [value for source, value in merged if source == index] == values
    assert len(merged) == sum(map(len, sources))


async def test_buffering_is_bounded() -> None:
    counter = [0]
    async with contextlib.aclosing(merge(endless(counter), buffer=4)) as merged:
        await anext(merged)
        for _ in range(50):
            await asyncio.sleep(0)  # give the producer every chance to run ahead
        # 4 waiting in the buffer, one being put, one handed out.
        assert counter[0] <= 6


async def test_first_exception_is_reraised_as_itself_and_others_are_closed() -> None:
    class Boom(Exception):
        pass

    other = Gate(["never"])

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise Boom("source failed")

    with pytest.raises(Boom, match="source failed"):
        async for _ in merge(failing(), other()):
            pass
    assert other.closed
    assert not other_tasks()


async def test_early_exit_closes_every_source_and_leaves_no_task() -> None:
    first, second = Gate(["a", "b"]), Gate(["c"])
    async with contextlib.aclosing(merge(first(), second())) as merged:
        first.allow()
        assert await anext(merged) == "a"
    assert first.closed and second.closed
    assert not other_tasks()


async def test_cancelling_the_consumer_closes_every_source() -> None:
    first, second = Gate(["a"]), Gate(["b"])
    started = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(merge(first(), second())) as merged:
            started.set()
            async for _ in merged:
                pass

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert first.closed and second.closed
    assert not other_tasks()


class ChunkReader:
    """A byte source that returns the given chunks, then EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def read(self, n: int = -1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


async def test_a_one_megabyte_line_arrives_whole() -> None:
    line = b"{" + b"x" * (1 << 20) + b"}"
    data = line + b"\nnext\n"
    reader = ChunkReader([data[i : i + 4096] for i in range(0, len(data), 4096)])
    assert [x async for x in iter_lines(reader)] == [line, b"next"]


async def test_last_line_without_newline_and_crlf_are_handled() -> None:
    reader = ChunkReader([b"a\r\nb", b"c"])
    assert [x async for x in iter_lines(reader)] == [b"a", b"bc"]


@given(
    st.lists(st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))),
    st.lists(st.integers(min_value=1, max_value=17), min_size=1),
)
def test_lines_survive_any_chunking(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    chunks, offset, index = [], 0, 0
    while offset < len(data):
        size = cuts[index % len(cuts)]
        chunks.append(data[offset : offset + size])
        offset += size
        index += 1

    async def collect() -> list[bytes]:
        return [x async for x in iter_lines(ChunkReader(chunks))]

    assert asyncio.run(collect()) == lines
