"""Driving the real command in a pseudo-terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect

from tests.cli_helpers import cli_env


def spawn(tmp: Path, *args: str, size: tuple[int, int] = (35, 120)) -> pexpect.spawn:
    """Start ``python -m tui_annex ARGS`` on a terminal of ``size`` (rows, columns)."""
    return pexpect.spawn(
        sys.executable,
        ["-m", "tui_annex", *args],
        env=cli_env(tmp),
        dimensions=size,
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
    )


def pump_until(child: pexpect.spawn, condition: Callable[[], bool], timeout: float = 60) -> str:
    """Keep reading the terminal (so the program never blocks on it) until ``condition``;
    what it printed is left for the next ``expect`` and returned."""
    screen = ""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached; screen:\n" + screen[-3000:])
        try:
            child.expect(pexpect.TIMEOUT, timeout=0.05)
        except pexpect.EOF:
            screen = child.before or ""
            break
        # Matching TIMEOUT consumes nothing: ``before`` holds all the output not yet
        # consumed, this read's and the earlier ones'.
        screen = child.before or ""
    return screen


def read_to_end(child: pexpect.spawn, timeout: float = 60) -> str:
    """Everything the program prints until it exits; then its exit status is set."""
    child.expect(pexpect.EOF, timeout=timeout)
    # The terminal closes as the process exits, a moment before its status exists:
    # closing at once would find it alive and hang it up (no status, a signal instead).
    child.wait()
    child.close()
    return child.before or ""
