"""One item's details as a modal screen: URL, path, state, key, errors, source, attempts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...items import DownloadItem, ItemState
from ...redact import redact
from ...widgets.format import human_bytes, human_duration, human_speed

__all__ = ["DetailsScreen", "details_table"]

#: Plain terminal colours, for the table drawn without a screen; the screen uses its theme's.
PLAIN_DETAIL_STYLES: dict[str, Style | str] = {
    ItemState.SENT.value: "bold cyan",
    ItemState.QUEUED.value: "dim",
    ItemState.DONE.value: "bold green",
    ItemState.FAILED.value: "bold red",
    ItemState.INTERRUPTED.value: "bold yellow",
    "muted": "dim",
    "error": "red",
}


def details_table(
    item: DownloadItem, styles: Mapping[str, Style | str] = PLAIN_DETAIL_STYLES
) -> Table:
    """Every field worth knowing about ``item``, one per row."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("URL", Text(redact(item.url)))
    table.add_row("path", Text(item.path))
    table.add_row("state", Text(item.state.value, styles[item.state.value]))
    size = f"{human_bytes(item.bytes_done)} of {human_bytes(item.total)}"
    if item.state is ItemState.SENT and item.speed > 0:
        size += f" at {human_speed(item.speed)}"
        if item.eta is not None:
            size += f", {human_duration(item.eta)} left"
    table.add_row("progress", size)
    table.add_row("key", Text(item.key or "—", "" if item.key else styles["muted"]))
    if item.note:
        table.add_row("note", Text(item.note))
    errors = (
        Text(redact("\n".join(item.errors)), styles["error"])
        if item.errors
        else Text("none", styles["muted"])
    )
    table.add_row("errors", errors)
    table.add_row("source", Text(item.location or "—"))
    table.add_row("attempts", str(item.attempts))
    if item.extra_urls:
        table.add_row("extra URLs", Text(redact("\n".join(item.extra_urls))))
    if item.metadata:
        meta = "\n".join(f"{name}={', '.join(values)}" for name, values in item.metadata.items())
        table.add_row("metadata", Text(meta))
    return table


class DetailsScreen(ModalScreen[None]):
    """A dialog with one item's details; escape, enter or q closes it."""

    COMPONENT_CLASSES = {f"details--{name}" for name in PLAIN_DETAIL_STYLES}
    DEFAULT_CSS = """
    DetailsScreen { align: center middle; }
    DetailsScreen > .details--sent { color: $primary-lighten-2; text-style: bold; }
    DetailsScreen > .details--queued { text-style: dim; }
    DetailsScreen > .details--done { color: $success; text-style: bold; }
    DetailsScreen > .details--failed { color: $error; text-style: bold; }
    DetailsScreen > .details--interrupted { color: $warning; text-style: bold; }
    DetailsScreen > .details--muted { text-style: dim; }
    DetailsScreen > .details--error { color: $error; }
    DetailsScreen > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close"),
    ]

    def __init__(self, item: DownloadItem) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"item {self.item.id}"
            yield Static(details_table(self.item, self._styles()), id="details")

    def _styles(self) -> dict[str, Style | str]:
        """The theme's colours for the table (component classes)."""
        return {
            name: self.get_component_rich_style(f"details--{name}", partial=True)
            for name in PLAIN_DETAIL_STYLES
        }

    def refresh_details(self) -> None:
        """Redraw with the item's current values (the app calls it from its timer).

        The timer may fire after the dialog was pushed but before it was built:
        then there is nothing to redraw yet.
        """
        for details in self.query("#details").results(Static):
            details.update(details_table(self.item, self._styles()))

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
