"""A ``git annex <command> --batch`` child process that never deadlocks and never outlives us."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, TypeVar

from ..defaults import DEFAULT_GRACE
from ..streams import cancel_and_wait, iter_line_batches, merge

T = TypeVar("T")

StreamName = Literal["stdout", "stderr"]

__all__ = [
    "BatchInputClosed",
    "BatchProcess",
    "OutputLine",
    "group_alive",
    "parent_death_signal",
    "run_to_completion",
    "stop_group",
]

#: How long stragglers in the child's process group get after the leader exits.
STRAGGLER_GRACE = 1.0


_PR_SET_PDEATHSIG = 1


def parent_death_signal(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A function for ``preexec_fn`` that makes the child get ``signum`` when we die (Linux).

    ``PR_SET_PDEATHSIG`` survives ``exec``: git-annex gets SIGKILL the moment
    tui-annex dies, however it dies (kill -9, the OOM killer, a crash), instead
    of hanging for good with its transfer locks held. Its own helpers (git
    cat-file, check-attr) read from it and end when it does. Elsewhere (macOS)
    there is no such call: the next run stops a left-over process instead
    (see the journal's process records).
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would tell us.
        if os.getppid() != parent:
            os._exit(1)

    return set_parent_death_signal


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once (``find_library`` runs ``ldconfig`` each time)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The symbols the interpreter already has (libc among them).
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        try:
            name = ctypes.util.find_library("c") or "libc.so.6"
            prctl = ctypes.CDLL(name, use_errno=True).prctl
        except (OSError, AttributeError):
            return None
    return prctl


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol, plus an event set the moment the child exits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=1 << 16, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class BatchInputClosed(RuntimeError):
    """The child no longer reads its input (it exited or closed stdin)."""


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line the child printed, tagged with the stream it came from."""

    stream: StreamName
    text: str


