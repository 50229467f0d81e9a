"""The app against the real engine: real git-annex, real HTTP server, keys pressed while
downloads run. Every wait is on a condition (bounded), never a fixed sleep."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.helpers import make_job
from tui_annex.demo_server import LocalServer
from tui_annex.items import ItemState, RunState
from tui_annex.job import Job
from tui_annex.options import RunOptions
from tui_annex.ui.app import TuiAnnexApp
from tui_annex.ui.screens import DetailsScreen, SummaryScreen
from tui_annex.widgets import DownloadsView, LogPane, ReportBanner

SIZE = (120, 35)


async def wait_until(pilot: Pilot[int], condition: Callable[[], bool], limit: int = 1500) -> None:
    """Let the app run until ``condition`` holds; fail after ``limit`` short rounds (~30 s)."""
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.02)
    app = pilot.app
    assert isinstance(app, TuiAnnexApp)
    states = {item.path: item.state.value for item in app.job.queue}
    raise AssertionError(f"condition never held; items: {states}; error: {app.status.error}")


def sent(job: Job) -> int:
    return len(job.queue.in_state(ItemState.SENT))


async def test_ctrl_c_drains_then_forces_and_quits(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.stall(f"s{n}", after=1000), f"stall/{n}.bin") for n in range(2)]
    lines += [(server.file(f"q{n}", 1000), f"queued/{n}.bin") for n in range(5)]
    job = make_job(tmp_path, repo, lines)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(server.gets("s0") + server.gets("s1")) == 2)
        await pilot.press("ctrl+c")
        assert job.session.state is RunState.DRAINING
        await pilot.pause()
        assert "DRAINING" in str(app.query_one("#summary").render())
        assert app.query_one(ReportBanner).has_class("-shown")
        assert app.status.running, "a graceful stop waits for the stalled downloads"
        await pilot.press("ctrl+c")
        assert job.session.state in (RunState.STOPPING, RunState.FINISHED)
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 130
    report = job.queue.report()
    assert {"stall/0.bin", "stall/1.bin"} <= {item.path for item in report.interrupted}
    # The quick items may have finished beside the stalls (-J2 plus lookahead); none is lost.
    assert all(item.path.startswith("queued/") for item in report.done)
    assert len(report.done) + len(report.unsent) + len(report.interrupted) == 7


async def test_graceful_stop_finishes_in_flight_and_shows_the_report(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.gate(f"g{n}", 3000), f"gate/{n}.bin") for n in range(8)]
    job = make_job(tmp_path, repo, lines)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(server.gets()) >= 2)
        await pilot.press("ctrl+c")
        in_flight = {item.path for item in job.queue.in_state(ItemState.SENT)}
        for n in range(8):
            server.open_gate(f"g{n}")
        await wait_until(pilot, lambda: not app.status.running)
        assert app.is_running, "after a single ctrl+c the app stays to show the report"
        await pilot.pause()
        banner = str(app.query_one(ReportBanner).render())
        expected = f"Stopped: {len(in_flight)} added, 0 failed, 0 interrupted, "
        assert expected + f"{8 - len(in_flight)} never sent" in banner
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 130
    assert {item.path for item in job.queue.report().done} == in_flight


async def test_ctrl_q_waits_for_the_job_then_quits(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.gate(f"g{n}", 2000), f"gate/{n}.bin") for n in range(5)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(server.gets("g0")) == 1)
        await pilot.press("ctrl+q")
        in_flight = {item.path for item in job.queue.in_state(ItemState.SENT)}
        await pilot.pause()
        assert app.is_running and app.status.running, "the app waits for the in-flight downloads"
        assert job.session.state is RunState.DRAINING
        for n in range(5):
            server.open_gate(f"g{n}")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 130
    report = job.queue.report()
    assert {item.path for item in report.done} == in_flight
    assert len(report.unsent) == 5 - len(in_flight) > 0


async def test_keys_move_the_cursor_open_details_toggle_log_retry_and_quit(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file(f"f{n}", 2000 + n), f"ok/{n}.bin") for n in range(5)]
    lines.append((server.status(404, "gone"), "gone.bin"))
    job = make_job(tmp_path, repo, lines)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: not app.status.running and job.last_round is not None)
        await pilot.pause()
        view = app.query_one(DownloadsView)
        # Failed items sort before done ones.
        assert view.selected is not None and view.selected.path == "gone.bin"
        await pilot.press("end")
        assert view.cursor == 5
        await pilot.press("up", "up")
        assert view.cursor == 3
        await pilot.press("home")
        assert view.cursor == 0
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.item.path == "gone.bin"
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)
        log = app.query_one(LogPane)
        assert not log.display
        await pilot.press("l")
        assert log.display
        await pilot.press("L")
        assert log.min_level == "warning"
        await pilot.press("L", "L")
        assert log.min_level == "info"
        rounds = server.gets("gone")
        await pilot.press("r")
        await wait_until(pilot, lambda: len(server.gets("gone")) > len(rounds))
        await wait_until(pilot, lambda: not app.status.running)
        assert job.queue.get(view.model.order[0]).attempts == 2
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 1


async def test_pause_stops_feeding_and_resume_goes_on(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.gate("first", 1000), "first.bin")]
    lines += [(server.file(f"f{n}", 1000), f"f{n}.bin") for n in range(5)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(server.gets("first")) == 1)
        await pilot.press("p")
        assert job.queue.paused and job.session.state is RunState.PAUSED
        pending = len(job.queue.pending())
        assert pending > 0
        server.open_gate("first")
        await wait_until(pilot, lambda: not job.queue.in_state(ItemState.SENT))
        assert len(job.queue.pending()) == pending, "nothing new is sent while paused"
        await pilot.press("p")
        assert not job.queue.paused
        await wait_until(pilot, lambda: not app.status.running)
        assert len(job.queue.report().done) == 6
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_an_unusable_repository_is_shown_and_reported(tmp_path: Path) -> None:
    source = tmp_path / "urls.txt"
    source.write_text("https://example.org/a a.bin\n")
    job = Job(RunOptions(repo=tmp_path / "missing", inputs=(str(source),), create=False))
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: not app.status.running)
        await pilot.pause()
        assert app.status.error is not None
        assert app.query_one(LogPane).display, "with nothing to list, the log opens"
        assert app.status.error.split(":")[0] in str(app.query_one(ReportBanner).render())
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 2, "a repository the run cannot start in: 2, as with --no-ui"


def died_run(tmp_path: Path, repo: Path, server: LocalServer) -> list[tuple[str, str]]:
    """Leave the journal as a run killed in mid-download would: 1 added, 2 never sent."""
    from tui_annex.journal import Journal, journal_path
    from tui_annex.queue import DownloadQueue

    lines = [(server.file(f"r{n}", 800), f"r{n}.bin") for n in range(3)]
    journal = Journal.open(journal_path(repo / ".git"))
    journal.start_run({}, ["urls.txt"])
    queue = DownloadQueue()
    queue.observer = journal
    for url, path in lines:
        queue.add(url, path)
    first = queue.take_next()
    assert first is not None
    queue.mark_finished(first, success=True, key=None, errors=(), note=None)
    journal.flush()
    journal._db.execute("UPDATE runs SET pid_start = -1")  # its process is gone
    journal._db.close()
    return lines


async def test_the_app_offers_to_resume_an_unfinished_run_and_resumes_it(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    from tests.conftest import git
    from tui_annex.ui.screens import ResumeDialog

    lines = died_run(tmp_path, repo, server)
    job = Job(RunOptions(repo=repo, inputs=(), jobs=2, grace=2.0))
    offer = job.pending_resume()
    assert offer is not None and (offer.done, offer.left) == (1, 2)
    app = TuiAnnexApp(job, offer=offer, has_input=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ResumeDialog)
        assert "2 item(s) left" in str(app.screen.query_one("Static").render())
        assert not server.requests, "nothing is sent before the user answers"
        await pilot.press("r")
        await wait_until(pilot, lambda: app.status.round is not None)
        await pilot.press("q")
    assert app.return_code == 0
    # r0.bin's download was never there (the journal only said so): it is fetched, as are the rest.
    assert {path for _url, path in lines} <= set(git(repo, "ls-files").split())


@pytest.mark.parametrize("key", ["escape", "ctrl+c", "ctrl+q"])
async def test_quitting_at_the_resume_question_runs_nothing(
    tmp_path: Path, repo: Path, server: LocalServer, key: str
) -> None:
    died_run(tmp_path, repo, server)
    job = make_job(tmp_path, repo, [(server.file("new", 100), "new.bin")])
    app = TuiAnnexApp(job, offer=job.pending_resume())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await wait_until(pilot, lambda: not app.is_running)
    job.close()
    assert app.declined and app.return_code == 0
    assert not server.requests


async def test_removing_the_failed_items_after_a_run_leaves_an_exit_status_of_0(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file("kept", 100), "kept.bin"), (server.status(404, "gone"), "gone.bin")]
    job = make_job(tmp_path, repo, lines)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.status.round is not None and not app.status.running)
        assert app.status.round is not None and app.status.round.exit_code == 1
        failed = [item.id for item in job.queue.in_state(ItemState.FAILED)]
        assert len(failed) == 1
        job.queue.remove(failed)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    report = job.queue.report()
    assert (len(report.done), len(report.failed)) == (1, 0)
    assert app.return_code == 0, "the report says nothing failed; so does the exit status"


@pytest.mark.parametrize(("answer", "forced"), [("w", False), ("n", True), ("escape", None)])
async def test_q_while_downloading_asks_whether_to_wait_quit_now_or_stay(
    answer: str, forced: bool | None
) -> None:
    from tests.fakes import FakeJob, mixed_queue
    from tui_annex.ui.screens import QuitDialog

    job = FakeJob(mixed_queue())
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        await pilot.press(answer)
        await pilot.pause()
        if forced is None:
            assert app.status.running and not app.status.quitting and job.interrupts == 0
            assert not job.stops
            return
        assert app.status.quitting
        if forced:
            assert job.stops == [True]
        else:
            assert job.interrupts == 1 and not job.stops
            assert "Quitting" in str(app.main.banner.render())
        job.finish()
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 130


async def test_x_cancels_the_download_under_the_cursor_and_the_run_goes_on(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    from tui_annex.ui.screens import CancelDialog

    lines = [
        (server.file("huge", 3_000_000, rate=100_000), "huge.bin"),
        (server.file("small", 200_000, rate=100_000), "small.bin"),
    ]
    job = make_job(tmp_path, repo, lines, jobs=2)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:

        def downloading() -> bool:
            return 1 in job.queue and job.queue.get(1).bytes_done > 0

        await wait_until(pilot, downloading)
        huge = job.queue.get(1)
        app.main.tick()
        app.main.downloads.go_to(app.main.model.row_of(huge.id) or 0)
        assert app.main.downloads.selected is huge
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CancelDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.status.round is not None and not app.status.running)
        assert huge.state is ItemState.FAILED and "cancelled" in huge.errors[0]
        assert [i.path for i in job.queue.report().done] == ["small.bin"]
        assert app.main.check_action("retry", ()) is not False, "a cancelled item can be retried"
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 1  # one item was not added: the report and the status agree


async def test_p_after_a_drained_stop_takes_it_back_and_the_rest_is_sent(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file("slow", 300_000, rate=100_000), "slow.bin")]
    lines += [(server.file(f"q{n}", 100), f"q{n}.bin") for n in range(6)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: 1 in job.queue and job.queue.get(1).bytes_done > 0)
        await pilot.press("ctrl+c")  # stop: what is in flight finishes, nothing new is sent
        await wait_until(pilot, lambda: app.status.round is not None and not app.status.running)
        unsent = len(job.queue.report().unsent)
        assert unsent >= 3 and job.interrupted
        assert "p: continue" in str(app.main.banner.render())
        await pilot.press("p")
        await wait_until(pilot, lambda: len(job.queue.report().done) == 7)
        await wait_until(pilot, lambda: not app.status.running)
        assert not job.interrupted
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0, "everything was added in the end"


async def test_p_while_a_stop_drains_takes_it_back_in_the_same_round(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file("slow", 400_000, rate=100_000), "slow.bin")]
    lines += [(server.file(f"q{n}", 100), f"q{n}.bin") for n in range(4)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: 1 in job.queue and job.queue.get(1).bytes_done > 0)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert job.session.state is RunState.DRAINING
        assert "p: carry on" in str(app.main.banner.render())
        await pilot.press("p")
        await pilot.pause()
        assert job.session.state is RunState.RUNNING and not job.interrupted
        await wait_until(pilot, lambda: app.status.round is not None and not app.status.running)
        assert len(job.queue.report().done) == 5
        assert app.status.round is not None and app.status.round.unsent == 0
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0, "the stop was taken back: nothing interrupted, all added"


async def test_p_puts_the_items_git_annex_has_not_started_back_in_the_queue(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file("slow", 300_000, rate=100_000), "slow.bin")]
    lines += [(server.file(f"q{n}", 100), f"q{n}.bin") for n in range(4)]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=SIZE) as pilot:

        def slow_started_and_rest_held() -> bool:
            return (
                1 in job.queue
                and job.queue.get(1).bytes_done > 0
                and len(job.session.not_started()) >= 1
            )

        await wait_until(pilot, slow_started_and_rest_held)
        app.main.tick()
        assert "waiting" in str(app.main.summary.render())
        await pilot.press("p")
        await wait_until(pilot, lambda: not job.session.not_started() and sent(job) == 1)
        app.main.tick()
        assert "waiting" not in str(app.main.summary.render())
        await wait_until(pilot, lambda: job.queue.get(1).state is ItemState.DONE)
        assert len(job.queue.report().unsent) == 4, "nothing new went out while paused"
        await pilot.press("p")  # resume
        await wait_until(pilot, lambda: app.status.round is not None and not app.status.running)
        assert len(job.queue.report().done) == 5
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_the_summary_comes_up_on_its_own_only_after_a_round_that_lasted_a_minute(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file("one", 100), "one.bin"), (server.status(404, "gone"), "gone.bin")]
    job = make_job(tmp_path, repo, lines, jobs=1)
    app = TuiAnnexApp(job)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_until(pilot, lambda: app.status.running and app.status.started_at is not None)
        assert app.status.started_at is not None
        app.status.started_at -= 70  # the first round has run for over a minute
        await wait_until(pilot, lambda: app.status.over)
        assert isinstance(app.screen, SummaryScreen), "a long round: the summary comes up"
        first = app.status.round
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("R")  # retry the failed item: a second round of a second or so
        await wait_until(pilot, lambda: app.status.round is not first and app.status.over)
        await pilot.pause()
        assert not isinstance(app.screen, SummaryScreen), "a short round: no summary on its own"
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_once_the_command_s_app_is_gone_a_late_ctrl_c_is_ignored_not_a_traceback(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    import signal

    job = make_job(tmp_path, repo, [(server.file("a", 100), "a.bin")])
    app = TuiAnnexApp(job)
    app.ignore_late_ctrl_c = True  # as the command sets it
    before = signal.getsignal(signal.SIGINT)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.status.round is not None)
            assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        # Unmounted: Textual still shuts down, on a terminal cooked again.
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
