"""Scale: parse + validate, and the app's launch, memory and keys with a huge queue.

Writes an input of N lines, then
1. reads, parses and checks it into a queue as a run does (a large file: by the
   reader process, tui_annex/loader.py), and all in this process, alternately
   (medians of 3);
2. starts the real app (``tui-annex``) on it in a pseudo-terminal, journal on,
   against a fresh repository and a STAND-IN git-annex that takes the lines it
   is sent and never answers (bench/standin_annex.py, ``hold``), and measures
   from outside: launch to the first frame, launch to the full count on screen,
   the app's RSS then, and how long ``p`` (pause / resume) takes to show, while
   the input is still being read and after.

    python bench/scale.py [--items 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_server import fresh_repo
from bench.standin_annex import install
from tui_annex.annex.locate import find_git_annex
from tui_annex.checked import CheckedBatch
from tui_annex.loader import ReadSettings, record_batches
from tui_annex.queue import DownloadQueue

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def write_input(path: Path, items: int) -> None:
    with path.open("w") as out:
        for number in range(items):
            out.write(f"http://127.0.0.1:9/files/f{number}.bin d{number % 1000}/f{number}.bin\n")


async def parse_and_validate(path: Path, *, in_process: bool = False) -> float:
    """Read, parse and check the input into a queue as a run does: by the reader process
    (a file this large), or in this process."""
    started = time.perf_counter()
    queue = DownloadQueue()
    batches = record_batches(str(path), ReadSettings(queue.schemes), in_process=in_process)
    async with contextlib.aclosing(batches):
        async for batch in batches:
            if isinstance(batch, CheckedBatch):
                queue.add_checked(batch)
            else:
                queue.add_records(batch)
    return time.perf_counter() - started


class Screen:
    """What the app draws, as plain text (escape sequences dropped), read as a terminal
    does: all of it, at a cost linear in it."""

    #: How much of what was read (escape sequences included) a pattern may reach back into.
    OVERLAP = 4096

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child

    def wait_for(self, pattern: str, timeout: float = 120) -> float:
        """Read until ``pattern`` shows (in output after this call); return when it did."""
        deadline = time.monotonic() + timeout
        carried = ""  # the end of what was read, escapes kept: one may be split by a read
        while True:
            try:
                chunk = str(self.child.read_nonblocking(1 << 16, timeout=0.005))
            except pexpect.TIMEOUT:
                chunk = ""
            window = carried + chunk
            if re.search(pattern, ANSI.sub("", window)) is not None:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} never showed")
            carried = window[-self.OVERLAP :]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def key_latencies(screen: Screen, presses: int) -> list[float]:
    times = []
    for _ in range(presses):
        for word in ("PAUSED", "RUNNING"):
            started = time.monotonic()
            screen.child.send("p")
            times.append(screen.wait_for(word, timeout=30) - started)
    return times


def run_app(root: Path, items: int) -> dict[str, float]:
    annex = find_git_annex()
    repo = fresh_repo(root, annex)
    standin = install(root / "standin", annex.executable, "hold")
    data = root / "input.txt"
    write_input(data, items)
    env = {**os.environ, "XDG_CONFIG_HOME": str(root / "config"), "TERM": "xterm-256color"}
    started = time.monotonic()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tui_annex", "-C", str(repo), "--git-annex", str(standin), str(data)],
        env=env,
        dimensions=(35, 120),
        encoding="utf-8",
        codec_errors="replace",
    )
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
    screen = Screen(child)
    figures: dict[str, float] = {}
    try:
        figures["first frame"] = screen.wait_for(r"files:") - started
        during = key_latencies(screen, 3)
        figures["full count"] = screen.wait_for(rf"\b{items} files:", timeout=600) - started
        figures["rss"] = rss_mb(child.pid)
        after = key_latencies(screen, 10)
        figures["key during load (max)"] = max(during)
        figures["key after (median)"] = statistics.median(after)
        figures["key after (max)"] = max(after)
    finally:
        child.sendcontrol("c")
        child.sendcontrol("c")
        with contextlib.suppress(pexpect.EOF, pexpect.TIMEOUT):
            child.expect(pexpect.EOF, timeout=60)
        child.close(force=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--skip-app", action="store_true", help="only parse and validate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-annex-scale-") as folder:
        root = Path(folder)
        data = root / "parse.txt"
        write_input(data, args.items)
        reader, alone = [], []
        for _ in range(3):
            reader.append(asyncio.run(parse_and_validate(data)))
            alone.append(asyncio.run(parse_and_validate(data, in_process=True)))
        print(
            f"{args.items} items: parse + validate {statistics.median(reader):.2f} s"
            f" (all in process: {statistics.median(alone):.2f} s; medians of 3)"
        )
        if args.skip_app:
            return
        figures = run_app(root, args.items)
    print(
        f"app in a 120x35 pty, journal on, stand-in git-annex holding what it is sent:\n"
        f"  launch to first frame {figures['first frame']:.2f} s;"
        f" to the full count {figures['full count']:.2f} s; RSS then {figures['rss']:.0f} MB\n"
        f"  p to screen: max {figures['key during load (max)'] * 1000:.0f} ms while loading;"
        f" median {figures['key after (median)'] * 1000:.0f} ms,"
        f" max {figures['key after (max)'] * 1000:.0f} ms after"
    )


if __name__ == "__main__":
    main()
