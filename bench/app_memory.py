"""The app's memory over a long run: RSS every few seconds while items finish.

Fills a queue with N items, opens the app (Textual's headless driver, the real
widgets and timer), keeps 8 items downloading with progress every 20 ms and
finishes RATE items a second, and prints the process's RSS as it goes, then
the growth per minute after a warm-up.

    python bench/app_memory.py [--items 100000] [--seconds 60] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' fake job

from tests.fakes import FakeJob
from tui_annex.items import DownloadItem
from tui_annex.queue import DownloadQueue
from tui_annex.ui.app import TuiAnnexApp


def rss_mb() -> float:
    """This process's resident set, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


async def run(items: int, seconds: float, rate: float) -> list[tuple[float, float]]:
    queue = DownloadQueue()
    for number in range(items):
        queue.add(f"https://example.org/f/{number}", f"d{number % 100}/f{number}.bin")
    queue.close()
    app = TuiAnnexApp(FakeJob(queue))
    samples: list[tuple[float, float]] = []
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        in_flight: list[DownloadItem] = []
        start = time.monotonic()
        next_finish = next_sample = start
        step = 0
        while (now := time.monotonic()) - start < seconds:
            while len(in_flight) < 8 and (item := queue.take_next()) is not None:
                in_flight.append(item)
            for offset, item in enumerate(in_flight):
                queue.mark_progress(item, step * 100 + offset, 10**6)
            step += 1
            while next_finish <= now and in_flight:
                item = in_flight.pop(0)
                queue.mark_finished(item, success=True, key="SHA256E-s1--x", errors=[], note=None)
                next_finish += 1 / rate
            if now >= next_sample:
                samples.append((now - start, rss_mb()))
                print(f"{now - start:6.1f} s  RSS {samples[-1][1]:7.1f} MB", flush=True)
                next_sample += max(seconds / 12, 1.0)
            await asyncio.sleep(0.02)
        samples.append((time.monotonic() - start, rss_mb()))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0, help="items finished per second")
    args = parser.parse_args()
    warm_up = min(10.0, args.seconds / 3)
    samples = asyncio.run(run(args.items, args.seconds, args.rate))
    after = [sample for sample in samples if sample[0] >= warm_up]
    (t0, r0), (t1, r1) = after[0], after[-1]
    per_minute = (r1 - r0) / max(t1 - t0, 1e-9) * 60
    print(
        f"{args.items} items, {args.rate:g} finished/s, 8 in flight: RSS {r0:.1f} -> {r1:.1f} MB"
        f" after warm-up; growth {per_minute:.1f} MB/min"
    )


if __name__ == "__main__":
    main()
