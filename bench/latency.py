"""The app under load: key press to screen, and redraws a second, seen from outside.

Runs the real app in a 120x35 pseudo-terminal on a fresh repository, with a
STAND-IN git-annex (bench/standin_annex.py, ``trickle``) that reports progress
on the items it holds at RATE records a second. Counts the frames the app
writes (redraws of the summary line, whose byte count changes on each) over a
few seconds, then presses a key PRESSES times and times each until its effect
shows on screen, after random pauses (0.05 to 0.15 s) so that the presses fall
at every point of the app's redraw cycle: ``p`` (pause / resume: the run state
word changes, and git-annex may be restarted to give back what it has not
started) or ``f`` (follow mode on: only the view changes, the column header
says "following"; each is pressed again to turn it off, untimed).

    python bench/latency.py [--rate 1000] [--presses 40] [--items 2000] [--key p]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
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

#: The summary line's words: it is redrawn on every frame while bytes arrive.
FRAME = " files: "


class Terminal:
    """Reads what the app writes, as a terminal does: all of it, at a cost linear in it
    (a reader that copied all the output so far at each read would take CPU from the
    app it measures)."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child

    def _read_some(self, timeout: float) -> str:
        try:
            return str(self.child.read_nonblocking(1 << 16, timeout=timeout))
        except pexpect.TIMEOUT:
            return ""

    def read(self, seconds: float) -> str:
        """Everything the app wrote in the next ``seconds``."""
        parts = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            parts.append(self._read_some(0.002))
        return "".join(parts)

    def wait_for(self, text: str, timeout: float = 30) -> float:
        """Read until ``text`` shows in what the app writes after this call; when it did."""
        deadline = time.monotonic() + timeout
        carried = ""  # the end of the last read, for a text split between two reads
        while True:
            window = carried + self._read_some(0.001)
            if text in window:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(text)
            carried = window[-(len(text) - 1) :] if len(text) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long frames are counted")
    parser.add_argument("--key", choices=("p", "f"), default="p", help="the key to time")
    args = parser.parse_args()
    annex = find_git_annex()
    with tempfile.TemporaryDirectory(prefix="tui-annex-latency-") as folder:
        root = Path(folder)
        repo = fresh_repo(root, annex)
        standin = install(root / "standin", annex.executable, "trickle")
        data = root / "urls.txt"
        data.write_text(
            "".join(f"http://127.0.0.1:9/f{n} d{n % 50}/f{n}.bin\n" for n in range(args.items))
        )
        env = {
            **os.environ,
            "STANDIN_RATE": str(args.rate),
            "XDG_CONFIG_HOME": str(root / "config"),
            "TERM": "xterm-256color",
        }
        child = pexpect.spawn(
            sys.executable,
            ["-m", "tui_annex", "-J8", "-C", str(repo), "--git-annex", str(standin), str(data)],
            env=env,
            dimensions=(35, 120),
            encoding="utf-8",
            codec_errors="replace",
        )
        child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
        terminal = Terminal(child)
        try:
            terminal.wait_for("RUNNING")
            terminal.read(2.0)  # warm up
            frames = terminal.read(args.seconds).count(FRAME) / args.seconds
            latencies = []
            # A fixed pause between presses would land each at the same point of the
            # app's redraw cycle (1/15 s), and every press of one run would wait alike.
            pause = functools.partial(random.Random(1).uniform, 0.05, 0.15)
            for _ in range(args.presses):
                if args.key == "f":
                    started = time.monotonic()
                    child.send("f")
                    latencies.append(terminal.wait_for("following") - started)
                    child.send("f")
                    terminal.read(pause())
                    continue
                for word in (" PAUSED ", " RUNNING "):
                    started = time.monotonic()
                    child.send("p")
                    latencies.append(terminal.wait_for(word) - started)
                    terminal.read(pause())
        finally:
            child.sendcontrol("c")
            child.sendcontrol("c")
            with contextlib.suppress(pexpect.EOF, pexpect.TIMEOUT):
                child.expect(pexpect.EOF, timeout=30)
            child.close(force=True)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"app in a 120x35 pty, -J8, stand-in git-annex reporting {args.rate:g} progress"
        f" records/s on the items it holds ({os.cpu_count()} CPUs):"
    )
    print(f"  redraws: {frames:.1f} a second")
    median = statistics.median(latencies) * 1000
    print(
        f"  {args.key} to screen ({len(latencies)} presses): median {median:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
