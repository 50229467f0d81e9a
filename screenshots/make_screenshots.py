"""Regenerate ``screenshots/*.svg`` and ``*.png`` of the app's main states.

Deterministic: a fake job over a queue filled by hand (the same data as the
snapshot tests), no git-annex, no clock. Needs ``rsvg-convert`` for the PNGs.

    .venv/bin/python screenshots/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
os.environ["TZ"] = "UTC"  # the log pane's times read the same everywhere
time.tzset()

from tests.fakes import (  # noqa: E402
    FakeJob,
    died_run_offer,
    failures_queue,
    mixed_logs,
    mixed_queue,
    over_queue,
    queued_queue,
)
from tui_annex.items import RunState  # noqa: E402
from tui_annex.ui.app import TuiAnnexApp  # noqa: E402

SIZE = (120, 35)


@dataclass(frozen=True)
class Shot:
    """One screenshot: a name, the job to show and the keys to press first."""

    name: str
    job: Callable[[], FakeJob]
    keys: Sequence[str] = ()
    resume: bool = False
    size: tuple[int, int] = SIZE
    prepare: Callable[[TuiAnnexApp], None] | None = None
    """Set what a clock would (before the keys are pressed)."""


def _ran_two_and_a_half_minutes(app: TuiAnnexApp) -> None:
    app.status.started_at, app.status.ended_at = 1000.0, 1151.0
    app.main.model.peak = 9_500_000


SHOTS = [
    Shot("01-queued", lambda: FakeJob(queued_queue(40), state=RunState.IDLE, starts=False)),
    Shot("02-running", lambda: FakeJob(mixed_queue(), mixed_logs()), ["down", "down"]),
    Shot("03-failures-and-log", lambda: FakeJob(failures_queue(), mixed_logs()), ["l"]),
    Shot("04-details", lambda: FakeJob(failures_queue(), mixed_logs()), ["down"] * 8 + ["enter"]),
    Shot("05-draining", lambda: FakeJob(mixed_queue(), mixed_logs()), ["ctrl+c"]),
    Shot("06-finished", lambda: FakeJob(over_queue(), mixed_logs(), finished=True)),
    Shot(
        "07-selection",
        lambda: FakeJob(mixed_queue(), mixed_logs()),
        ["down"] * 4 + ["space", "space", "down", "space"],
    ),
    Shot(
        "08-add-dialog",
        lambda: FakeJob(mixed_queue(), mixed_logs()),
        ["a", *"ftp://data.example.org/survey-2026/new.dat", "tab", *"tables/part-002.dat"],
    ),
    Shot("09-filter", lambda: FakeJob(mixed_queue(), mixed_logs()), ["slash", *"images", "enter"]),
    Shot(
        "10-resume",
        lambda: FakeJob(queued_queue(40), state=RunState.IDLE, starts=False),
        resume=True,
    ),
    Shot("11-help", lambda: FakeJob(mixed_queue(), mixed_logs()), ["question_mark"]),
    Shot("12-quit-question", lambda: FakeJob(mixed_queue(), mixed_logs()), ["q"]),
    Shot("13-narrow", lambda: FakeJob(mixed_queue(), mixed_logs()), size=(60, 20)),
    Shot("14-cancel-question", lambda: FakeJob(mixed_queue(), mixed_logs()), ["x"]),
    Shot(
        "15-summary",
        lambda: FakeJob(over_queue(), mixed_logs(), finished=True),
        ["i"],
        prepare=_ran_two_and_a_half_minutes,
    ),
]


async def take(shot: Shot) -> Path:
    """Run the app headless, press the keys, save the SVG."""
    app = TuiAnnexApp(shot.job(), offer=died_run_offer() if shot.resume else None)
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        if shot.prepare is not None:
            shot.prepare(app)
        for key in shot.keys:
            await pilot.press(key)
        await pilot.pause()
        return Path(app.save_screenshot(f"{shot.name}.svg", path=str(HERE)))


def main() -> int:
    """Make every screenshot, then its PNG."""
    converter = shutil.which("rsvg-convert")
    for shot in SHOTS:
        svg = asyncio.run(take(shot))
        if converter:
            subprocess.run([converter, str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(svg.with_suffix(".png" if converter else ".svg").name)
    if not converter:
        print("rsvg-convert not found: SVGs only (apt-get install librsvg2-bin)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
