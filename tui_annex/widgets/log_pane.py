"""The log pane: git-annex's stderr, the app's messages and rejected input, tagged and filtered.

Lines wait in a bounded deque; :meth:`LogPane.flush` (called by the app's
timer) redraws once for however many arrived.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..events import InputRejected, LogLine
from ..redact import redact

__all__ = ["LEVEL_FILTERS", "LogEntry", "LogPane"]

Level = Literal["info", "warning", "error"]
#: The filters ``L`` cycles through: the lowest level shown.
LEVEL_FILTERS: tuple[Level, ...] = ("info", "warning", "error")
_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}
TAG_STYLES: dict[str, Style] = {
    "stderr": Style(color="magenta"),
    "info": Style(color="blue"),
    "warning": Style(color="yellow", bold=True),
    "error": Style(color="red", bold=True),
    "input": Style(color="yellow", bold=True),
}
TEXT_STYLES: dict[str, Style] = {
    "info": Style(),
    "warning": Style(color="yellow"),
    "error": Style(color="red"),
}
TAG_WIDTH = 9


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log: its tag (stderr, info, warning, error, input), level and text."""

    tag: str
    level: Level
    text: str

    @classmethod
    def from_event(cls, event: LogLine | InputRejected) -> LogEntry:
        """Tag an engine event: stderr lines keep their source, the app's lines show their level."""
        if isinstance(event, InputRejected):
            return cls("input", "warning", redact(f"{event.location}: {event.reason}"))
        tag = "stderr" if event.source == "stderr" else event.level
        return cls(tag, event.level, redact(event.text.rstrip()))


class LogPane(ScrollView, can_focus=True):
    """A bounded, level-filtered log drawn with the line API."""

    COMPONENT_CLASSES = {
        *(f"log-pane--tag-{tag}" for tag in TAG_STYLES),
        *(f"log-pane--text-{level}" for level in TEXT_STYLES),
    }
    DEFAULT_CSS = """
    LogPane { height: 10; border-top: solid $primary; overflow-x: hidden; }
    LogPane > .log-pane--tag-stderr { color: $secondary-lighten-2; }
    LogPane > .log-pane--tag-info { color: $primary-lighten-2; }
    LogPane > .log-pane--tag-warning { color: $warning; text-style: bold; }
    LogPane > .log-pane--tag-error { color: $error; text-style: bold; }
    LogPane > .log-pane--tag-input { color: $warning; text-style: bold; }
    LogPane > .log-pane--text-warning { color: $warning; }
    LogPane > .log-pane--text-error { color: $error; }
    """

    min_level: reactive[Level] = reactive[Level]("info")

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: deque[LogEntry] = deque(maxlen=max_lines)
        self._pending: list[LogEntry] = []
        self._shown: list[LogEntry] = []

    def add(self, event: LogLine | InputRejected) -> None:
        """Queue an event's line for the next :meth:`flush` (cheap; no redraw)."""
        self._pending.append(LogEntry.from_event(event))

    def flush(self) -> None:
        """Move queued lines into the pane and redraw once; keep following the end."""
        if not self._pending:
            return
        following = self.scroll_offset.y >= self.max_scroll_y
        self.entries.extend(self._pending)
        self._pending.clear()
        self._refilter(following)

    def count(self, level: Level) -> int:
        """How many lines of at least ``level`` are kept."""
        rank = _RANK[level]
        return sum(1 for entry in self.entries if _RANK[entry.level] >= rank)

    def watch_min_level(self) -> None:
        self._refilter(True)

    def cycle_level(self) -> Level:
        """Show all, then warnings and errors, then errors only, then all again."""
        position = LEVEL_FILTERS.index(self.min_level)
        self.min_level = LEVEL_FILTERS[(position + 1) % len(LEVEL_FILTERS)]
        return self.min_level

    def _refilter(self, follow: bool) -> None:
        rank = _RANK[self.min_level]
        self._shown = [entry for entry in self.entries if _RANK[entry.level] >= rank]
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._shown))
        self.border_title = f"log: {'all' if rank == 0 else self.min_level + '+'}"
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._shown))

    def render_line(self, y: int) -> Strip:
        """Draw the log line at screen line ``y``."""
        width = self.scrollable_content_region.width
        row = y + int(self.scroll_offset.y)
        base = self.rich_style
        if not self._shown and row == 0:
            note = "no log lines yet" if not self.entries else "no lines at this level"
            return Strip(
                [Segment(set_cell_size(f" {note}", width), Style(dim=True))], width
            ).apply_style(base)
        if not 0 <= row < len(self._shown):
            return Strip.blank(width, base)
        entry = self._shown[row]
        text = " ".join(entry.text.split("\n"))
        room = max(width - TAG_WIDTH, 0)
        if cell_len(text) > room:
            text = set_cell_size(text, max(room - 1, 0)) + "…"
        # The theme's colours (component classes); TAG_STYLES/TEXT_STYLES name them.
        tag = self.get_component_rich_style(f"log-pane--tag-{entry.tag}", partial=True)
        level = self.get_component_rich_style(f"log-pane--text-{entry.level}", partial=True)
        segments = [
            Segment(f"{entry.tag:<{TAG_WIDTH - 1}} ", tag),
            Segment(set_cell_size(text, room), level),
        ]
        return Strip(segments, width).apply_style(base)
