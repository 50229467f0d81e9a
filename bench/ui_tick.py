"""Cost of the app's refresh timer with a large queue, in milliseconds per tick.

Fills a queue with N items, opens the app headless (Textual's test driver), keeps
8 items downloading and times the timer's tick after each progress round, then
after reorders (which rebuild the row order).

    python bench/ui_tick.py [--items 100000] [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' fake job

from tests.fakes import FakeJob
from tui_annex.queue import DownloadQueue
from tui_annex.ui.app import TuiAnnexApp


async def measure(items: int, rounds: int) -> tuple[list[float], list[float]]:
    queue = DownloadQueue()
    for number in range(items):
        queue.add(f"https://example.org/f/{number}", f"d{number % 100}/f{number}.bin")
    queue.close()
    app = TuiAnnexApp(FakeJob(queue))
    progress, reorder = [], []
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        sent = [item for item in (queue.take_next() for _ in range(8)) if item is not None]
        app.main.tick()
        for round_number in range(rounds):
            for offset, item in enumerate(sent):
                queue.mark_progress(item, round_number * 1000 + offset, 10**6)
            started = time.perf_counter()
            app.main.tick()
            progress.append(time.perf_counter() - started)
        pending = queue.pending()
        for round_number in range(max(rounds // 6, 3)):
            queue.move_to_top([pending[-1 - round_number].id])
            app.main.model._stale = True  # measure a reorder itself
            started = time.perf_counter()
            app.main.tick()
            reorder.append(time.perf_counter() - started)
    return progress, reorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    progress, reorder = asyncio.run(measure(args.items, args.rounds))
    budget = 1000 / 15
    print(f"{args.items} items, 8 downloading; the timer runs 15 times a second ({budget:.0f} ms)")
    print(f"tick after progress: median {statistics.median(progress) * 1000:7.2f} ms")
    print(f"tick after a reorder: median {statistics.median(reorder) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
