"""The app against what a review reproduced: hang-up, SIGINT, typing bad URLs, pausing at
the end, clearing done items, filters with a selection, keys that must stay fixed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pexpect

from tests.conftest import git
from tests.helpers import make_job
from tests.test_app_fakes import FakeJob, mixed_queue
from tests.test_app_pilot import SIZE, wait_until
from tests.test_app_pty import ALT_SCREEN_OFF, spawn
from tui_annex.demo_server import LocalServer
from tui_annex.items import ItemState, RunState
from tui_annex.options import RunOptions
from tui_annex.ui.app import TuiAnnexApp
from tui_annex.ui.screens import ItemDialog
from tui_annex.validation import derive_path


def test_closing_the_terminal_stops_git_annex_and_the_app_exits(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect("stall/0.bin")
    os.close(child.child_fd)  # the terminal goes away: the kernel sends SIGHUP
    deadline = time.monotonic() + 60
    while child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the process to end, not for a state in it
    assert not child.isalive(), "the app hung after its terminal closed"
    assert child.exitstatus == 130 or child.signalstatus is not None


def test_sigint_from_outside_acts_as_ctrl_c(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect("stall/0.bin")
    child.kill(signal.SIGINT)
    child.expect("DRAINING")
    child.kill(signal.SIGINT)  # the stalls never finish: the second forces
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    after = (child.before or "").rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Stopped:" in after and "interrupted" in after


def test_a_url_with_a_broken_host_is_refused_in_the_dialog_not_a_crash() -> None:
    assert derive_path("http://[") == "download"
    app = TuiAnnexApp(FakeJob(mixed_queue()))

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("a", *"http://[")
            await pilot.pause()
            assert isinstance(app.screen, ItemDialog)
            assert app.error is None and app.is_running

    import asyncio

    asyncio.run(run())


async def test_a_paused_queue_with_items_added_after_the_run_starts_a_paused_round(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.gate("last"), "last.bin")], jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: job.queue.counts()[ItemState.SENT] == 1)
        await pilot.press("p")
        server.open_gate("last")
        await wait_until(pilot, lambda: not app.running)
        job.queue.add(server.file("late", 10), "late.bin")
        app.start_round_if_idle()
        await wait_until(pilot, lambda: app.running and job.session.state is RunState.PAUSED)
        assert app.exit_code() != 0, "an item never sent is not success"
        await pilot.press("p")  # resume
        await wait_until(pilot, lambda: not app.running)
        assert {item.path for item in job.queue.report().done} == {"last.bin", "late.bin"}
        assert app.exit_code() == 0


async def test_clearing_done_items_before_the_round_ends_is_not_no_valid_input(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    job = make_job(tmp_path, repo, [(server.file("one", 10), "one.bin")], jobs=1)
    events = [event async for event in job.events()]
    assert events[-1].exit_code == 0  # type: ignore[attr-defined]
    job.queue.forget([item.id for item in job.queue.report().done])
    again = [event async for event in job.events()]
    assert again[-1].exit_code == 0  # type: ignore[attr-defined]
    assert "one.bin" in git(repo, "ls-tree", "--name-only", "HEAD")


async def test_with_a_filter_a_key_acts_on_what_is_shown_not_on_hidden_selected_rows() -> None:
    job = FakeJob(mixed_queue())
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        queued = [item for item in job.queue.pending()]
        first, second, shown = queued[0], queued[1], queued[-1]
        app.downloads.marked.update({first.id, second.id})
        await pilot.press("slash", *shown.path, "enter")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert shown.id not in job.queue
        assert first.id in job.queue and second.id in job.queue
        assert not any("were sent to git-annex" in str(n.message) for n in app._notifications)


async def test_ctrl_c_cannot_be_taken_over_by_the_config_file() -> None:
    job = FakeJob(mixed_queue())
    job.options = RunOptions(keys={"pause": "ctrl+c", "quit": "q,ctrl+q"})  # type: ignore[attr-defined]
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.log_pane.flush()
        warnings = [e.text for e in app.log_pane.entries if "cannot be rebound" in e.text]
        assert len(warnings) == 2
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert job.interrupts == 1 and not job.queue.paused
