"""The pipeline's ceiling: how many git-annex answers a second the engine can take.

A STAND-IN git-annex (bench/standin_annex.py, ``fast``) answers every line at
once with two progress records and a success, as fast as it can write; a
:class:`~tui_annex.session.Session` over a real repository reads them into its
queue. Prints events (progress + answers) per second, end to end: the most
any front end could be asked to show.

    python bench/pipeline.py [--items 20000] [--jobs 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_server import fresh_repo
from bench.standin_annex import install
from tui_annex.annex.locate import GitAnnex, find_git_annex
from tui_annex.events import ItemFinished, ItemProgress
from tui_annex.session import Session


async def run(repo: Path, standin: GitAnnex, items: int, jobs: int) -> tuple[float, int, int]:
    session = Session(repo, git_annex=standin, jobs=jobs, stall_timeout=None)
    for number in range(items):
        session.queue.add(f"http://127.0.0.1:9/f{number}", f"d{number % 100}/f{number}.bin")
    session.queue.close()
    progress = finished = 0
    started = time.perf_counter()
    async with session:
        async for event in session.events():
            if isinstance(event, ItemProgress):
                progress += 1
            elif isinstance(event, ItemFinished):
                finished += 1
    return time.perf_counter() - started, progress, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    annex = find_git_annex()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = fresh_repo(root, annex)
        standin = GitAnnex(install(root / "standin", annex.executable, "fast"))
        elapsed, progress, finished = asyncio.run(run(repo, standin, args.items, args.jobs))
    assert finished == args.items, (finished, args.items)
    events = progress + finished
    print(
        f"{args.items} items through a Session from a stand-in answering at once"
        f" (2 progress records and a success each, -J{args.jobs}):"
        f" {events / elapsed:,.0f} events/s, {finished / elapsed:,.0f} items/s ({elapsed:.2f} s)"
    )


if __name__ == "__main__":
    main()
