"""How many waiting items git-annex needs to keep its jobs busy on small files.

Drives ``git annex addurl --batch -J J`` directly (no tui-annex) over N small
files from a local server, never letting more than W items be unanswered, for
each W in turn (interleaved over the rounds), and prints the medians: wall
time, files a second, and the time from writing an item to its answer.

    python bench/window.py [--files 300] [--size 2000] [--jobs 4] [--rounds 3]
        [--windows 8,16,32,64,0]   # 0: every item at once

On 2 cores (2026-11-22) each file spent about 0.1 s inside git-annex at any
window, so -J4 with 8 unanswered (tui-annex's old fixed window) reached 70
files a second and 16 or more reached 81-82: the reason tui-annex's lookahead
is measured in seconds of answers, not in items.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_server import fresh_repo, server_process
from tui_annex.annex.locate import GitAnnex, find_git_annex


def run(
    root: Path, annex: GitAnnex, lines: list[str], jobs: int, window: int
) -> tuple[float, float]:
    """Wall time and median answer latency with at most ``window`` items unanswered."""
    repo = fresh_repo(root, annex)
    args = ("--batch", "--with-files", "--json", "--json-error-messages", "--json-progress")
    child = subprocess.Popen(
        annex.argv("addurl", *args, "-J", str(jobs)),
        cwd=repo,
        env=annex.annex_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdin is not None and child.stdout is not None
    limit = window or len(lines)
    started = time.perf_counter()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    sent = answered = 0

    def fill() -> None:
        nonlocal sent
        batch = []
        while sent < len(lines) and sent - answered < limit:
            sent_at[lines[sent]] = time.perf_counter()
            batch.append(lines[sent] + "\n")
            sent += 1
        if batch:
            assert child.stdin is not None
            child.stdin.write("".join(batch).encode())
            child.stdin.flush()

    fill()
    for raw in child.stdout:
        record = json.loads(raw)
        if "success" not in record:
            continue  # progress
        answered += 1
        latencies.append(time.perf_counter() - sent_at[record["input"][0]])
        if answered == len(lines):
            break
        fill()
    child.stdin.close()
    child.wait()
    return time.perf_counter() - started, statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--windows", default="8,16,32,64,0")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    annex = find_git_annex()
    results: dict[int, list[tuple[float, float]]] = {w: [] for w in windows}
    with tempfile.TemporaryDirectory() as tmp, server_process() as base:
        lines = [f"{base}/file/f{i}?size={args.size} f{i}.bin" for i in range(args.files)]
        for round_ in range(args.rounds):
            for window in windows if round_ % 2 == 0 else windows[::-1]:
                results[window].append(run(Path(tmp), annex, lines, args.jobs, window))
    print(
        f"{args.files} files of {args.size:,} bytes from 127.0.0.1, git annex addurl -J"
        f"{args.jobs}, {args.rounds} interleaved rounds, medians"
    )
    for window in windows:
        wall = statistics.median(r[0] for r in results[window])
        latency = statistics.median(r[1] for r in results[window])
        name = "all" if window == 0 else str(window)
        print(
            f"  at most {name:>3} unanswered: {wall:5.2f} s  {args.files / wall:6.1f} files/s"
            f"  answer after {latency * 1000:5.0f} ms"
        )


if __name__ == "__main__":
    main()
