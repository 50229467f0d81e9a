"""The summary line: counts by state, bytes, aggregate speed, ETA and the run state."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from ..items import ItemState, RunState
from .format import as_style, human_bytes, human_duration, human_speed, theme_palette
from .model import Totals
from .styles import KeepsStyles

__all__ = ["STATE_LABELS", "SummaryLine", "summary_text"]

STATE_LABELS: dict[RunState, tuple[str, str]] = {
    RunState.IDLE: ("starting", "muted"),
    RunState.RUNNING: ("running", "good"),
    RunState.PAUSED: ("paused", "warn"),
    RunState.DRAINING: ("draining", "warn"),
    RunState.STOPPING: ("stopping", "bad"),
    RunState.FINISHED: ("finished", "over"),
}

#: The summary's colours by role, as plain terminal colours; the widget takes its theme's.
PLAIN_PALETTE: dict[str, Style | str] = {
    "muted": "dim",
    "good": "green",
    "warn": "yellow",
    "bad": "red",
    "over": "blue",
    "active": "cyan",
}


def summary_text(
    totals: Totals, state: RunState, palette: Mapping[str, Style | str] = PLAIN_PALETTE
) -> Text:
    """One line: run state, counts by state, bytes, speed over the last seconds, and the
    time left for everything queued or in flight."""
    counts = totals.counts
    label, role = STATE_LABELS[state]
    badge = Style.parse("reverse bold") + as_style(palette[role])
    text = Text.assemble((f" {label.upper()} ", badge), " ")
    failed = counts[ItemState.FAILED]
    interrupted = counts[ItemState.INTERRUPTED]
    dim = palette["muted"]
    parts: list[tuple[str, Style | str]] = [
        (f"{counts[ItemState.DONE]} done", palette["good"]),
        (f"{failed} failed", palette["bad"] if failed else dim),
    ]
    if interrupted:
        parts.append((f"{interrupted} interrupted", palette["warn"]))
    downloading = counts[ItemState.SENT] - totals.waiting
    parts.append((f"{downloading} downloading", palette["active"]))
    if totals.waiting:
        # Sent to git-annex, not started (a pause or a stop puts them back in the queue).
        parts.append((f"{totals.waiting} waiting", dim))
    parts.append((f"{counts[ItemState.QUEUED]} queued", ""))
    text.append(f"{totals.items} files: ", "bold")
    # Gaps end the previous span rather than start the next: SVG renderers squeeze leading spaces.
    for position, (part, part_style) in enumerate(parts):
        text.append(part, part_style)
        text.append(", " if position < len(parts) - 1 else " ", dim)
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
    text.append("│ ", dim)
    text.append(size + " ")
    speed = human_speed(totals.speed)
    if speed:
        text.append("│ ", dim)
        text.append(speed + " ", palette["active"])
    if totals.eta is not None:
        text.append("│ ", dim)
        # "~": some sizes are not known yet and count at the mean finished size.
        text.append(f"ETA {'~' if totals.eta_estimated else ''}{human_duration(totals.eta)}")
    return text


class SummaryLine(Static, KeepsStyles):
    """The one-line summary at the top; :meth:`show` redraws it only when its text changed."""

    COMPONENT_CLASSES = {f"summary--{role}" for role in PLAIN_PALETTE}
    DEFAULT_CSS = """
    SummaryLine { height: auto; max-height: 3; background: $panel; }
    SummaryLine > .summary--muted { text-style: dim; }
    SummaryLine > .summary--good { color: $success; }
    SummaryLine > .summary--warn { color: $warning; }
    SummaryLine > .summary--bad { color: $error; }
    SummaryLine > .summary--over { color: $primary; }
    SummaryLine > .summary--active { color: $primary-lighten-2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._last = ""
        self._shape: tuple[int, int] | None = None
        """The width and the number of lines of the text last laid out."""

    def _themed(self, name: str) -> Style:
        return self._styles.component(name, partial=True)

    def show(self, totals: Totals, state: RunState) -> None:
        """Show these totals and this run state."""
        palette = theme_palette(self._themed, "summary", PLAIN_PALETTE)
        text = summary_text(totals, state, palette)
        if text.markup != self._last:
            self._last = text.markup
            # A text that takes as many lines as before keeps the widget's height: no
            # layout pass (which repaints the whole screen) for a count that changed, on
            # one line or wrapped on two (a narrow terminal, a long ETA).
            self.update(text, layout=False)
            region = self.content_region
            shape = (
                region.width,
                self.get_content_height(region.size, self.app.size, region.width),
            )
            if shape != self._shape:
                self._shape = shape
                self.refresh(layout=True)
