"""The run's true numbers: speed over seconds (not events) and time left for everything.

Plain arithmetic on what the caller passes in, clocks included, so that a
recorded trace gives the same figures every time (tests replay one).
"""

from __future__ import annotations

import re
from collections import deque

__all__ = ["RateWindow", "key_size", "time_left"]

#: The size field of a git-annex key: ``SHA256E-s2000--…`` holds 2000 bytes.
_KEY_SIZE = re.compile(r"^[A-Z0-9]+-s(\d+)(?:-[^-]*)*--")


def key_size(key: str | None) -> int | None:
    """The size a git-annex key records, if it records one (URL keys may not)."""
    if not key:
        return None
    match = _KEY_SIZE.match(key)
    return int(match[1]) if match else None


class RateWindow:
    """Bytes a second over the last ``seconds``, from a counter that only grows.

    Events come in bursts (a small file may finish in one record; git-annex
    reports progress every few hundred milliseconds), so a rate per event
    swings wildly; bytes over a window of seconds does not. Until the window
    spans ``settle`` seconds there is no rate (None), not a guess from a burst.
    """

    def __init__(self, seconds: float = 5.0, *, settle: float = 1.0) -> None:
        self.seconds = seconds
        self.settle = settle
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, received: int) -> None:
        """Record that ``received`` bytes had arrived in all by ``now`` (seconds)."""
        samples = self._samples
        if samples and now <= samples[-1][0]:
            samples[-1] = (samples[-1][0], max(received, samples[-1][1]))
            return
        samples.append((now, received))
        # Keep one sample at or before the window's start, so the window is always full.
        while len(samples) > 2 and samples[1][0] <= now - self.seconds:
            samples.popleft()

    def rate(self) -> float | None:
        """Bytes a second over the window, or None before it spans ``settle`` seconds."""
        samples = self._samples
        if len(samples) < 2:
            return None
        (first_at, first), (last_at, last) = samples[0], samples[-1]
        span = last_at - first_at
        if span < self.settle:
            return None
        return max(last - first, 0) / span


def time_left(
    *,
    known_left: int,
    unknown_items: int,
    mean_size: float | None,
    rate: float | None,
) -> tuple[float | None, bool]:
    """Seconds until everything left is in, and whether that is an estimate.

    ``known_left``: bytes still to come of the items whose sizes are known;
    ``unknown_items``: items still to come whose sizes are not (queued ones,
    and downloads git-annex has not sized), each counted at ``mean_size`` (the
    mean of the sizes known so far). None when nothing is left, no rate is known
    yet, or sizes are unknown and no size is known to guess from.
    """
    if not known_left and not unknown_items:
        return None, False
    if not rate or rate <= 0:
        return None, bool(unknown_items)
    if unknown_items and mean_size is None:
        return None, True
    left = known_left + unknown_items * (mean_size or 0.0)
    return left / rate, bool(unknown_items)