async def run_to_completion(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even if the caller is cancelled meanwhile.

    A cancellation that arrives while waiting is delivered afterwards, so cleanup
    (stopping a child) cannot be cut short by a second cancel.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                # The task itself was cancelled, or finished as we were cancelled.
                if task.cancelled():
                    raise
                result = task.result()
                cancelled = True
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


class BatchProcess:
    """A running batch-mode git-annex child, as an async context manager.

    The child runs in its own session, so a terminal's Ctrl-C reaches only us.
    Input is written with :meth:`send` while :meth:`output` is read: both always
    run concurrently, so the pipes never deadlock. Lines of any length arrive
    whole. On leaving the context the child is stopped on every path: after a
    normal exit, stdin is closed and the child finishes what it has (graceful);
    after an exception or cancellation, its process group gets SIGTERM, then
    SIGKILL after ``grace`` seconds (forced). Output is drained until the child
    exits, whoever is reading.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        env: dict[str, str] | None = None,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        self.argv = list(argv)
        self.cwd = Path(cwd)
        self.env = env
        self.grace = grace
        self._proc: asyncio.subprocess.Process | None = None
        self._output: AsyncGenerator[OutputLine, None] | None = None
        self._output_taken = False
        self._reaper: asyncio.Task[int] | None = None
        self._exited = asyncio.Event()
        self._stdin_closed = False

    def __repr__(self) -> str:
        command = " ".join(os.path.basename(word) for word in self.argv[:2])
        if self._proc is None:
            state = "not started"
        elif self._proc.returncode is None:
            state = f"running with pid {self._proc.pid}"
        else:
            state = f"exited with status {self._proc.returncode}"
        return f"<BatchProcess {command}: {state}>"

    # -- life cycle -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await run_to_completion(self.shutdown(force=exc_type is not None))

    async def start(self) -> None:
        """Start the child. Prefer ``async with``, which also guarantees the stop."""
        if self._proc is not None:
            raise RuntimeError("already started")
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitAwareProtocol(loop),
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            preexec_fn=parent_death_signal(),
        )
        self._exited = protocol.exited
        self._proc = asyncio.subprocess.Process(transport, protocol, loop)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._output = merge(
            self._tag(self._proc.stdout, "stdout"), self._tag(self._proc.stderr, "stderr")
        )
        self._reaper = asyncio.create_task(self._reap())

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The underlying asyncio process."""
        if self._proc is None:
            raise RuntimeError("not started")
        return self._proc

    @property
    def pid(self) -> int:
        """The child's process id, which is also its process group id."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, once the child has exited."""
        return None if self._proc is None else self._proc.returncode

    # -- input ----------------------------------------------------------------------

    async def send(self, line: str) -> None:
        """Write one input line (a newline is added) and wait until the pipe takes it."""
        await self.send_many([line])

    async def send_many(self, lines: Sequence[str]) -> None:
        """Write input lines (newlines added) in one write; wait until the pipe takes them.

        All or nothing as far as the caller can tell: if the pipe is closed, none
        counts as sent (the child is stopping, so none would be answered).
        """
        for line in lines:
            if "\n" in line or "\r" in line or "\0" in line:
                raise ValueError("a batch input line cannot hold a newline, CR or NUL")
        stdin = self.process.stdin
        if self._stdin_closed or stdin is None or stdin.is_closing():
            raise BatchInputClosed("the child's input is closed")
        data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise BatchInputClosed("the child stopped reading its input") from error

    async def close_input(self) -> None:
        """Close the child's stdin: the graceful stop. In-flight work still finishes."""
        stdin = self.process.stdin
        if self._stdin_closed or stdin is None:
            return
        self._stdin_closed = True
        stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()

    # -- output ---------------------------------------------------------------------

    def output(self) -> AsyncIterator[OutputLine]:
        """The child's stdout and stderr lines as they come, until both reach their end.

        There is one such stream per process; it ends when the child and every
        helper in its process group have closed their output.
        """
        if self._output is None:
            raise RuntimeError("not started")
        if self._output_taken:
            raise RuntimeError("the output of a batch process can be read only once")
        self._output_taken = True
        return self._output

    @staticmethod
    async def _tag(reader: asyncio.StreamReader, stream: StreamName) -> AsyncIterator[OutputLine]:
        async with contextlib.aclosing(iter_line_batches(reader)) as batches:
            async for batch in batches:
                for raw in batch:
                    yield OutputLine(stream, raw.decode("utf-8", "surrogateescape"))

    # -- stopping -------------------------------------------------------------------

    async def wait(self) -> int:
        """Wait for the child to exit (its helpers reaped too) and return its status."""
        assert self._reaper is not None, "not started"
        return await asyncio.shield(self._reaper)

    async def terminate(self) -> int:
        """Forced stop: SIGTERM to the process group, SIGKILL after the grace period."""
        proc = self.process
        if proc.returncode is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self._exited.wait(), self.grace)
            except TimeoutError:
                _signal_group(proc.pid, signal.SIGKILL)
        return await self.wait()

    async def shutdown(self, *, force: bool) -> int:
        """Stop the child (graceful or forced) while draining its output; return its status."""
        if self._proc is None:
            return 0
        drainer = asyncio.create_task(self._drain())
        try:
            if force:
                return await self.terminate()
            await self.close_input()
            return await self.wait()
        except BaseException:
            await self.terminate()
            raise
        finally:
            await cancel_and_wait(drainer)

    async def _drain(self) -> None:
        """Read and drop whatever output nobody else reads, so the child never blocks."""
        assert self._output is not None
        self._output_taken = True
        # Close the merged stream first so two readers never share a pipe. If a
        # consumer is inside it right now, aclose refuses (RuntimeError): that
        # consumer is reading, which drains the pipes just as well.
        with contextlib.suppress(RuntimeError):
            await self._output.aclose()
        proc = self.process
        assert proc.stdout is not None and proc.stderr is not None
        await asyncio.gather(_discard(proc.stdout), _discard(proc.stderr))

    async def _reap(self) -> int:
        """Wait for the leader to exit, then make sure no helper of its group lingers."""
        proc = self.process
        # Not proc.wait(): before Python 3.12 it returns only once every pipe is
        # closed, and a helper that inherited stdout would keep it waiting forever.
        await self._exited.wait()
        await _reap_group(proc.pid, STRAGGLER_GRACE)
        try:
            return await asyncio.wait_for(proc.wait(), STRAGGLER_GRACE)
        except TimeoutError:
            # A process outside the group still holds our pipes: stop listening.
            transport = proc._transport  # type: ignore[attr-defined]
            transport.close()
            returncode = transport.get_returncode()
            return -signal.SIGKILL if returncode is None else int(returncode)


async def _discard(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(RuntimeError, ConnectionError):
        while await reader.read(1 << 16):
            pass


def _live_group_members(pgid: int) -> list[int] | None:
    """Processes of group ``pgid`` that are not zombies; None where /proc is unavailable."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process of group ``pgid`` still exists."""
    members = _live_group_members(pgid)
    if members is not None:
        return bool(members)
    return _signal_group(pgid, 0)


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to process group ``pgid``; False if the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


async def _group_gone_within(pgid: int, grace: float) -> bool:
    """Wait up to ``grace`` seconds for every live process of group ``pgid`` to end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def stop_group(pgid: int, grace: float) -> None:
    """SIGTERM process group ``pgid``, then SIGKILL what is left after ``grace`` seconds."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not _signal_group(pgid, signum) or await _group_gone_within(pgid, grace):
            return


async def _reap_group(pgid: int, grace: float) -> None:
    """Give a dead leader's stragglers ``grace`` seconds, then stop them."""
    if not await _group_gone_within(pgid, grace):
        await stop_group(pgid, grace)
