"""The benchmarks' local HTTP server, in a process of its own, and fresh repositories.

Sharing the measured process's GIL with the server would slow both and make
the comparison unfair, so the server runs apart.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tui_annex.annex.locate import GitAnnex
from tui_annex.demo import make_demo_repo


@contextlib.contextmanager
def server_process() -> Iterator[str]:
    """Run ``tui_annex.demo_server`` in a child process; yield its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tui_annex.demo_server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.stdin.close()
        server.wait()


def fresh_repo(root: Path, annex: GitAnnex) -> Path:
    """A new git-annex repository below ``root`` that may download from 127.0.0.1."""
    return make_demo_repo(Path(tempfile.mkdtemp(dir=root)) / "repo", annex)
