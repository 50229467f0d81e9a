"""Asked before one download in flight is cancelled."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...items import DownloadItem
from ...widgets.format import human_bytes
from .item_dialog import DIALOG_CSS

__all__ = ["CancelDialog"]


class CancelDialog(ModalScreen[bool]):
    """Cancel this download? Dismisses with True to cancel it."""

    DEFAULT_CSS = "CancelDialog {" + DIALOG_CSS + "}"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Cancel it"),
        Binding("escape,n", "choose(False)", "Keep it"),
    ]

    def __init__(self, item: DownloadItem, others: int) -> None:
        super().__init__()
        self.item = item
        self.others = others

    def compose(self) -> ComposeResult:
        item = self.item
        with Vertical() as box:
            box.border_title = "Cancel this download?"
            got = f"{human_bytes(item.bytes_done)} of {human_bytes(item.total)}"
            yield Static(f"{item.path} ({got})", markup=False)
            yield Static(
                "git-annex cannot drop one download, so it is restarted without this one"
                + (f"; the {self.others} other(s) resume where they were." if self.others else ".")
                + " It ends failed (cancelled); r queues it again.",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel it (y)", variant="error", id="yes")
                yield Button("Keep it (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id == "yes")

    def action_choose(self, cancel: bool) -> None:
        """Close: ``cancel`` it or not."""
        self.dismiss(cancel)
