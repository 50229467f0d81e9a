"""What the journal costs: runs with and without it, interleaved, medians of per-pair ratios.

Two measurements:

1. ``tui-annex --no-ui`` adding N small files from a local server (real
   git-annex, fresh repository each run, commit included), with the journal and
   with ``--no-journal``, pairs interleaved A B A B.
2. A 100,000-item run through the engine against a STAND-IN git-annex that
   answers every line at once (no downloads: the pipeline and the journal are
   all that costs), with the journal attached as the Job attaches it (every
   item change queued, one flush before each event is passed on) and without.

    python bench/journal.py [--files 300] [--items 100000] [--pairs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_server import fresh_repo, server_process

from tui_annex.annex.locate import GitAnnex, find_git_annex
from tui_annex.events import ItemFinished, ItemInterrupted
from tui_annex.journal import Journal
from tui_annex.session import Session

STAND_IN = """
import json, sys
out = sys.stdout
for raw in sys.stdin:
    line = raw.rstrip("\\n")
    out.write(json.dumps({"command": "addurl", "success": True, "input": [line],
                          "file": line.partition(" ")[2], "key": "STANDIN-s1--x",
                          "error-messages": []}) + "\\n")
    out.flush()
"""


def command(repo: Path, listing: Path, jobs: int, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "tui_annex", "--no-ui", "-J", str(jobs), "-C", str(repo)),
            *("--log-file", str(repo.parent / "run.log"), *extra, str(listing)),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


async def stand_in_run(repo: Path, stand_in: GitAnnex, items: int, journal: Path | None) -> float:
    session = Session(repo, git_annex=stand_in, jobs=4, lookahead=64)
    book = None
    if journal is not None:
        book = Journal.open(journal)
        book.start_run({}, ["bench"])
        session.queue.observer = book
    started = time.perf_counter()
    for index in range(items):
        session.queue.add(f"https://example.org/{index}", f"d{index % 100}/f{index}")
    session.queue.close()
    async with session:
        async for event in session.events():
            if book is not None:  # as the Job does: outcomes written before they are passed on
                book.flush_soon(isinstance(event, ItemFinished | ItemInterrupted))
    if book is not None:
        book.close()
    elapsed = time.perf_counter() - started
    assert len(session.report().done) == items
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    annex = find_git_annex()
    with server_process() as origin, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        real_ratios, real_with, real_without = [], [], []
        for pair in range(args.pairs):
            listing = root / f"urls-{pair}.txt"
            listing.write_text(
                "".join(
                    f"{origin}/file/p{pair}-{i}?size={args.size} d{i % 10}/f{i:05d}.bin\n"
                    for i in range(args.files)
                )
            )
            order = [True, False] if pair % 2 == 0 else [False, True]
            times = {}
            for journal in order:
                extra = () if journal else ("--no-journal",)
                times[journal] = command(fresh_repo(root, annex), listing, args.jobs, *extra)
            real_with.append(times[True])
            real_without.append(times[False])
            real_ratios.append(times[True] / times[False])
        script = root / "stand-in-git-annex"
        script.write_text(f"#!{sys.executable}\n{STAND_IN}")
        script.chmod(0o755)
        stand_in = GitAnnex(script)
        big_ratios, big_with, big_without = [], [], []
        for pair in range(max(args.pairs // 2, 1)):
            order = [True, False] if pair % 2 == 0 else [False, True]
            times = {}
            for journal in order:
                repo = fresh_repo(root, annex)
                book = repo / ".git" / "tui-annex" / "journal.sqlite" if journal else None
                times[journal] = asyncio.run(stand_in_run(repo, stand_in, args.items, book))
            big_with.append(times[True])
            big_without.append(times[False])
            big_ratios.append(times[True] / times[False])
    print(
        f"{args.files} files of {args.size} bytes, -J{args.jobs}, tui-annex --no-ui, "
        f"{args.pairs} interleaved pairs"
    )
    print(f"  with journal:    median {statistics.median(real_with):6.2f} s")
    print(f"  without journal: median {statistics.median(real_without):6.2f} s")
    print(f"  time ratio with/without, median of pairs: {statistics.median(real_ratios):6.3f}")
    pairs = len(big_ratios)
    print(f"{args.items} items through the engine and a stand-in git-annex, {pairs} pairs")
    print(f"  with journal:    median {statistics.median(big_with):6.2f} s")
    print(f"  without journal: median {statistics.median(big_without):6.2f} s")
    print(f"  time ratio with/without, median of pairs: {statistics.median(big_ratios):6.3f}")


if __name__ == "__main__":
    main()
