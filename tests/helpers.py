"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from tui_annex.events import Event, ProcessStarted
from tui_annex.job import Job
from tui_annex.options import RunOptions
from tui_annex.session import Session


async def collect(
    session: Session,
    until: Callable[[Event], bool] | None = None,
    then: Callable[[], None] | None = None,
) -> list[Event]:
    """Run ``session`` to its end and return its events; call ``then`` once ``until`` matches."""
    events: list[Event] = []
    triggered = False
    async with contextlib.aclosing(session.events()) as stream:
        async for event in stream:
            events.append(event)
            if not triggered and until is not None and until(event) and then is not None:
                triggered = True
                then()
    return events


def pids(events: list[Event]) -> list[int]:
    """Process ids of the git-annex processes the events say were started."""
    return [event.pid for event in events if isinstance(event, ProcessStarted)]


async def in_thread(function: Callable[[], object]) -> object:
    """Run a blocking test-server wait without blocking the event loop."""
    return await asyncio.to_thread(function)


def staged(repo: Path) -> set[str]:
    """Paths staged in ``repo``'s index (relative)."""
    from tests.conftest import git

    return {line for line in git(repo, "diff", "--cached", "--name-only").splitlines() if line}


async def aiter_list(stream: AsyncIterator[Event]) -> list[Event]:
    """All events of ``stream``."""
    return [event async for event in stream]


async def eventually(condition: Callable[[], bool], within: float = 60) -> None:
    """Poll ``condition`` (without blocking the loop) until it holds; fail after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never came true")
        await asyncio.sleep(0.02)


def make_job(tmp_path: Path, repo: Path, lines: Sequence[tuple[str, str]], jobs: int = 2) -> Job:
    """A job over an input file of ``URL PATH`` lines."""
    source = tmp_path / "urls.txt"
    source.write_text("".join(f"{url} {path}\n" for url, path in lines))
    return Job(RunOptions(repo=repo, inputs=(str(source),), jobs=jobs, grace=2.0))


def top_with_a_linked_folder(tmp_path: Path) -> Path:
    """A repository top with a folder ``d`` and a folder ``linked`` that is a symlink to
    a folder outside it."""
    top = tmp_path / "repo"
    (top / "d").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (top / "linked").symlink_to(outside)
    return top


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``condition`` (every 50 ms) until it holds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never came true")
        time.sleep(0.05)


def head_files(repo: Path) -> set[str]:
    """The files in HEAD's tree (none before the first commit)."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=repo, capture_output=True, text=True
    )
    return set(listing.stdout.split("\n")) - {""}
