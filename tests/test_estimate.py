"""The speed and time-left estimators, replayed on recorded traces (no wall clock)."""

from __future__ import annotations

import pytest

from tui_annex.estimate import RateWindow, key_size, time_left
from tui_annex.items import ItemState
from tui_annex.queue import DownloadQueue
from tui_annex.widgets.model import QueueModel


def test_a_key_gives_its_size_when_it_records_one() -> None:
    assert key_size("SHA256E-s2000--0123abcd.bin") == 2000
    assert key_size("SHA256E-s10-S1000-C1--0123abcd") == 10  # a chunk of a chunked key
    assert key_size("MD5-s0--d41d8cd98f00b204e9800998ecf8427e") == 0
    assert key_size("URL--https&c%%example.org%file") is None
    assert key_size(None) is None and key_size("") is None


def test_speed_is_bytes_over_seconds_not_a_rate_per_burst() -> None:
    # 20,000 files of 2 kB at ~170 kB/s, answered in bursts: 42 files every 0.5 s, and a
    # first burst of 600 that were finished before the first look.
    window = RateWindow()
    received = 0
    seen = []
    for tick in range(0, 300):  # 20 s at 15 Hz
        now = tick / 15
        if tick == 1:
            received += 600 * 2000
        elif tick % 8 == 0:
            received += 42 * 2000
        window.add(now, received)
        rate = window.rate()
        if now >= 7.0:
            assert rate is not None
            seen.append(rate)
    true_rate = 42 * 2000 / (8 / 15)
    assert all(abs(rate - true_rate) / true_rate < 0.15 for rate in seen), (min(seen), max(seen))


def test_there_is_no_speed_before_the_window_has_a_second_of_data() -> None:
    window = RateWindow(settle=1.0)
    assert window.rate() is None
    window.add(0.0, 0)
    window.add(0.5, 10**9)  # a burst: no 2 GB/s reading from half a second
    assert window.rate() is None
    window.add(1.0, 10**9)
    assert window.rate() == pytest.approx(10**9)


def test_time_left_counts_unsized_items_at_the_mean_finished_size_and_says_so() -> None:
    assert time_left(known_left=0, unknown_items=0, mean_size=None, rate=10.0) == (None, False)
    assert time_left(known_left=100, unknown_items=0, mean_size=None, rate=10.0) == (10.0, False)
    assert time_left(known_left=100, unknown_items=3, mean_size=50.0, rate=10.0) == (25.0, True)
    assert time_left(known_left=100, unknown_items=3, mean_size=None, rate=10.0) == (None, True)
    assert time_left(known_left=100, unknown_items=0, mean_size=None, rate=None) == (None, False)


def test_the_eta_covers_the_whole_run_not_only_what_is_in_flight() -> None:
    # 15 files of 2 MB, 4 at a time at 25 kB/s each: four rounds of 80 s, 320 s in all.
    # Sizes are known only once git-annex starts an item; keys record them when done.
    # (The old ETA covered the items in flight alone: "0:09, then 0:14, then 0:18".)
    size, per_item, jobs = 2_000_000, 25_000, 4
    queue = DownloadQueue()
    for number in range(15):
        queue.add(f"https://example.org/{number}", f"f{number}.bin")
    queue.close()
    model = QueueModel(queue)
    started: dict[int, float] = {}
    checks = []
    end = None
    for tick in range(0, 15 * 400):
        now = tick / 15
        while len(started) < jobs and queue.has_ready():
            item = queue.take_next()
            assert item is not None
            started[item.id] = now
        for item_id, began in list(started.items()):
            item = queue.get(item_id)
            done = min(int((now - began) * per_item), size)
            queue.mark_progress(item, done, size)
            if done >= size:
                key = f"SHA256E-s{size}--{item_id:064x}.bin"
                queue.mark_finished(item, success=True, key=key, errors=(), note=None)
                del started[item_id]
        model.update(now=now)
        if tick % 150 == 0:
            totals = model.totals()
            checks.append((now, totals.eta, totals.eta_estimated, totals.speed))
        if not queue.has_pending() and not started:
            end = now
            break
    assert end == pytest.approx(320, abs=1)
    for now, eta, estimated, speed in checks:
        if 10 <= now <= 75:
            assert speed == pytest.approx(100_000, rel=0.02), (now, speed)
            assert estimated, "the queued items' sizes are guessed from those in flight"
        if 10 <= now <= 300:
            assert eta is not None, now
            # Right all along but for the last round, which runs 3 at a time (20 s slower
            # than the rate the estimate extrapolates): the old ETA was off by minutes.
            assert abs(eta - (end - now)) <= 21 + 0.05 * (end - now), (now, eta, end - now)
    assert model.totals().counts[ItemState.DONE] == 15


def test_a_small_file_finished_without_progress_still_counts_its_bytes() -> None:
    queue = DownloadQueue()
    item = queue.add("https://example.org/a", "a.bin")
    model = QueueModel(queue)
    model.update(now=0.0)
    taken = queue.take_next()
    assert taken is item
    queue.mark_finished(item, success=True, key="SHA256E-s2000--ab.bin", errors=(), note=None)
    model.update(now=2.0)
    totals = model.totals()
    assert (totals.bytes_done, totals.bytes_total, totals.received) == (2000, 2000, 2000)
    assert totals.speed == pytest.approx(1000.0)
