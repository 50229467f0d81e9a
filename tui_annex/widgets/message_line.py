"""The message line: what the last key did, one line above the footer.

A toast (Textual's ``notify``) mounts a widget and removes it again, and each
is a layout pass over the whole screen: 15-30 ms on 2 cores, more under a
stream of progress, on every key that says something. The line is drawn in
place instead (no layout), bright while the message is new, then dim, so that
the last thing said can still be read.
"""

from __future__ import annotations

from collections import deque

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from .format import printable

__all__ = ["FRESH_SECONDS", "MessageLine"]

#: Seconds a message stays bright.
FRESH_SECONDS = 5.0

#: How the line reads before anything was said.
IDLE_HINT = "enter: details · f: follow the downloads · s: sort · ?: all keys"


class MessageLine(Widget):
    """One line: the last message, bright for :data:`FRESH_SECONDS`, then dim."""

    COMPONENT_CLASSES = {
        "message--information",
        "message--warning",
        "message--error",
        "message--old",
    }
    # The line's own colour is resolved against its background (a component class's
    # $text is not: white on a light theme); fading is dim, as the summary's muted parts.
    DEFAULT_CSS = """
    MessageLine { height: 1; color: $foreground; }
    MessageLine > .message--information { text-style: none; }
    MessageLine > .message--warning { color: $warning; text-style: bold; }
    MessageLine > .message--error { color: $error; text-style: bold; }
    MessageLine > .message--old { text-style: dim; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = IDLE_HINT
        """What the line says now."""
        self.severity = "old"
        """``information``, ``warning`` or ``error`` while new; ``old`` once faded."""
        self.said: deque[str] = deque(maxlen=200)
        """The messages said so far (without their titles), oldest first (the last 200)."""
        self._generation = 0

    def show(self, text: str, severity: str = "information", *, title: str = "") -> None:
        """Say ``text`` after ``title`` (one line: line breaks become spaces) until the
        next message."""
        self.said.append(text)
        # A file name in a message may hold ESC or BEL: drawn raw they act on the terminal.
        self.text = printable(f"{title}: {text}" if title else text)
        self.severity = severity
        self._generation += 1
        generation = self._generation
        self.set_timer(FRESH_SECONDS, lambda: self._fade(generation))
        self.refresh()

    def _fade(self, generation: int) -> None:
        if generation == self._generation:
            self.severity = "old"
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y or width <= 0:
            return Strip.blank(width, base)
        style = base + self.get_component_rich_style(f"message--{self.severity}", partial=True)
        text = self.text
        if cell_len(text) > width - 1:
            text = set_cell_size(text, max(width - 2, 0)) + "…"
        # The margin apart (SVG renderers squeeze a span's leading spaces).
        return Strip([Segment(" ", base), Segment(set_cell_size(text, width - 1), style)], width)
