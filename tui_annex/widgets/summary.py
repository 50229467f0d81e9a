"""The summary line: counts by state, bytes, aggregate speed, ETA and the run state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..items import ItemState, RunState
from .format import human_bytes, human_duration, human_speed
from .model import Totals

__all__ = ["STATE_LABELS", "SummaryLine", "summary_text"]

STATE_LABELS: dict[RunState, tuple[str, str]] = {
    RunState.IDLE: ("starting", "dim"),
    RunState.RUNNING: ("running", "bold green"),
    RunState.PAUSED: ("paused", "bold yellow"),
    RunState.DRAINING: ("draining", "bold yellow"),
    RunState.STOPPING: ("stopping", "bold red"),
    RunState.FINISHED: ("finished", "bold blue"),
}


def summary_text(totals: Totals, state: RunState) -> Text:
    """One line: run state, counts by state, bytes, speed and ETA of what is in flight."""
    counts = totals.counts
    label, style = STATE_LABELS[state]
    text = Text.assemble((f" {label.upper()} ", f"reverse {style}"), " ")
    failed = counts[ItemState.FAILED]
    interrupted = counts[ItemState.INTERRUPTED]
    parts: list[tuple[str, str]] = [
        (f"{counts[ItemState.DONE]} done", "green"),
        (f"{failed} failed", "red" if failed else "dim"),
    ]
    if interrupted:
        parts.append((f"{interrupted} interrupted", "yellow"))
    parts += [
        (f"{counts[ItemState.SENT]} in flight", "cyan"),
        (f"{counts[ItemState.QUEUED]} queued", ""),
    ]
    text.append(f"{totals.items} files: ", "bold")
    # Gaps end the previous span rather than start the next: SVG renderers squeeze leading spaces.
    for position, (part, part_style) in enumerate(parts):
        text.append(part, part_style)
        text.append(", " if position < len(parts) - 1 else " ", "dim")
    done, total = human_bytes(totals.bytes_done), human_bytes(totals.bytes_total)
    if done.split()[-1] == total.split()[-1]:
        size = f"{done.split()[0]}/{total}"
    else:
        size = f"{done}/{total}"
    if totals.unknown_sizes and not totals.bytes_total:
        size = "sizes not known yet"
    elif totals.unknown_sizes:
        # Sizes are known only once git-annex reports them: the total is a lower bound.
        size += "+"
    text.append("│ ", "dim")
    text.append(size + " ")
    speed = human_speed(totals.speed)
    if speed:
        text.append("│ ", "dim")
        text.append(speed + " ", "cyan")
    if totals.eta is not None:
        text.append("│ ", "dim")
        text.append(f"ETA {human_duration(totals.eta)}")
    return text


class SummaryLine(Static):
    """The one-line summary at the top; :meth:`show` redraws it only when its text changed."""

    DEFAULT_CSS = """
    SummaryLine { height: 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._last = ""

    def show(self, totals: Totals, state: RunState) -> None:
        """Show these totals and this run state."""
        text = summary_text(totals, state)
        if text.markup != self._last:
            self._last = text.markup
            self.update(text)
