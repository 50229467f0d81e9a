"""The key bar: the keys that apply now, one line at the bottom, drawn in place.

Textual's ``Footer`` recomposes itself whenever the bindings change: a widget per
key is removed and mounted again, and each is a layout pass over the whole
screen. ``p`` (pause / resume) changes the bindings on every press, so a press
cost 60-110 ms under a stream of progress. This bar lists the same keys (the
screen's active bindings that are shown, one per action, in binding order, the
command palette's key at the right) and redraws its one line only when the
list changes. A click on a key presses it.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["KeyBar", "KeyPiece"]

#: From how many columns the bar keeps room for the command palette's key (narrower,
#: the stop and quit keys come first; the palette is in the help).
PALETTE_FROM = 40


class KeyPiece(NamedTuple):
    """One key on the bar: the key to press, how it reads, what it does, whether it can."""

    key: str
    display: str
    description: str
    enabled: bool


class KeyBar(Widget):
    """The keys that apply now, as ``key description`` pairs on one line."""

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .key-bar--disabled { text-style: dim; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pieces: list[KeyPiece] = []
        """The keys on the left, in binding order."""
        self.palette: KeyPiece | None = None
        """The command palette's key, at the right."""
        self._spans: list[tuple[int, int, KeyPiece]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        app = self.app
        pieces: list[KeyPiece] = []
        actions: set[str] = set()
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            pieces.append(
                KeyPiece(binding.key, app.get_key_display(binding), binding.description, enabled)
            )
        palette = None
        if app.ENABLE_COMMAND_PALETTE:
            found = screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, binding, enabled, _tooltip = found
                palette = KeyPiece(
                    binding.key, app.get_key_display(binding), binding.description, enabled
                )
        if (pieces, palette) != (self.pieces, self.palette):
            self.pieces, self.palette = pieces, palette
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y or width <= 0:
            return Strip.blank(width, base)
        key_style = base + self.get_component_rich_style("key-bar--key", partial=True)
        text_style = base + self.get_component_rich_style("key-bar--description", partial=True)
        dim = self.get_component_rich_style("key-bar--disabled", partial=True)
        palette = self.palette if width >= PALETTE_FROM else None
        right = cell_len(f" {palette.display} {palette.description} ") if palette else 0
        segments: list[Segment] = []
        spans: list[tuple[int, int, KeyPiece]] = []
        x = 0
        for piece in self.pieces:
            cells = (
                cell_len(piece.display)
                + 1
                + (cell_len(piece.description) + 1 if piece.description else 0)
            )
            if x + cells > width - right:
                break
            extra = dim if not piece.enabled else None
            # Gaps end a span rather than start one (SVG renderers squeeze leading spaces).
            key = piece.display + " " if piece.description else piece.display
            segments.append(Segment(key, key_style + extra if extra else key_style))
            segments.append(
                Segment(piece.description + " ", text_style + extra if extra else text_style)
            )
            spans.append((x, x + cells, piece))
            x += cells
        if palette is not None and right <= width:
            start = width - right
            segments.append(Segment(" " * (start - x + 1), base))
            segments.append(Segment(f"{palette.display} ", key_style))
            segments.append(Segment(f"{palette.description} ", text_style))
            spans.append((start, width, palette))
        self._spans = spans
        return Strip(list(Segment.adjust_line_length(segments, width, style=base)), width)

    def on_click(self, event: events.Click) -> None:
        for start, end, piece in self._spans:
            if start <= event.x < end:
                if piece.enabled:
                    self.app.simulate_key(piece.key)
                else:
                    self.app.bell()
                return
