"""Large input files parsed and checked in a second process.

Parsed in process, each record of an input costs the event loop about 3 us to
read and check (decode, split, URL and path rules) before the queue claims its
path and builds its item: 3 s of a million-line input, on the same core as the
screen and the keys. A regular file of :data:`READER_MIN_BYTES` or more is
therefore read by a reader process on another core. It runs the same parser
and the same checks (:class:`~tui_annex.inputs.RecordParser`,
:func:`~tui_annex.queue.check_record`) and sends each slice of records back as
a few long strings (:class:`CheckedBatch`), which the loop splits in C.

The reader is this module run as a program. It holds no state the run needs:
it ends when the input does, is killed when the run stops reading, and dies of
a broken pipe if the run itself dies. A small file, standard input, a FIFO or
a ``--shard`` run (which places refused records by their raw text) is parsed
in process, as is any file when the reader cannot be started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import queue
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .checked import SLICE, CheckedBatch, check_batch
from .inputs import InputRecord, RecordParser, Rejection, detect_format, read_record_batches
from .streams import LineSplitter

__all__ = [
    "READER_MIN_BYTES",
    "CheckedBatch",
    "ReadSettings",
    "ReaderFailed",
    "record_batches",
    "start_early",
    "stop_early",
]

READER_MIN_BYTES = 1 << 20  # ~15,000 lines: below it, starting a process costs more
READ_AHEAD = 256  # chunks of input parsed before the run reads them (~250,000 records)
_CHUNK = 1 << 16
_ROOT = str(Path(__file__).resolve().parent.parent)


class ReaderFailed(Exception):
    """The reader process ended without finishing its input."""


@dataclass(frozen=True)
class ReadSettings:
    """How an input is read and checked: its format and columns, and the URL schemes."""

    schemes: frozenset[str]
    input_format: str | None = None
    url_column: str = "url"
    path_column: str = "path"
    metadata_columns: tuple[str, ...] = ()

    def key(self, name: str) -> str:
        """Input ``name`` with these settings, as the reader process takes them."""
        fmt = detect_format(name, self.input_format)
        columns = [self.url_column, self.path_column, list(self.metadata_columns)]
        return json.dumps([name, fmt, *columns, sorted(self.schemes)])


def start_early(name: str, settings: ReadSettings) -> str | None:
    """Start the reader of input ``name`` now, if it gets one: it parses and checks while
    the run starts up (imports, the repository's checks, the journal), and
    :func:`record_batches` takes its batches over. Return its key for
    :func:`stop_early`. A reader never taken over dies with this process (a broken
    pipe) if not stopped before."""
    try:
        key = settings.key(name)
    except ValueError:  # an unknown format: record_batches says so
        return None
    if key not in _early:
        process = _start(name, key)
        if process is None:
            return None
        _early[key] = process
    return key


_early: dict[str, subprocess.Popen[bytes]] = {}


def stop_early(keys: Iterable[str]) -> None:
    """Stop the readers started early (:func:`start_early`'s keys) that no run took over."""
    for key in keys:
        process = _early.pop(key, None)
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def _start(name: str, key: str) -> subprocess.Popen[bytes] | None:
    """The reader process of ``name``, if it is a large regular file and one can start."""
    fd = None if name == "-" else _open_large(name)
    if fd is None:
        return None
    try:
        return subprocess.Popen(
            [*reader_command(), str(fd), key],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(fd,),
            start_new_session=True,  # the terminal's Ctrl-C is the run's to act on
        )
    except OSError:
        return None  # parsed in process, as a small file
    finally:
        os.close(fd)


async def record_batches(
    name: str,
    settings: ReadSettings,
    *,
    stdin: BinaryIO | None = None,
    in_process: bool = False,
) -> AsyncGenerator[list[InputRecord | Rejection] | CheckedBatch, None]:
    """Yield the records of input ``name``: checked batches from the reader process for
    a large regular file (unless ``in_process``), else the parser's lists of records."""
    key = settings.key(name)
    process = None if in_process else _early.pop(key, None) or _start(name, key)
    if process is None:
        batches = read_record_batches(
            name,
            input_format=settings.input_format,
            url_column=settings.url_column,
            path_column=settings.path_column,
            metadata_columns=settings.metadata_columns,
            stdin=stdin,
        )
        async with contextlib.aclosing(batches):
            async for batch in batches:
                yield batch
        return
    try:
        # Closed here, not when collected: its pipe's transport must be gone before the
        # pipe is closed (or its descriptor, reused, would be read by a stale transport).
        async with contextlib.aclosing(_from_reader(process, name)) as checked_batches:
            async for checked in checked_batches:
                yield checked
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()  # at once: it is dead or has closed its output
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def reader_command() -> list[str]:
    """The reader process's command, which takes its settings as one more argument."""
    start = (
        f"import sys; sys.path.insert(0, {_ROOT!r}); from tui_annex.loader import serve; serve()"
    )
    return [sys.executable, "-c", start]


def _open_large(name: str) -> int | None:
    """A descriptor on ``name`` if it is a regular file worth a reader process."""
    try:
        if os.stat(name).st_size < READER_MIN_BYTES:
            return None
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None  # the parser in process says why
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_size >= READER_MIN_BYTES:
            os.set_blocking(fd, True)
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


async def _from_reader(
    process: subprocess.Popen[bytes], source: str
) -> AsyncGenerator[CheckedBatch, None]:
    assert process.stdout is not None and process.stderr is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK * 4)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), process.stdout
    )
    try:
        while True:
            size = int.from_bytes(await reader.readexactly(4), "little")
            message = pickle.loads(await reader.readexactly(size))
            if message[0] == "batch":
                yield CheckedBatch.unpack(source, message[1])
            elif message[0] == "error":
                raise OSError(message[1], message[2])
            elif message[0] == "failed":
                raise ReaderFailed(message[1])
            else:
                return
    except asyncio.IncompleteReadError:
        status = process.wait()  # its output is closed: it has ended or is ending
        said = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        raise ReaderFailed(
            f"the input reader process ended early ({how})" + (f": {said[-1]}" if said else "")
        ) from None
    finally:
        transport.close()


