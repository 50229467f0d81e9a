"""The summary of a run once it is over: what became of every item, how fast, what next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...widgets.format import human_bytes, human_duration, human_speed

__all__ = ["RunSummary", "SummaryChoice", "SummaryScreen", "summary_table"]

#: What the user chose on the summary: retry the failed items, see the log, quit (None: back).
SummaryChoice = Literal["retry_all", "carry_on", "log", "quit"]


@dataclass(frozen=True)
class RunSummary:
    """The figures of a run, all rounds together, as the summary shows them."""

    stopped: bool
    added: int
    added_bytes: int
    failed: int
    interrupted: int
    unsent: int
    rejected: int = 0
    already_added: int = 0
    elapsed: float | None = None
    received: int = 0
    """Bytes that arrived (retries and resumed downloads count what they fetched again)."""
    peak: float = 0.0
    commits: Sequence[str] = ()
    committed_files: int = 0
    commit_error: str | None = None
    error: str | None = None
    log_path: str | None = None
    next_steps: Sequence[tuple[str, str]] = field(default_factory=tuple)
    """(what to type or press, what it does) for what is left to do."""

    @property
    def left(self) -> int:
        """Items not in the repository: failed, interrupted or never sent."""
        return self.failed + self.interrupted + self.unsent


def summary_table(summary: RunSummary) -> Table:
    """The summary's figures as a two-column grid."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    if summary.error:
        table.add_row(Text("error", "bold red"), Text(summary.error, "red"))
    table.add_row(
        "added", Text(f"{summary.added} file(s), {human_bytes(summary.added_bytes)}", "green")
    )
    for label, count, style in (
        ("failed", summary.failed, "red"),
        ("interrupted", summary.interrupted, "yellow"),
        ("never sent", summary.unsent, "yellow"),
    ):
        table.add_row(label, Text(str(count), style if count else "dim"))
    if summary.rejected:
        table.add_row("refused input", Text(f"{summary.rejected} line(s) (l: the log)", "yellow"))
    if summary.already_added:
        table.add_row("added before", f"{summary.already_added} (earlier runs; not fetched again)")
    table.add_row("", "")
    elapsed = summary.elapsed
    if elapsed is not None:
        table.add_row("time", human_duration(elapsed) or "0:00")
        if elapsed > 0:
            table.add_row("files a second", f"{summary.added / elapsed:.2f}")
            if summary.received:
                mean = human_speed(summary.received / elapsed)
                peak = f", {human_speed(summary.peak)} at best" if summary.peak else ""
                table.add_row("speed", f"{mean} on average{peak}")
        table.add_row("received", human_bytes(summary.received))
    if summary.commits:
        shas = ", ".join(sha[:12] for sha in summary.commits)
        table.add_row("committed", Text(f"{shas} ({summary.committed_files} file(s))", "green"))
    if summary.commit_error:
        table.add_row(
            Text("commit", "bold red"), Text(f"failed, files left staged: {summary.commit_error}")
        )
    if summary.log_path:
        table.add_row("log file", Text(summary.log_path, "dim"))
    if summary.next_steps:
        table.add_row("", "")
        table.add_row(Text("next", "bold underline"), "")
        for how, what in summary.next_steps:
            table.add_row(Text(how, "bold"), what)
    return table


class SummaryScreen(ModalScreen[SummaryChoice | None]):
    """The run's summary: escape or enter goes back to the list; R, l and q act from here."""

    DEFAULT_CSS = """
    SummaryScreen { align: center middle; }
    SummaryScreen > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,i", "choose(None)", "Back"),
        Binding("R", "choose('retry_all')", "Retry failed"),
        Binding("p", "choose('carry_on')", "Continue"),
        Binding("l", "choose('log')", "Log"),
        Binding("q", "choose('quit')", "Quit"),
    ]

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        summary = self.summary
        with VerticalScroll() as box:
            box.border_title = "Run stopped" if summary.stopped else "Run finished"
            keys = ["esc: back"]
            if summary.failed or summary.interrupted:
                keys.append("R: retry failed")
            if self._offers("p"):
                keys.append("p: continue")
            keys += ["l: log", "q: quit"]
            box.border_subtitle = " · ".join(keys)
            yield Static(summary_table(summary), id="summary-table")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("retry_all",):
            return bool(self.summary.failed or self.summary.interrupted)
        if action == "choose" and parameters == ("carry_on",):
            return self._offers("p")
        return True

    def _offers(self, key: str) -> bool:
        return any(how == key for how, _what in self.summary.next_steps)

    def action_choose(self, choice: SummaryChoice | None) -> None:
        """Close, with what to do next (None: back to the list)."""
        self.dismiss(choice)
