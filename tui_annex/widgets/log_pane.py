"""The log pane: git-annex's stderr, the app's messages, refused input, failed files and
commits, time-stamped, tagged, filtered, with repeats counted.

Lines wait in a bounded deque; :meth:`LogPane.flush` (called by the app's
timer) redraws once for however many arrived.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..events import InputRejected, ItemFinished, LogLine, RoundFinished
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
    "failed": Style(color="red", bold=True),
    "commit": Style(color="green"),
}
TEXT_STYLES: dict[str, Style] = {
    "info": Style(),
    "warning": Style(color="yellow"),
    "error": Style(color="red"),
}
TAG_WIDTH = 9
TIME_WIDTH = 9
#: A line the same as one of the last this many is not repeated: that one moves to the
#: end and counts it ("... x12", with a multiplication sign), so a warning that keeps
#: coming between other lines stays one line.
COALESCE_WINDOW = 20

#: What the pane shows: log lines, refused input, failed files and each round's commit.
Loggable = LogLine | InputRejected | ItemFinished | RoundFinished


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log: its tag (stderr, info, warning, error, input, failed, commit),
    level, text, when it last happened, and how many times it came."""

    tag: str
    level: Level
    text: str
    when: float = 0.0
    repeats: int = 1

    @classmethod
    def from_event(cls, event: Loggable) -> LogEntry | None:
        """Tag an engine event (None for one the pane does not show)."""
        if isinstance(event, InputRejected):
            text = f"{event.location}: {event.reason}"
            return cls("input", "warning", redact(text), event.time)
        if isinstance(event, ItemFinished):
            if event.success:
                return None
            reason = " ".join((event.errors[-1] if event.errors else "failed").split())
            return cls("failed", "error", redact(f"{event.path}: {reason}"), event.time)
        if isinstance(event, RoundFinished):
            if event.commit_error:
                return cls("error", "error", f"commit failed: {event.commit_error}", event.time)
            if event.committed:
                text = f"committed {event.committed[:12]} ({event.committed_files} file(s))"
                return cls("commit", "info", text, event.time)
            return None
        tag = "stderr" if event.source == "stderr" else event.level
        return cls(tag, event.level, redact(event.text.rstrip()), event.time)


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
    LogPane > .log-pane--tag-failed { color: $error; text-style: bold; }
    LogPane > .log-pane--tag-commit { color: $success; }
    LogPane > .log-pane--text-warning { color: $warning; }
    LogPane > .log-pane--text-error { color: $error; }
    """

    min_level: reactive[Level] = reactive[Level]("info")

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: deque[LogEntry] = deque(maxlen=max_lines)
        self._pending: list[LogEntry] = []
        self._shown: list[LogEntry] = []
        self._dirty = False
        self.log_file: str | None = None
        """Where the whole log is written (shown under the pane)."""

    def add(self, event: Loggable) -> None:
        """Queue an event's line for the next :meth:`flush` (cheap; no redraw).

        A line the same (tag and text) as one of the last :data:`COALESCE_WINDOW` is
        not repeated: that one moves to the end, with this time, and counts it.
        """
        entry = LogEntry.from_event(event)
        if entry is None:
            return
        same = (entry.tag, entry.text)
        pending, entries = self._pending, self.entries
        for back in range(1, min(COALESCE_WINDOW, len(pending) + len(entries)) + 1):
            if back <= len(pending):
                lines: list[LogEntry] | deque[LogEntry] = pending
                index = len(pending) - back
            else:
                lines, index = entries, len(entries) - (back - len(pending))
            old = lines[index]
            if (old.tag, old.text) == same:
                del lines[index]
                pending.append(replace(old, when=entry.when, repeats=old.repeats + 1))
                return
        pending.append(entry)

    def flush(self) -> None:
        """Move queued lines into the pane and redraw once; keep following the end."""
        if not self._pending:
            if self._dirty:
                self._dirty = False
                self._refilter(self.scroll_offset.y >= self.max_scroll_y)
            return
        self._dirty = False
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
        if self.log_file:
            self.border_subtitle = f"the whole log: {self.log_file}"
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
        if entry.repeats > 1:
            text = f"{text}  \N{MULTIPLICATION SIGN}{entry.repeats}"
        stamp = time.strftime("%H:%M:%S ", time.localtime(entry.when)) if entry.when else ""
        room = max(width - TAG_WIDTH - len(stamp), 0)
        if cell_len(text) > room:
            text = set_cell_size(text, max(room - 1, 0)) + "…"
        # The theme's colours (component classes); TAG_STYLES/TEXT_STYLES name them.
        tag = self.get_component_rich_style(f"log-pane--tag-{entry.tag}", partial=True)
        level = self.get_component_rich_style(f"log-pane--text-{entry.level}", partial=True)
        segments = [
            Segment(stamp, Style(dim=True)),
            Segment(f"{entry.tag:<{TAG_WIDTH - 1}} ", tag),
            Segment(set_cell_size(text, room), level),
        ]
        return Strip(segments, width).apply_style(base)
