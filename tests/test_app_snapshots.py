"""Snapshots of the main states, from a fake job over a queue we fill (no git-annex, no clock).

Plain ``def`` tests: ``snap_compare`` runs its own event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.test_app_fakes import (
    FakeJob,
    failures_queue,
    mixed_logs,
    mixed_queue,
    over_queue,
    queued_queue,
)
from tui_annex.app import TuiAnnexApp
from tui_annex.session import RunState

SIZE = (120, 35)
Snap = Callable[..., bool]


def test_queued_before_start(snap_compare: Snap) -> None:
    job = FakeJob(queued_queue(40), state=RunState.IDLE, starts=False)
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE)


def test_downloads_midway_with_mixed_states(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=["down", "down"])


def test_failures_with_log_pane_open(snap_compare: Snap) -> None:
    job = FakeJob(failures_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=["l"])


def test_details_of_a_failed_item(snap_compare: Snap) -> None:
    job = FakeJob(failures_queue(), mixed_logs())
    # Rows: 4 in flight, 3 queued, then the failed group; the 9th row is the HTTP 500.
    keys = ["down"] * 8 + ["enter"]
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=keys)


def test_stop_in_progress(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=["ctrl+c"])


def test_forced_stop_in_progress(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=["ctrl+c", "ctrl+c"])


def test_run_over_shows_the_report(snap_compare: Snap) -> None:
    job = FakeJob(over_queue(), mixed_logs(), finished=True)
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE)
