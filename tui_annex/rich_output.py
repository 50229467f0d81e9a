"""``--no-ui`` on a terminal: rich progress bars (imported only when the output is one)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from .events import (
    Event,
    InputRejected,
    ItemFinished,
    ItemInterrupted,
    ItemProgress,
    ItemSent,
    LogLine,
    RoundFinished,
)
from .headless import Output, report_lines, shorten
from .items import ItemState
from .job import Job, describe
from .redact import redact

__all__ = ["RichOutput"]


class _TimedProgress(Progress):
    """Drawn by its refresh thread alone, 8 times a second: rich's ``add_task`` draws the
    whole display again at once, a render of every bar for each file sent."""

    def refresh(self) -> None:
        if not self.live.auto_refresh:
            super().refresh()


class RichOutput(Output):
    """An overall bar and one bar per file downloading; log lines scroll above them."""

    def __init__(self, console: Console, job: Job) -> None:
        self.console = console
        self.job = job
        self.progress = _TimedProgress(
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=None),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=8,
            expand=True,
        )
        self.overall: TaskID | None = None
        self.tasks: dict[int, TaskID] = {}
        self.bytes_seen: dict[int, int] = {}
        self.bytes_done = 0

    def start(self) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("all files", total=None)

    def _summary(self) -> str:
        counts = self.job.queue.counts()
        total = len(self.job.queue)
        finished = counts[ItemState.DONE] + counts[ItemState.FAILED]
        return (
            f"{finished}/{total} files · {counts[ItemState.FAILED]} failed · "
            f"{len(self.tasks)} downloading · {self.job.session.state.value}"
        )

    def handle(self, event: Event) -> None:
        progress = self.progress
        if isinstance(event, ItemSent):
            earlier = self.tasks.pop(event.item_id, None)
            if earlier is not None:  # cut off by a restart and sent again
                progress.remove_task(earlier)
        elif isinstance(event, ItemProgress):
            # A bar from the first byte on: items waiting in git-annex's input (up to a
            # second's worth of small files) have none.
            task = self.tasks.get(event.item_id)
            if task is None:
                label = shorten(event.path, 40)
                task = self.tasks[event.item_id] = progress.add_task(label, total=None)
            progress.update(task, completed=event.bytes_done, total=event.total)
            self._count_bytes(event.item_id, event.bytes_done)
        elif isinstance(event, (ItemFinished, ItemInterrupted)):
            task = self.tasks.pop(event.item_id, None)
            if task is not None:
                progress.remove_task(task)
            if isinstance(event, ItemFinished) and not event.success:
                why = escape(redact("; ".join(event.errors)))
                self.console.print(f"[red]✗[/] {escape(event.path)}: {why}")
            elif isinstance(event, ItemInterrupted):
                self.console.print(f"[yellow]![/] {escape(event.path)}: interrupted")
        elif isinstance(event, InputRejected):
            where, why = escape(event.location), escape(redact(event.reason))
            self.console.print(f"[yellow]rejected[/] {where}: {why}")
        elif isinstance(event, LogLine):
            style = {"error": "red", "warning": "yellow"}.get(event.level, "dim")
            self.console.print(f"[{style}]\\[{event.source}][/] {escape(redact(event.text))}")
        self._update_overall()

    def _count_bytes(self, item_id: int, bytes_done: int) -> None:
        before = self.bytes_seen.get(item_id, 0)
        if bytes_done >= before:
            self.bytes_done += bytes_done - before
            self.bytes_seen[item_id] = bytes_done

    def _update_overall(self) -> None:
        # Sizes are unknown until each download starts, so the overall bar
        # counts bytes with no total; the description carries the file counts.
        if self.overall is not None:
            self.progress.update(
                self.overall, description=self._summary(), completed=self.bytes_done
            )

    def notice(self, text: str) -> None:
        self.console.print(f"[bold yellow]{escape(text)}[/]")

    def finish(self, job: Job, result: RoundFinished | None) -> None:
        # Items git-annex held unstarted went back to the queue without an event of their
        # own: nothing is in flight at the end, so no file's bar stays.
        for task in self.tasks.values():
            self.progress.remove_task(task)
        self.tasks.clear()
        self._update_overall()
        self.progress.stop()
        for line in report_lines(job.queue.report(), job):
            self.console.print(line, markup=False, highlight=False)
        if result is not None:
            self.console.print(describe(result), markup=False, highlight=False)
