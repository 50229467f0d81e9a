"""The downloads list: one line per item over the plain queue model, drawn with the line API.

No widget per row: :class:`DownloadsView` is a :class:`ScrollView` whose
:meth:`render_line` draws the visible rows only, so 100,000 items cost what
the ~30 visible ones cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from ..estimate import key_size
from ..items import DownloadItem, ItemState
from .format import human_bytes, human_duration, human_speed
from .model import QueueModel
from .styles import KeepsStyles

__all__ = ["ColumnHeader", "DownloadsView", "RowStyles", "header_text", "render_row"]

MARKS: dict[ItemState, str] = {
    ItemState.SENT: "↓",
    ItemState.QUEUED: "·",
    ItemState.DONE: "✓",
    ItemState.FAILED: "✗",
    ItemState.INTERRUPTED: "!",
}


#: The styles of rows drawn without a view (tests, benchmarks): plain terminal colours.
_SENDING = Style(color="cyan", bold=True)
_QUEUED = Style(dim=True)
_DONE = Style(color="green")
_FAILED = Style(color="red", bold=True)
_INTERRUPTED = Style(color="yellow", bold=True)
_MUTED = Style(dim=True)
_BAR_DONE = Style(color="cyan")
_BAR_LEFT = Style(color="bright_black")
_ERROR = Style(color="red")
_WARNING = Style(color="yellow")
_MARK = Style(color="black", bgcolor="yellow", bold=True)


@dataclass(frozen=True)
class RowStyles:
    """The styles a row is drawn with; the view takes them from its theme (component classes)."""

    sending: Style = _SENDING
    queued: Style = _QUEUED
    done: Style = _DONE
    failed: Style = _FAILED
    interrupted: Style = _INTERRUPTED
    muted: Style = _MUTED
    bar_done: Style = _BAR_DONE
    bar_left: Style = _BAR_LEFT
    error: Style = _ERROR
    warning: Style = _WARNING
    mark: Style = _MARK

    def state(self, state: ItemState) -> Style:
        """The style of an item's state mark."""
        return {
            ItemState.SENT: self.sending,
            ItemState.QUEUED: self.queued,
            ItemState.DONE: self.done,
            ItemState.FAILED: self.failed,
            ItemState.INTERRUPTED: self.interrupted,
        }[state]


#: Styles for rows drawn without a view (tests, benchmarks).
PLAIN_ROW_STYLES = RowStyles()
PLAIN = Style()

#: The view's component classes, one per field of :class:`RowStyles`.
ROW_COMPONENTS = {
    f"downloads--{name.replace('_', '-')}": name for name in RowStyles.__dataclass_fields__
}

BAR = 20
BYTES = 19
SPEED = 10
ETA = 7
#: Cells right of the path on an active row: bar, bytes, speed, ETA and their gaps.
RIGHT = BAR + 1 + BYTES + 1 + SPEED + 1 + ETA
#: The path keeps at least this many cells; narrower views drop columns instead,
#: in this order: the bar, the ETA, the speed.
MIN_PATH = 24
_DROPS = (("bar", BAR + 1), ("eta", ETA + 1), ("speed", SPEED + 1))
#: On a wide view the bar takes what the longest path leaves, up to this many cells.
MAX_BAR = 40
#: The path column's header with every note: ``path (by state ▲, following)``.
HEADER_PATH = 28


def _layout(width: int, longest: int | None = None) -> tuple[int, int, int, frozenset[str]]:
    """On a row of ``width`` cells: the path's width, the bar's, the blank after the bar
    (the numbers stay at the right edge), and the columns left out.

    ``longest``: the widest path in the queue; room beyond it goes to the bar and the
    blank after it (so to the keys and messages of other rows), not to blank path cells.
    """
    right = RIGHT
    dropped: set[str] = set()
    for column, cells in _DROPS:
        if width - 3 - right >= MIN_PATH:
            break
        right -= cells
        dropped.add(column)
    path = max(width - 3 - right, 10)
    bar, gap = BAR, 0
    if longest is not None and "bar" not in dropped:
        spare = max(path - max(longest, HEADER_PATH), 0)
        grow = min(spare, MAX_BAR - BAR)
        bar, gap, path = bar + grow, spare - grow, path - spare
    return path, bar, gap, frozenset(dropped)


