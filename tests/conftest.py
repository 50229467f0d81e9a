"""Shared fixtures: a real HTTP server on 127.0.0.1, real git-annex repositories,
a FAKE git-annex for injected faults, and a guard that no git-annex process
outlives any test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_annex.annex.locate import GitAnnex, find_git_annex
from tui_annex.demo import make_demo_repo
from tui_annex.demo_server import LocalServer

TESTS = Path(__file__).parent

# Every process this test run starts inherits this mark, so the leak check
# below counts only our own processes (not another test run's on the machine).
RUN_MARK = f"TUI_ANNEX_TEST_RUN={os.getpid()}-{uuid.uuid4().hex}"
# Times on screen (the log pane's) read the same on every machine.
os.environ["TZ"] = "UTC"
time.tzset()
os.environ["TUI_ANNEX_TEST_RUN"] = RUN_MARK.split("=", 1)[1]


@pytest.fixture(scope="session")
def git_annex() -> GitAnnex:
    """The real git-annex (the PyPI wheel in the test environment)."""
    return find_git_annex()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh local HTTP server for one test."""
    srv = LocalServer().start()
    try:
        yield srv
    finally:
        srv.close()


def git(repo: Path, *args: str, annex: GitAnnex | None = None) -> str:
    """Run git in ``repo`` with git-annex on PATH and return its stdout."""
    env = (annex or find_git_annex()).env()
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def init_repo(path: Path, annex: GitAnnex) -> Path:
    """Make ``path`` a git-annex repository that (alone) may download from 127.0.0.1."""
    return make_demo_repo(path, annex)


@pytest.fixture
def repo(tmp_path: Path, git_annex: GitAnnex) -> Path:
    """A fresh git-annex repository allowed to download from 127.0.0.1."""
    return init_repo(tmp_path / "repo", git_annex)


@pytest.fixture
def fake_annex(tmp_path: Path) -> GitAnnex:
    """A FAKE git-annex executable (tests/fake_git_annex.py) steered by FAKE_ANNEX_* variables."""
    script = tmp_path / "fake-bin" / "fake-git-annex"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n" + (TESTS / "fake_git_annex.py").read_text())
    script.chmod(0o755)
    return GitAnnex(script)


def annex_processes() -> dict[int, str]:
    """Live (non-zombie) git-annex, fake stand-in or input reader processes of this test
    run, by pid."""
    found = {}
    mark = RUN_MARK.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 :].startswith("Z"):
            continue
        words = [word.decode(errors="replace") for word in argv if word]
        if any(
            os.path.basename(word) in ("git-annex", "fake-git-annex") or "fake_git_annex" in word
            for word in words[:2]
        ) or any("tui_annex.loader" in word for word in words[:3]):  # an input reader
            found[int(entry.name)] = " ".join(words)[:200]
    return found


@pytest.fixture(autouse=True)
def no_stray_annex_processes() -> Iterator[None]:
    """Fail a test that leaves a git-annex (or fake) process running."""
    before = set(annex_processes())
    yield
    # A process whose parent has just reaped it may still be listed for a moment.
    deadline = time.monotonic() + 5
    while True:
        left = {pid: cmd for pid, cmd in annex_processes().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"git-annex processes outlived the test: {left}"