def serve() -> None:
    """The reader process: parse and check the input on the descriptor it was given, and
    write the batches to standard output, each a 4-byte length and a pickle.

    A thread writes them, so parsing runs ahead of a run still starting up, by up to
    :data:`READ_AHEAD` chunks of input.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = int(sys.argv[1])
    source, fmt, url_column, path_column, metadata_columns, schemes = json.loads(sys.argv[2])
    parser = RecordParser(source, fmt, url_column, path_column, metadata_columns)
    allowed = frozenset(schemes)
    ready: queue.Queue[bytes | None] = queue.Queue(maxsize=READ_AHEAD)
    pending: list[bytes] = []

    def send(message: tuple[object, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        pending.append(len(data).to_bytes(4, "little") + data)

    def emit(records: list[InputRecord | Rejection]) -> None:
        for start in range(0, len(records), SLICE):
            send(("batch", check_batch(source, records[start : start + SLICE], allowed).pack()))

    def flush() -> None:
        ready.put(b"".join(pending))
        pending.clear()

    writer = threading.Thread(target=_write_out, args=(ready,), name="writer", daemon=True)
    writer.start()
    try:
        failed = _parse(fd, parser, emit, flush)
    except Exception as error:  # a bug: the run says so, as it would of one in process
        send(("failed", f"reading stopped: {type(error).__name__}: {error}"))
    else:
        if failed is not None:
            send(("error", failed.errno, failed.strerror))
        send(("end",))
    flush()
    ready.put(None)
    writer.join()


def _write_out(ready: queue.Queue[bytes | None]) -> None:
    """Write what the parser made ready to standard output, until told to stop."""
    out = sys.stdout.fileno()
    try:
        while (data := ready.get()) is not None:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
    except OSError:  # a broken pipe: the run stopped reading, or is gone
        os._exit(0)


def _parse(
    fd: int,
    parser: RecordParser,
    emit: Callable[[list[InputRecord | Rejection]], None],
    flush: Callable[[], None],
) -> OSError | None:
    """Parse all of ``fd``; return the error that ended reading it early, if one did."""
    lines = LineSplitter()
    while True:
        try:
            chunk = os.read(fd, _CHUNK)
        except OSError as error:
            return error  # the records read so far are sent; the run says why it stopped
        if not chunk:
            break
        raws = lines.feed(chunk)
        if raws:
            emit(parser.feed(raws))
            flush()
    last = lines.end()
    if last:
        emit(parser.feed(last))
    for batch in parser.finish():
        emit(batch)
    return None


if __name__ == "__main__":
    serve()
