"""Snapshots of the main states, from a fake job over a queue we fill (no git-annex, no clock).

Plain ``def`` tests: ``snap_compare`` runs its own event loop.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.fakes import (
    FakeJob,
    died_run_offer,
    failures_queue,
    mixed_logs,
    mixed_queue,
    over_queue,
    queued_queue,
)
from tui_annex.items import RunState
from tui_annex.ui.app import TuiAnnexApp

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


async def _type_in_add_dialog(pilot: Pilot[int]) -> None:
    await pilot.press("a")
    await pilot.press(*"ftp://data.example.org/survey-2026/new.dat")
    await pilot.press("tab", *"tables/part-002.dat")
    await pilot.pause()


def test_add_dialog_shows_why_ok_is_disabled(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, run_before=_type_in_add_dialog)


def test_multi_selection_marks_rows(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    # Rows: 4 in flight, then the queued ones; select three of them, skipping one.
    keys = ["down"] * 4 + ["space", "space", "down", "space"]
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=keys)


def test_filtered_view_shows_matching_items_and_counts_all(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    keys = ["slash", *"IMAGES", "enter"]
    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, press=keys)


def test_resume_question_with_the_counts(snap_compare: Snap) -> None:
    job = FakeJob(queued_queue(40), state=RunState.IDLE, starts=False)
    app = TuiAnnexApp(job, offer=died_run_offer(), has_input=True)
    assert snap_compare(app, terminal_size=SIZE)


def test_rows_and_summary_follow_the_theme(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())

    async def light(pilot: Pilot[int]) -> None:
        pilot.app.theme = "textual-light"

    assert snap_compare(TuiAnnexApp(job), terminal_size=SIZE, run_before=light)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 45), (250, 50)])
def test_the_running_view_at_each_terminal_size(snap_compare: Snap, size: tuple[int, int]) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=size)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 45)])
def test_the_summary_at_each_terminal_size(snap_compare: Snap, size: tuple[int, int]) -> None:
    job = FakeJob(over_queue(), mixed_logs(), finished=True)

    async def after_two_and_a_half_minutes(pilot: Pilot[int]) -> None:
        # The figures a clock would give: a run of 151 s with a peak of 9.5 MB/s.
        app = pilot.app
        assert isinstance(app, TuiAnnexApp)
        await pilot.pause()
        app.status.started_at, app.status.ended_at = 1000.0, 1151.0
        app.main.model.peak = 9_500_000
        await pilot.press("i")

    assert snap_compare(
        TuiAnnexApp(job), terminal_size=size, run_before=after_two_and_a_half_minutes
    )


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 45)])
def test_the_help_screen_at_each_terminal_size(snap_compare: Snap, size: tuple[int, int]) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=size, press=["question_mark"])


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
def test_the_quit_question_while_downloading(snap_compare: Snap, size: tuple[int, int]) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=size, press=["q"])


def test_the_add_dialog_fits_a_small_terminal(snap_compare: Snap) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=(60, 20), press=["a"])


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (160, 45)])
def test_the_cancel_question_for_one_download(snap_compare: Snap, size: tuple[int, int]) -> None:
    job = FakeJob(mixed_queue(), mixed_logs())
    assert snap_compare(TuiAnnexApp(job), terminal_size=size, press=["x"])