def _fit(text: str, width: int, *, right: bool = False) -> str:
    """Pad or crop ``text`` to exactly ``width`` cells (cropping ends with an ellipsis)."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return text.rjust(width) if right else set_cell_size(text, width)


def _fit_path(path: str, width: int) -> str:
    """Crop a path on the left, keeping the file name visible: ``…/dir/name.bin``."""
    if cell_len(path) <= width:
        return set_cell_size(path, width)
    kept = ""
    for char in reversed(path):
        if cell_len(kept) + cell_len(char) > width - 1:
            break
        kept = char + kept
    return set_cell_size("…" + kept, width)


def _bar(item: DownloadItem, styles: RowStyles, width: int = BAR, gap: int = 1) -> list[Segment]:
    """The progress bar, ``width`` cells, and the ``gap`` after it (in its last span: SVG
    renderers squeeze a span's leading spaces)."""
    after = " " * gap
    if not item.total:
        return [Segment(_fit("size unknown", width) + after, styles.muted)]
    filled = min(width, int(width * item.bytes_done / item.total))
    return [
        Segment("━" * filled, styles.bar_done),
        Segment("━" * (width - filled) + after, styles.bar_left),
    ]


def render_row(
    item: DownloadItem,
    width: int,
    *,
    selected: bool = False,
    waiting: bool = False,
    longest: int | None = None,
    styles: RowStyles = PLAIN_ROW_STYLES,
) -> list[Segment]:
    """The segments of one row, exactly ``width`` cells wide (narrow views crop the right end).

    The first cell is the selection mark: ``▌`` on a selected row, blank otherwise.
    ``waiting``: git-annex holds the item but has not started it. ``longest``: the
    widest path in the queue (the path column takes no more than it needs).
    """
    segments = _row_segments(item, width - 1, styles, waiting=waiting, longest=longest)
    segments.insert(0, Segment("▌", styles.mark) if selected else Segment(" "))
    return list(Segment.adjust_line_length(segments, width))


def _row_segments(
    item: DownloadItem,
    width: int,
    styles: RowStyles,
    *,
    waiting: bool = False,
    longest: int | None = None,
) -> list[Segment]:
    style = styles.state(item.state)
    dim = styles.muted
    path_width, bar_width, gap, dropped = _layout(width, longest)
    segments = [
        # The gap shares the mark's style: SVG renderers squeeze a span's leading space.
        Segment(MARKS[item.state] + " ", style),
        Segment(
            _fit_path(item.path, path_width), PLAIN if item.state is not ItemState.QUEUED else dim
        ),
        Segment(" "),
    ]
    rest = max(width - 2 - path_width - 1, 0)
    if item.state is ItemState.SENT and item.last_progress_at is None:
        # No byte yet: git-annex holds it in its input (its lookahead), or it has taken
        # it up and the server has not answered yet. No bar, no speed either way.
        words = (
            "waiting: sent to git-annex, not started yet"
            if waiting
            else "starting: no data from the server yet"
        )
        segments.append(Segment(_fit(words, rest), dim))
    elif item.state is ItemState.SENT:
        size = f"{human_bytes(item.bytes_done)} / {human_bytes(item.total)}"
        if "bar" not in dropped:
            segments += _bar(item, styles, bar_width, gap + 1)
        segments.append(Segment(_fit(size, BYTES, right=True)))
        if "speed" not in dropped:
            segments.append(Segment(" " + _fit(human_speed(item.speed), SPEED, right=True), style))
        if "eta" not in dropped:
            segments.append(Segment(" " + _fit(human_duration(item.eta), ETA, right=True)))
    elif item.state is ItemState.DONE:
        total = item.total if item.total is not None else key_size(item.key)
        size = human_bytes(total) if total is not None else ""
        size_width = min(9, rest)
        segments += [
            Segment(_fit(item.key or item.note or "added", rest - size_width), dim),
            Segment(_fit(size, size_width, right=True)),
        ]
    elif item.state is ItemState.FAILED:
        message = item.errors[0] if item.errors else (item.note or "failed")
        segments.append(Segment(_fit(" ".join(message.split()), rest), styles.error))
    elif item.state is ItemState.INTERRUPTED:
        text = f"interrupted at {human_bytes(item.bytes_done)}; outcome unknown"
        segments.append(Segment(_fit(text, rest), styles.warning))
    else:
        text = "queued" if item.attempts == 0 else f"queued again (attempt {item.attempts + 1})"
        segments.append(Segment(_fit(text, rest), dim))
    return segments


#: Rows kept drawn (a few screens' worth; past that the memory starts over).
DRAWN_ROWS = 1000


class _Frame(NamedTuple):
    """What every line of one render of the rows shares."""

    width: int
    top: int
    cursor: int
    longest: int | None
    theme: str


class DownloadsView(ScrollView, KeepsStyles, can_focus=True):
    """Every item of the queue, grouped by state, with a keyboard cursor."""

    COMPONENT_CLASSES = {
        "downloads--cursor",
        "downloads--empty",
        "downloads--selected",
        *ROW_COMPONENTS,
    }
    DEFAULT_CSS = """
    DownloadsView { height: 1fr; overflow-x: hidden; }
    DownloadsView > .downloads--sending { color: $primary-lighten-2; text-style: bold; }
    DownloadsView > .downloads--queued { text-style: dim; }
    DownloadsView > .downloads--done { color: $success; }
    DownloadsView > .downloads--failed { color: $error; text-style: bold; }
    DownloadsView > .downloads--interrupted { color: $warning; text-style: bold; }
    DownloadsView > .downloads--muted { text-style: dim; }
    DownloadsView > .downloads--bar-done { color: $primary-lighten-2; }
    DownloadsView > .downloads--bar-left { color: $panel-lighten-3; }
    DownloadsView > .downloads--error { color: $error; }
    DownloadsView > .downloads--warning { color: $warning; }
    DownloadsView > .downloads--mark { color: $background; background: $warning; text-style: bold; }
    DownloadsView > .downloads--cursor { background: $accent 40%; }
    DownloadsView:focus > .downloads--cursor { background: $accent 70%; }
    DownloadsView > .downloads--selected { background: $warning 20%; }
    DownloadsView > .downloads--empty { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="cursor_up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="cursor_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="page_down"),
        Binding("home", "first", "First", show=False, id="first"),
        Binding("end", "last", "Last", show=False, id="last"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    #: Seconds between the scroll extent's updates while rows only grow (a huge input
    #: loading): each update lays out and repaints the whole screen.
    GROW_EVERY = 0.5

    class Activated(Message):
        """The user asked for the item under the cursor (enter, or a double click)."""

    def __init__(self, model: QueueModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.marked: set[int] = set()
        """Ids of the selected items (space), for bulk remove, move and retry."""
        self.cursor_item: int | None = None
        """The item the cursor stays on across re-sorts, once the user has moved it."""
        self.following = False
        """Follow mode: the cursor stays on a download in progress and, when it ends, goes
        to the first one still in progress. Moving the cursor by hand ends it."""
        self._extent_at = 0.0
        self._shown: tuple[object, ...] = ()
        self._drawn: dict[int, tuple[tuple[object, ...], Strip]] = {}
        """Rows drawn that do not change with time, by item id, with what they were drawn of."""
        self._row_styles: RowStyles | None = None
        self._frame: _Frame | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._row_styles = None

    def _sync_extent(self) -> None:
        """Make the scroll extent one line per row."""
        self._extent_at = time.monotonic()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.model.order))

    @property
    def selected(self) -> DownloadItem | None:
        """The item under the cursor."""
        return self.model.item_at(self.cursor)

    def targets(self) -> list[int]:
        """What an edit applies to: the selected items the filter shows, else the cursor's item.

        Selected items the filter hides are left alone: a key never acts on rows
        the user cannot see.
        """
        if self.marked:
            queue = self.model.queue
            shown = [
                item_id
                for item_id in self.marked
                if item_id in queue and self.model.matches(queue.get(item_id))
            ]
            if shown:
                return shown
        item = self.selected
        return [item.id] if item is not None else []

    def follow(self, item_id: int | None = None) -> None:
        """Keep the cursor on ``item_id`` (default: the item under it) when rows move."""
        if item_id is None:
            item = self.selected
            item_id = item.id if item is not None else None
        self.cursor_item = item_id

    def toggle_mark(self, item_id: int) -> None:
        """Select or unselect one item."""
        if item_id in self.marked:
            self.marked.discard(item_id)
        else:
            self.marked.add(item_id)
        row = self.model.row_of(item_id)
        if row is not None:
            self.refresh_lines(row)

    def clear_marks(self) -> None:
        """Unselect everything."""
        if self.marked:
            self.marked.clear()
            self.refresh()

    def update_rows(self, dirty: set[int], reordered: bool) -> None:
        """Redraw after a model update: everything if the order changed, else the dirty rows.

        After a re-sort the cursor stays on its item; if the item left the view,
        it stays on its row, which now shows the next item.
        """
        rows = len(self.model.order)
        extent = self.virtual_size.height
        if rows != extent and (
            rows < extent
            or extent < self.size.height
            or time.monotonic() - self._extent_at >= self.GROW_EVERY
        ):
            self._sync_extent()
        if reordered and self.cursor_item is not None:
            row = self.model.row_of(self.cursor_item)
            if row is None:
                row = max(0, min(self.cursor, rows - 1))
                self.cursor_item = self.model.order[row] if rows else None
            if row != self.cursor:
                self.cursor = row
        if rows and self.cursor >= rows:
            self.cursor = rows - 1
        if self.following:
            self._follow_downloads()
        top = int(self.scroll_offset.y)
        order = self.model.order
        if reordered:
            # Rows moved somewhere; repaint all only if the visible ones are others now
            # (a huge input loading adds rows below the view at every tick).
            shown = (
                top,
                self.cursor,
                self.model.longest_path,
                tuple(order[top : top + self.size.height]),
            )
            if shown != self._shown:
                self._shown = shown
                self.refresh()
                return
        if not dirty:
            return
        for row in range(top, min(top + self.size.height, rows)):
            if order[row] in dirty:
                self.refresh_lines(row)

    def _follow_downloads(self) -> None:
        """Follow mode: keep the cursor on a download in progress, the first shown."""
        model = self.model
        current = self.cursor_item
        if (
            current is not None
            and current in model.in_flight
            and model.row_of(current) == self.cursor
        ):
            return
        rows = [row for row in map(model.row_of, model.in_flight) if row is not None]
        if rows:
            row = min(rows)
            self.cursor_item = model.order[row]
            if row != self.cursor:
                self.cursor = row

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of one render shares is read once for all of them (each is
        # a property or a reactive, some computed from the styles at each read).
        self._frame = self._frame_now()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_now(self) -> _Frame:
        return _Frame(
            width=self.scrollable_content_region.width,
            top=int(self.scroll_offset.y),
            cursor=self.cursor,
            longest=self.model.longest_path,
            theme=self.app.theme,
        )

    def render_line(self, y: int) -> Strip:
        """Draw the row at screen line ``y``."""
        frame = self._frame or self._frame_now()
        width = frame.width
        row = y + frame.top
        styles = self._styles
        base = styles.base
        if not self.model.order:
            if y == 0:
                empty = styles.component("downloads--empty")
                return Strip([Segment(_fit(" nothing in the queue", width), base + empty)], width)
            return Strip.blank(width, base)
        item = self.model.item_at(row)
        if item is None:
            return Strip.blank(width, base)
        selected = item.id in self.marked
        waiting = item.id in self.model.waiting
        at_cursor = row == frame.cursor
        key: tuple[object, ...] | None = None
        if item.state is not ItemState.SENT:
            # A row that does not change with time (not in flight) is drawn once per
            # look: rows move at every tick while downloads finish, their looks do not.
            key = (
                width,
                selected,
                waiting,
                # The cursor's look, which changes with focus too.
                styles.component("downloads--cursor") if at_cursor else None,
                frame.longest,
                base,
                frame.theme,
                item.state,
                item.path,
                item.key,
                item.note,
                item.errors,
                item.attempts,
                item.bytes_done,
                item.total,
            )
            drawn = self._drawn.get(item.id)
            if drawn is not None and drawn[0] == key:
                return drawn[1]
        strip = self._draw(
            item,
            width,
            base,
            selected=selected,
            waiting=waiting,
            at_cursor=at_cursor,
            longest=frame.longest,
        )
        if key is not None:
            if len(self._drawn) >= DRAWN_ROWS:
                self._drawn.clear()
            self._drawn[item.id] = (key, strip)
        return strip

    def _draw(
        self,
        item: DownloadItem,
        width: int,
        base: Style,
        *,
        selected: bool,
        waiting: bool,
        at_cursor: bool,
        longest: int | None,
    ) -> Strip:
        row_segments = render_row(
            item,
            width,
            selected=selected,
            waiting=waiting,
            longest=longest,
            styles=self.row_styles(),
        )
        strip = Strip(row_segments, width)
        if selected:
            strip = strip.apply_style(self._styles.component("downloads--selected"))
        if at_cursor:
            strip = strip.apply_style(self._styles.component("downloads--cursor"))
        return strip.apply_style(base)

    def row_styles(self) -> RowStyles:
        """The row styles of the current theme (its component classes)."""
        if self._row_styles is None:
            self._row_styles = RowStyles(
                **{
                    field: self._styles.component(name, partial=True)
                    for name, field in ROW_COMPONENTS.items()
                }
            )
        return self._row_styles

    def watch_cursor(self, old: int, new: int) -> None:
        rows = len(self.model.order)
        if rows and not 0 <= new < rows:
            self.cursor = max(0, min(new, rows - 1))
            return
        self.refresh_lines(old)
        self.refresh_lines(new)
        if self.virtual_size.height != rows:
            self._sync_extent()  # the cursor may go to rows the extent has not reached yet
        self.scroll_to_region(Region(0, new, max(self.size.width, 1), 1), animate=False, force=True)

    def on_resize(self, event: events.Resize) -> None:
        self._sync_extent()

    def go_to(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and keep it on that row's item from now on."""
        self.cursor = max(0, min(row, len(self.model.order) - 1))
        self.follow()

    def action_cursor(self, step: int) -> None:
        """Move the cursor by ``step`` rows (a move by hand ends follow mode)."""
        self.following = False
        self.go_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        """Move the cursor by one screen."""
        self.action_cursor(direction * max(self.size.height - 1, 1))

    def action_first(self) -> None:
        """Move the cursor to the first row."""
        self.following = False
        self.go_to(0)

    def action_last(self) -> None:
        """Move the cursor to the last row."""
        self.following = False
        self.go_to(len(self.model.order) - 1)

    def on_click(self, event: events.Click) -> None:
        row = event.y + int(self.scroll_offset.y)
        if 0 <= row < len(self.model.order):
            if row == self.cursor and event.chain >= 2:
                self.post_message(self.Activated())
            self.following = False
            self.go_to(row)


def header_text(
    width: int,
    sort_key: str,
    reverse: bool,
    *,
    following: bool = False,
    longest: int | None = None,
) -> str:
    """The column names of a row ``width`` cells wide, the sorted one marked ▲ or ▼."""
    pieces = header_pieces(width, sort_key, reverse, following=following, longest=longest)
    return "".join(text for text, _label in pieces)


def header_pieces(
    width: int,
    sort_key: str,
    reverse: bool,
    *,
    following: bool = False,
    longest: int | None = None,
) -> list[tuple[str, bool]]:
    """The header as (text, is a label) pieces, each label with the gap that follows it.
    ``following``: follow mode is on (said after the sort order).

    Labels and gaps are drawn apart (SVG renderers squeeze a span's leading spaces).
    """
    arrow = " ▼" if reverse else " ▲"

    def label(name: str, key: str) -> str:
        return name + (arrow if sort_key == key else "")

    path_width, bar_width, gap, dropped = _layout(width - 1, longest)
    notes = [f"by state{arrow}"] if sort_key == "state" else []
    if following:
        notes.append("following")
    path = label("path", "path") + (f" ({', '.join(notes)})" if notes else "")
    columns = [(_fit(path, path_width), False)]
    if "bar" not in dropped:
        columns.append((_fit(label("progress", "progress"), bar_width + gap), False))
    columns.append((_fit(label("done / size", "size"), BYTES, right=True), True))
    if "speed" not in dropped:
        columns.append((_fit(label("speed", "speed"), SPEED, right=True), True))
    if "eta" not in dropped:
        columns.append((_fit(label("ETA", "eta"), ETA, right=True), True))
    pieces: list[tuple[str, bool]] = []
    blank = "   "  # the selection and state marks
    for number, (text, right) in enumerate(columns):
        if number:
            blank += " "  # the gap between two columns
        stripped = text.strip()
        padding = " " * (cell_len(text) - cell_len(stripped))
        if right:  # right-aligned: the padding goes before the name
            blank += padding
        pieces += [(blank, False), (stripped, True)]
        blank = "" if right else padding
    if blank:
        pieces.append((blank, False))
    return pieces


class ColumnHeader(Widget):
    """The downloads list's column names and its sort order, one line."""

    DEFAULT_CSS = """
    ColumnHeader { height: 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""
        self._pieces: list[tuple[str, bool]] = []

    def show(
        self,
        width: int,
        sort_key: str,
        reverse: bool,
        *,
        following: bool = False,
        longest: int | None = None,
    ) -> None:
        """Name the columns of rows ``width`` cells wide; redraw only on a change."""
        pieces = header_pieces(width, sort_key, reverse, following=following, longest=longest)
        text = "".join(piece for piece, _label in pieces)
        if text != self._text:
            self._text, self._pieces = text, pieces
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        bold = base + Style(bold=True)
        segments = [Segment(text, bold if is_label else base) for text, is_label in self._pieces]
        return Strip(list(Segment.adjust_line_length(segments, width, style=base)), width)
