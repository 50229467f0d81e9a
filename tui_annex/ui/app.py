"""The Textual front end: drives a job, shows its queue live, and stops it cleanly.

The app is small: it makes the :class:`~tui_annex.ui.queue_screen.QueueScreen`
(which owns the queue's keys), runs one worker over ``job.run()`` (it only files
log lines away and notes each round's end), runs the ~15 Hz timer that redraws
the screen from the plain queue (dirty set + version, so the downloads never
wait for the UI), and owns the stop sequence: ctrl+c, ctrl+q, q and signals.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shlex
import signal
import sys
import termios
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.console import Console

# Textual imports its scroll bars when a view first needs one: a stack sample caught that
# import (50 ms) in the middle of a huge input's load, as the first keys came.
from textual import scrollbar as _scrollbar  # noqa: F401
from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from ..defaults import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ..events import InputRejected, ItemFinished, LogLine, RoundFinished, RoundStarted
from ..items import ItemState
from ..job import Job
from ..recovery import ResumeOffer
from ..widgets import final_report
from .actions import APP_ACTIONS, APP_BINDINGS, COMMANDS, FIXED_KEYS
from .job_view import JobLike, RunStatus
from .launch import EarlySignal, EarlyStart, handle_signals
from .queue_screen import QueueScreen
from .screens import HelpScreen, QuitDialog, ResumeDialog, SummaryScreen
from .screens.quit import QuitChoice
from .screens.resume import ResumeChoice
from .screens.summary import RunSummary, SummaryChoice

__all__ = ["JobLike", "TuiAnnexApp", "run_app", "run_app_started"]

#: A round at least this long (seconds) rings the bell and notifies when it ends.
LONG_RUN = 60.0

#: Redraws per second; the timer is the only path from the engine to the screen.
REFRESH_HZ = 15.0


class TuiAnnexApp(App[int]):
    """The download manager: the queue screen, the timer, the job's worker and the stop sequence."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-annex"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

    def __init__(
        self,
        job: JobLike,
        *,
        refresh_hz: float = REFRESH_HZ,
        offer: ResumeOffer | None = None,
        has_input: bool = True,
        keys: dict[str, str] | None = None,
        early: EarlyStart | None = None,
    ) -> None:
        super().__init__()
        self.job = job
        self.early = early
        """The job's events, read since it started before the app was up (no offer then)."""
        self.keys = dict(keys or {})
        """Rebound keys from the configuration file: action name to key(s)."""
        self.offer = offer
        """An unfinished run to offer to resume before anything starts."""
        self.has_input = has_input
        self.declined = False
        """The user quit at the resume question: nothing ran."""
        self.refresh_hz = refresh_hz
        self.status = RunStatus()
        self.started = False
        """The job's worker has started (the resume question, if any, was answered)."""
        self.signalled: int | None = None
        self.hung_up = False
        self.ignore_late_ctrl_c = False
        """Once unmounted, ignore SIGINT (the command sets it): the terminal is cooked
        again while Textual still shuts down, and the run has stopped already."""
        self.main = QueueScreen(job, self.status)
        self.main.log_pane.log_file = str(job.log_path) if job.log_path else None
        self.keymap: dict[str, str] = {}
        """The ``[keys]`` rebindings that took effect: binding id to keys."""

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_mount(self) -> None:
        self.apply_keys()
        handle_signals(self.on_signal)
        self.set_interval(1 / self.refresh_hz, self.main.tick)
        self.call_after_refresh(_settle_the_heap)
        if self.offer is None:
            self.run_job()
        else:
            self.push_screen(
                ResumeDialog(self.offer, has_input=self.has_input), self._resume_chosen
            )

    def apply_keys(self) -> None:
        """Rebind keys from the configuration file (``[keys]``: action name = "key[,key]")."""
        known = {
            binding.id
            for node in (self, self.main, self.main.downloads)
            for _key, binding in node._bindings
            if binding.id
        }
        keymap = {}
        for action, value in self.keys.items():
            chosen = {key.strip() for key in value.split(",")}
            if action not in known:
                text = f"[keys] {action}: no such action (known: {', '.join(sorted(known))})"
            elif chosen & FIXED_KEYS:
                # Rebinding a key drops every other binding on it: ctrl+c must stay "stop".
                taken = ", ".join(sorted(chosen & FIXED_KEYS))
                text = f"[keys] {action}: {taken} cannot be rebound"
            else:
                keymap[action] = value
                continue
            self.main.add_log(LogLine(source="app", level="warning", text=text))
        self.keymap = keymap
        if keymap:
            self.set_keymap(keymap)

    def _resume_chosen(self, choice: ResumeChoice | None) -> None:
        if choice in (None, "quit"):
            self.declined = True
            self.exit(0, return_code=0)
            return
        self.job.choose_resume(choice)
        self.run_job()

    def on_unmount(self) -> None:
        handle_signals(None)
        if self.ignore_late_ctrl_c:
            # A Ctrl-C now would land in Textual's shutdown as a KeyboardInterrupt: a
            # traceback and no report.
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    # -- the job ----------------------------------------------------------------------

    @work(group="job", exclusive=True, exit_on_error=False)
    async def run_job(self) -> None:
        """Read the job's one stream of events: file log lines away, settle after each round.

        The job starts its rounds itself (a retry or an item added after a round
        queues work); the app only edits the queue.
        """
        status = self.status
        self.started = True
        try:
            source = self.job.run() if self.early is None else self.early.events()
            async with contextlib.aclosing(source) as events:
                async for event in events:
                    if isinstance(event, RoundStarted):
                        status.running = True
                        status.round = None
                        status.start_round(self._came_at())
                        self.main.round_started()
                    elif isinstance(event, EarlySignal):
                        self.on_signal(event.signum)  # as the run stood when it came
                    elif isinstance(event, LogLine | InputRejected):
                        self.main.add_log(event)
                    elif isinstance(event, ItemFinished):
                        if not event.success:
                            self.main.add_log(event)  # each failure, with its reason
                    elif isinstance(event, RoundFinished):
                        self.main.add_log(event)  # the commit, or why it failed
                        status.round = event
                        if event.committed:
                            status.commits.append(event.committed)
                            status.committed_files += event.committed_files
                        status.commit_error = event.commit_error
                        status.running = False
                        status.ended_at = self._came_at()
                        self._round_over()
        except Exception as error:  # shown to the user and printed after exit
            status.error = f"{type(error).__name__}: {error}"
            self.main.add_log(LogLine(source="app", level="error", text=status.error))
            status.running = False
            self._round_over()

    def _came_at(self) -> float:
        """When the event being read came (what came before the app was up: then)."""
        return time.monotonic() if self.early is None else self.early.at

    def _round_over(self) -> None:
        if self.status.quitting:
            self._leave()
            return
        self.main.round_over()
        took = self.status.round_elapsed
        if took is not None and took >= LONG_RUN:
            # A long run ended: say so where the user may be looking (another window).
            self.bell()
            round_ = self.status.round
            what = "stopped" if self.job.interrupted else "finished"
            if round_ is not None:
                what += f": {round_.done} added, {round_.failed} failed"
            self.notify(what, title="tui-annex", timeout=30)
            if self.screen is self.main:  # not over a dialog the user is in
                self.action_summary()

    def _leave(self) -> None:
        if not self.started:
            # Quit at the resume question (q, ctrl+c, ctrl+q, a signal): nothing ran.
            self.declined = True
            self.exit(EXIT_OK, return_code=EXIT_OK)
            return
        self.job.end()
        code = self.exit_code()
        self.exit(code, return_code=code)

    def exit_code(self) -> int:
        """The job's exit code (:meth:`~tui_annex.job.Job.exit_code`); 130 after a signal
        that stopped a round; never 0 after an error."""
        if self.signalled is not None:
            return EXIT_INTERRUPTED  # as in --no-ui: a signal is a forced stop
        code = self.job.exit_code()
        if self.status.error is not None and code == EXIT_OK:
            return EXIT_FAILED
        return code

    # -- the stop sequence ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The stop keys: ctrl+c / ctrl+q stop a running job, and quit once it is over."""
        if action == "close":
            return not self.status.running
        if action in ("interrupt", "quit", "ask_quit"):
            return self.status.running
        if action == "summary":
            return self.status.over
        if action == "carry_on":
            # A graceful stop (not forced, not a signal, not on the way out), draining or drained.
            status = self.status
            return (
                self.job.interrupted
                and status.stop_presses == 1
                and not (status.quitting and status.running)
                and self.signalled is None
                and status.error is None
            )
        return True

    def action_interrupt(self) -> None:
        """ctrl+c: stop feeding and drain; again: force the stop and quit; when over: quit."""
        status = self.status
        if not status.running:
            self._leave()
            return
        status.stop_presses += 1
        if status.stop_presses > 1:
            status.quitting = True
        self.job.interrupt()
        self.main.tick()

    async def action_quit(self) -> None:
        """ctrl+q: the same clean stop, then quit once the job has ended; again: force it."""
        self._stop_and_quit()

    def _stop_and_quit(self) -> None:
        status = self.status
        status.quitting = True
        if not status.running:
            self._leave()
            return
        status.stop_presses += 1
        self.job.interrupt()
        self.main.tick()

    def action_ask_quit(self) -> None:
        """q while downloading: wait for them and quit, quit now, or stay."""
        if not self.status.running or isinstance(self.screen, QuitDialog):
            return
        in_flight = self.job.queue.counts()[ItemState.SENT]

        def chosen(choice: QuitChoice | None) -> None:
            if choice == "drain":
                self._stop_and_quit()
            elif choice == "force":
                # As ctrl+c twice: the stop is forced, then the app quits.
                self.status.quitting = True
                if not self.status.running:
                    self._leave()
                    return
                while self.status.stop_presses < 2:
                    self.status.stop_presses += 1
                    self.job.interrupt()
                self.main.tick()

        self.push_screen(QuitDialog(in_flight), chosen)

    def action_carry_on(self) -> None:
        """p after a graceful stop (draining or drained): take it back; queued items go again."""
        if self.check_action("carry_on", ()) and self.job.carry_on():
            self.status.stop_presses = 0
            self.status.quitting = False
            self.main.say("the stop is taken back: queued items are sent again")
            self.main.tick()
            self.refresh_bindings()

    def action_summary(self) -> None:
        """i, once a round is over: the run's summary and what to do next."""
        if self.status.over and not isinstance(self.screen, SummaryScreen):
            self.push_screen(SummaryScreen(self.run_summary()), self._summary_chosen)

    def _summary_chosen(self, choice: SummaryChoice | None) -> None:
        main = self.main
        if choice == "retry_all" and main.check_action("retry_all", ()):
            main.action_retry_all()
        elif choice == "carry_on":
            self.action_carry_on()
        elif choice == "log" and not main.log_pane.display:
            main.action_toggle_log()
        elif choice == "quit":
            self.action_close()

    def run_summary(self) -> RunSummary:
        """The run's figures, all rounds together, and the steps left to take."""
        status, job, main = self.status, self.job, self.main
        report = job.queue.report()
        totals = main.model.totals()
        steps: list[tuple[str, str]] = []
        retryable = len(report.failed) + len(report.interrupted)
        if retryable and main.check_action("retry_all", ()):
            steps.append(("R", f"retry the {retryable} failed or interrupted item(s) now"))
        if report.unsent and self.check_action("carry_on", ()):
            steps.append(("p", f"continue the run: the {len(report.unsent)} never sent go too"))
        if report.failed or report.interrupted or report.unsent:
            later = _retry_later(job)
            if later is not None:
                steps.append((later, "queues what failed or was never sent, in a later run"))
            failures = job.options.failures if isinstance(job, Job) else None
            if failures is not None:
                steps.append((f"-F {failures}", "holds them as an input to feed back"))
            elif isinstance(job, Job):
                steps.append(("-F FILE", "next time: write them to FILE, an input to feed back"))
        round_ = status.round
        return RunSummary(
            stopped=job.interrupted or bool(report.interrupted),
            added=len(report.done),
            added_bytes=sum(item.total or item.bytes_done for item in report.done),
            failed=len(report.failed),
            interrupted=len(report.interrupted),
            unsent=len(report.unsent),
            rejected=len(job.rejected),
            already_added=round_.already_added if round_ is not None else 0,
            elapsed=status.elapsed,
            received=totals.received,
            peak=main.model.peak,
            commits=tuple(status.commits),
            committed_files=status.committed_files,
            commit_error=status.commit_error,
            error=status.error,
            log_path=str(job.log_path) if job.log_path is not None else None,
            next_steps=tuple(steps),
        )

    def action_help(self) -> None:
        """?, F1: every key and what it does."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_close(self) -> None:
        """q, once the run is over: quit."""
        if not self.status.running:
            self._leave()

    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGHUP: forced stop, then quit (restoring the terminal); SIGINT: as ctrl+c."""
        if signum == signal.SIGINT:
            self.action_interrupt()
            return
        if signum == signal.SIGHUP and not _terminal_alive():
            # The terminal is gone: writing to it would block the shutdown forever.
            self.hung_up = True
            driver = self._driver
            if driver is not None:
                driver.write = lambda data: None  # type: ignore[method-assign]
        self.status.quitting = True
        if self.status.running:
            self.signalled = signum  # a round was cut short: as in --no-ui, 130
            self.job.stop(force=True)
        else:
            self._leave()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers the same actions as the keys, when they apply."""
        yield from super().get_system_commands(screen)
        for action, title, help_text in COMMANDS:
            if action in APP_ACTIONS and self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))
        if screen is self.main:  # not over a dialog: its item may be the one removed
            for title, help_text, callback in self.main.commands():
                yield SystemCommand(title, help_text, callback)


def _settle_the_heap() -> None:
    """Once the first frame is drawn: move what the app built so far (Textual's widgets,
    styles and caches, a few hundred thousand objects that live as long as it does) out
    of the collector's sight, so that no full collection walks them again while keys
    wait (measured: key to screen at 1,000 progress events/s, p99 130 ms before).

    Only the young generations are collected first: a full collection here took 90 ms
    while a huge input loads and the first keys come (what startup left in the old
    generation stays, frozen: RSS 1-2 MB higher with 100,000 items).
    """
    gc.collect(1)
    gc.freeze()


def _retry_later(job: JobLike) -> str | None:
    """The command that queues what failed or was never sent again, in a later run (when
    the journal knows this one)."""
    run_id = getattr(job, "run_id", None)
    if run_id is None or not isinstance(job, Job):
        return None
    return f"tui-annex -C {shlex.quote(str(job.options.repo))} --from-run {run_id}"


def _next_step(job: JobLike) -> str | None:
    """How to try what failed or was never sent again, when the journal knows the run."""
    command = _retry_later(job)
    return None if command is None else f"{command} queues what failed or was never sent again"


def _terminal_alive() -> bool:
    """Whether our terminal still answers (after a real hang-up it does not)."""
    try:
        termios.tcgetattr(sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (termios.error, OSError, ValueError):
        return False
    return True


def run_app(
    job: JobLike,
    *,
    keys: dict[str, str] | None = None,
    theme: str | None = None,
    console: Console | None = None,
) -> int:
    """Run the app on ``job``, close it, print the report; return the exit code.

    0 all added, 1 some failed or never sent, 2 no valid input, 130 interrupted
    (ctrl+c, ctrl+q while running, SIGTERM, SIGHUP).
    """
    offer = job.pending_resume() if isinstance(job, Job) else None
    has_input = not isinstance(job, Job) or bool(job.options.inputs)
    app = TuiAnnexApp(job, offer=offer, has_input=has_input, keys=keys)
    if theme is not None:
        if theme not in app.available_themes:
            names = ", ".join(sorted(app.available_themes))
            print(f"tui-annex: --theme: no theme {theme!r} (choose from {names})", file=sys.stderr)
            job.close()
            return EXIT_USAGE
        app.theme = theme
    app.ignore_late_ctrl_c = True
    try:
        code = app.run()
    finally:
        job.close()
    return _after(app, job, code, console)


async def run_app_started(
    job: Job,
    early: EarlyStart,
    *,
    keys: dict[str, str] | None = None,
    console: Console | None = None,
) -> int:
    """:func:`run_app` for a job already started (:class:`~tui_annex.ui.launch.EarlyStart`:
    no unfinished run to offer, no theme to check)."""
    app = TuiAnnexApp(job, has_input=bool(job.options.inputs), keys=keys, early=early)
    app.ignore_late_ctrl_c = True
    try:
        code = await app.run_async()
    finally:
        await early.close()
        job.close()
    return _after(app, job, code, console)


def _after(app: TuiAnnexApp, job: JobLike, code: int | None, console: Console | None) -> int:
    """Once the app has closed: print its report (the terminal is the user's again)."""
    if app.declined:
        print("nothing was run; `tui-annex --resume` finishes the unfinished run later")
        return 0
    if code is None:
        code = app.exit_code()
    if app.hung_up:
        # No terminal to print to (the log file has the run); writing to it, even
        # Python's flush at exit, would fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (1, 2):
            os.dup2(devnull, stream)
        os.close(devnull)
        return code
    report = job.queue.report()
    console = console or Console()
    console.print(
        final_report(
            report,
            job.rejected,
            stopped=job.interrupted or app.signalled is not None or bool(report.interrupted),
            error=app.status.error,
            commits=app.status.commits,
            committed_files=app.status.committed_files,
            commit_error=app.status.commit_error,
            stats=app.main.run_stats(),
            next_step=_next_step(job),
        )
    )
    return code
