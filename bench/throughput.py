"""Throughput of tui-annex's engine against plain ``git annex addurl --batch``.

Serves N generated files from a local server on 127.0.0.1 and adds them to a
fresh repository four ways: by piping every line into ``git annex addurl
--batch -J J`` (the baseline), the same with ``--json-progress`` (the progress
reports tui-annex asks git-annex for), through a tui-annex ``Session`` (the
engine), and with the whole ``tui-annex --no-ui`` command (input file, engine,
commit, plain output). Prints files per second for each and the ratios.

    python bench/throughput.py [--files 400] [--size 2000] [--jobs 4] [--rounds 3]
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
from tui_annex.session import Session


def baseline(repo: Path, annex: GitAnnex, lines: list[str], jobs: int, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        annex.argv("addurl", "--batch", "--with-files", "--json", "-J", str(jobs), *extra),
        input="".join(line + "\n" for line in lines),
        cwd=repo,
        env=annex.annex_env(),
        text=True,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


async def engine(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
    session = Session(repo, git_annex=annex, jobs=jobs)
    for line in lines:
        url, path = line.split(" ", 1)
        session.queue.add(url, path)
    session.queue.close()
    started = time.perf_counter()
    async with session:
        async for _event in session.events():
            pass
    elapsed = time.perf_counter() - started
    report = session.report()
    assert len(report.done) == len(lines), report
    return elapsed


def command(repo: Path, lines: list[str], jobs: int) -> float:
    listing = repo.parent / f"{repo.name}.txt"
    listing.write_text("".join(line + "\n" for line in lines))
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "tui_annex", "--no-ui", "-J", str(jobs), "-C", str(repo)),
            *("--log-file", str(repo.parent / f"{repo.name}.log"), str(listing)),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    annex = find_git_annex()
    with server_process() as origin, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, progress, ours, whole = [], [], [], []
        for round_ in range(args.rounds):
            lines = [
                f"{origin}/file/r{round_}-{i}?size={args.size} d{i % 10}/f{i:05d}.bin"
                for i in range(args.files)
            ]
            base.append(baseline(fresh_repo(root, annex), annex, lines, args.jobs))
            progress.append(
                baseline(fresh_repo(root, annex), annex, lines, args.jobs, "--json-progress")
            )
            ours.append(asyncio.run(engine(fresh_repo(root, annex), annex, lines, args.jobs)))
            whole.append(command(fresh_repo(root, annex), lines, args.jobs))
    b, o, w = statistics.median(base), statistics.median(ours), statistics.median(whole)
    p = statistics.median(progress)
    print(f"{args.files} files of {args.size} bytes, -J{args.jobs}, median of {args.rounds} rounds")
    print(f"plain git annex addurl --batch: {b:6.2f} s  {args.files / b:7.1f} files/s")
    print(f"plain, with --json-progress:    {p:6.2f} s  {args.files / p:7.1f} files/s")
    print(f"tui-annex engine:               {o:6.2f} s  {args.files / o:7.1f} files/s")
    print(f"tui-annex --no-ui command:      {w:6.2f} s  {args.files / w:7.1f} files/s")
    print(f"time ratio, engine / plain:     {o / b:6.3f}")
    print(f"time ratio, engine / plain with progress: {o / p:6.3f}")
    print(f"time ratio, command / plain:    {w / b:6.3f}")


if __name__ == "__main__":
    main()
