"""The Textual front end: drives a job, shows its queue live, and stops it cleanly.

One worker iterates ``job.events()``; it only files log lines away. Everything
else is read from the plain queue by one ~15 Hz timer (dirty set + version), so
the downloads never wait for the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.console import Console
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer

from ..defaults import EXIT_USAGE
from ..events import InputRejected, LogLine, RoundFinished, RoundStarted
from ..items import DownloadItem, ItemState, RunState
from ..job import Job
from ..recovery import ResumeOffer
from ..widgets import (
    DownloadsView,
    FilterBar,
    LogPane,
    QueueModel,
    ReportBanner,
    SummaryLine,
    final_report,
)
from .actions import BINDINGS, COMMANDS
from .editing import QueueEditing
from .job_view import JobLike
from .screens import DetailsScreen, ResumeDialog
from .screens.resume import ResumeChoice

__all__ = ["JobLike", "TuiAnnexApp", "run_app"]

#: Signals the app handles itself. SIGINT only comes from outside (``kill -INT``):
#: the terminal's ctrl+c is a key here, since Textual turns ISIG off.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: Redraws per second; the timer is the only path from the engine to the screen.
REFRESH_HZ = 15.0


class TuiAnnexApp(QueueEditing):
    """The download manager's screen: summary, downloads, log, footer."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-annex"
    BINDINGS: ClassVar[list[BindingType]] = BINDINGS

    def __init__(
        self,
        job: JobLike,
        *,
        refresh_hz: float = REFRESH_HZ,
        offer: ResumeOffer | None = None,
        has_input: bool = True,
        keys: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.job = job
        self.keys = dict(keys or {})
        self.offer = offer
        """An unfinished run to offer to resume before anything starts."""
        self.has_input = has_input
        self.declined = False
        """The user quit at the resume question: nothing ran."""
        self.commit_error: str | None = None
        """Why the last round's commit failed (its files stay staged), if it did."""
        self.committed_files = 0
        """How many files the commits hold, all rounds together."""
        self.model = QueueModel(job.queue)
        self.refresh_hz = refresh_hz
        self.round: RoundFinished | None = None
        self.commits: list[str] = []
        """The commits the job's rounds made, oldest first."""
        self.error: str | None = None
        self.running = False
        self.quitting = False
        self.signalled: int | None = None
        self.hung_up = False
        self._stop_presses = 0
        self._bindings_key: tuple[object, ...] = ()
        self._banner = ""
        # Kept as attributes: the timer must not query the DOM (nor fail while it is torn down).
        self.summary = SummaryLine(id="summary")
        self.banner = ReportBanner(id="banner")
        self.downloads = DownloadsView(self.model, id="downloads")
        self.filter_bar = FilterBar(id="filter")
        self.log_pane = LogPane(id="log")

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.banner
        yield self.filter_bar
        yield self.downloads
        yield self.log_pane
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.log_pane.display = False
        self.downloads.focus()
        self.apply_keys()
        self._install_signal_handlers()
        self.tick()
        self.set_interval(1 / self.refresh_hz, self.tick)
        if self.offer is None:
            self.run_job()
        else:
            self.push_screen(
                ResumeDialog(self.offer, has_input=self.has_input), self._resume_chosen
            )

    def _resume_chosen(self, choice: ResumeChoice | None) -> None:
        if choice in (None, "quit"):
            self.declined = True
            self.exit(0, return_code=0)
            return
        self.job.choose_resume(choice)
        self.run_job()

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in HANDLED_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in HANDLED_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.on_signal, signum)

    # -- the job ----------------------------------------------------------------------

    @work(group="job", exclusive=True, exit_on_error=False)
    async def run_job(self) -> None:
        """Read the job's one stream of events: file log lines away, settle after each round.

        The job starts its rounds itself (a retry or an item added after a round
        queues work); the app only edits the queue.
        """
        try:
            async with contextlib.aclosing(self.job.run()) as events:
                async for event in events:
                    if isinstance(event, RoundStarted):
                        self.running = True
                        self.round = None
                        self.banner.remove_class("-shown")
                    elif isinstance(event, LogLine | InputRejected):
                        self.log_pane.add(event)
                    elif isinstance(event, RoundFinished):
                        self.round = event
                        if event.committed:
                            self.commits.append(event.committed)
                            self.committed_files += event.committed_files
                        self.commit_error = event.commit_error
                        self.running = False
                        self.round_over()
        except Exception as error:  # shown to the user and printed after exit
            self.error = f"{type(error).__name__}: {error}"
            self.log_pane.add(LogLine(source="app", level="error", text=self.error))
            self.running = False
            self.round_over()

    def round_over(self) -> None:
        """The job's round ended: quit if asked to, else show the report and what to do next."""
        self.tick()
        if self.quitting:
            self._leave()
            return
        if not len(self.job.queue) and self.log_pane.entries:
            # Nothing to list (no valid input, or the repository was unusable): the log says why.
            self.log_pane.display = True
        self.refresh_bindings()

    def _leave(self) -> None:
        self.job.end()
        code = self.exit_code()
        self.exit(code, return_code=code)

    def exit_code(self) -> int:
        """0 all added, 1 some failed or unsent, 2 no valid input, 130 interrupted."""
        if self.signalled is not None or self.job.interrupted:
            return 130  # as in --no-ui: a signal is a forced stop
        if self.error is not None:
            return 1
        if self.round is not None:
            if self.round.exit_code == 0 and self.job.queue.has_pending():
                return 1  # items added (or resumed) after the last round were never sent
            return self.round.exit_code
        return 1

    # -- the timer --------------------------------------------------------------------

    def tick(self) -> None:
        """Fold the queue's changes in and redraw what changed (the only refresh path)."""
        before = self.model.rebuilds
        dirty = self.model.update()
        downloads = self.downloads
        downloads.update_rows(dirty, self.model.rebuilds != before)
        self.drop_sent_marks(dirty)
        if self.filter_bar.shown:
            self.filter_bar.show_count(len(self.model.order), len(self.job.queue))
        state = self.job.session.state
        totals = self.model.totals()
        self.summary.show(totals, state)
        self.log_pane.flush()
        # The footer depends on the run state and the selected item: redraw it when they change.
        selected = self.downloads.selected
        key = (
            state,
            self.running,
            selected.state if selected else None,
            self.model.retryable_count() > 0,
            len(self.downloads.marked),
            self.job.queue.counts()[ItemState.DONE] > 0,
        )
        if key != self._bindings_key:
            self._bindings_key = key
            self.refresh_bindings()
        self._update_banner(state, totals.counts[ItemState.SENT])
        screen = self.screen
        if isinstance(screen, DetailsScreen) and screen.item.id in dirty:
            screen.refresh_details()

    def _update_banner(self, state: RunState, in_flight: int) -> None:
        banner = self.banner
        if state is RunState.DRAINING:
            text = f"draining:{in_flight}"
            if text != self._banner:
                banner.update(
                    f"[b yellow]Stopping[/]: no new downloads; waiting for {in_flight} in flight."
                    "  [dim]ctrl+c again: stop them now[/]"
                )
                banner.add_class("-shown")
        elif state is RunState.STOPPING:
            text = "stopping"
            if text != self._banner:
                banner.update(
                    "[b red]Stopping now[/]: git-annex is being terminated;"
                    " finished files are kept and staged."
                )
                banner.add_class("-shown")
        elif not self.running and (self.round is not None or self.error is not None):
            text = f"over:{self.model.queue.version}:{self.error}"
            if text != self._banner:
                hint = "q: quit · l: log · enter: details"
                if self.commits:
                    hint = f"committed {self.commits[-1][:12]} · {hint}"
                if self._can_retry() and self.model.retryable_count():
                    hint = "r/R: retry · " + hint
                if self.error:
                    hint = f"{self.error} · {hint}"
                if self.commit_error:
                    hint = f"COMMIT FAILED, files left staged (l: log) · {hint}"
                report = self.job.queue.report()
                stopped = self.job.interrupted or bool(report.interrupted)
                banner.show_report(report, stopped=stopped, hint=hint)
        else:
            text = ""
            if text != self._banner:
                banner.remove_class("-shown")
        self._banner = text

    # -- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the bindings (and commands) that do not apply now."""
        editing = self.check_edit_action(action, parameters)
        if editing is not None:
            return editing
        queue = self.job.queue
        if action == "close":
            return not self.running
        if action in ("interrupt", "quit"):
            return self.running
        if action == "pause":
            return self.running and not queue.paused and not self._stop_presses
        if action == "resume":
            return queue.paused and not self._stop_presses
        if action == "retry":
            targets = self._target_items()
            return self._can_retry() and any(item.state.retryable for item in targets)
        if action == "retry_all":
            return self._can_retry() and self.model.retryable_count() > 0
        if action == "details":
            return self._selected() is not None
        return True

    def _selected(self) -> DownloadItem | None:
        return self.downloads.selected

    def _can_retry(self) -> bool:
        return not self.job.interrupted and not self.quitting and self.error is None

    def can_edit(self) -> bool:
        """Whether the queue may be changed now (not after a stop, nor while quitting)."""
        return self._can_retry() and not self._stop_presses

    def action_interrupt(self) -> None:
        """ctrl+c: stop feeding and drain; again: force the stop and quit; when over: quit."""
        if not self.running:
            self._leave()
            return
        self._stop_presses += 1
        if self._stop_presses > 1:
            self.quitting = True
        self.job.interrupt()
        self.tick()

    async def action_quit(self) -> None:
        """ctrl+q: the same clean stop, then quit once the job has ended; again: force it."""
        self.quitting = True
        if not self.running:
            self._leave()
            return
        self._stop_presses += 1
        self.job.interrupt()
        self.tick()

    def action_close(self) -> None:
        """q, once the run is over: quit."""
        if not self.running:
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
        self.signalled = signum
        self.quitting = True
        if self.running:
            self.job.stop(force=True)
        else:
            self._leave()

    def action_details(self) -> None:
        """Open the details of the selected item."""
        item = self.downloads.selected
        if item is not None:
            self.push_screen(DetailsScreen(item))

    def on_downloads_view_activated(self) -> None:
        self.action_details()

    def action_pause(self) -> None:
        """Stop sending new items; in-flight downloads go on."""
        self.job.queue.pause()
        self.tick()

    def action_resume(self) -> None:
        """Send items again (the job starts a round if the last one is over)."""
        self.job.queue.resume()
        self.tick()

    def action_retry(self) -> None:
        """Queue the selected failed or interrupted items (or the one under the cursor) again."""
        self.downloads.follow()
        self._retry(self.job.queue.retry(self.downloads.targets()))

    def action_retry_all(self) -> None:
        """Queue every failed or interrupted item again."""
        self._retry(self.job.queue.retry_failed())

    def _retry(self, items: Sequence[object]) -> None:
        # Queued again, the items start a round of their own if the last one is over.
        self.tick()

    def action_toggle_log(self) -> None:
        """Show or hide the log pane."""
        pane = self.log_pane
        pane.display = not pane.display

    def action_cycle_log_level(self) -> None:
        """Show all log lines, then warnings and errors, then errors only."""
        pane = self.log_pane
        pane.display = True
        level = pane.cycle_level()
        self.notify(f"log shows {'all lines' if level == 'info' else level + ' and worse'}")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers the same actions as the keys, when they apply."""
        yield from super().get_system_commands(screen)
        for action, title, help_text in COMMANDS:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))


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
    try:
        code = app.run()
    finally:
        job.close()
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
            error=app.error,
            commits=app.commits,
            committed_files=app.committed_files,
            commit_error=app.commit_error,
        )
    )
    return code
