"""The add/edit dialog: a URL and a path, checked as you type with the rules input files follow."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...items import DownloadItem
from ...queue import DownloadQueue
from ...validation import ValidationError, check_url, derive_path

__all__ = ["DIALOG_CSS", "ItemDialog"]

#: The look the app's small dialogs share.
DIALOG_CSS = """
    align: center middle;
    & > Vertical {
        width: 90%; max-width: 100; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    & Label.field { margin-top: 1; text-style: bold; }
    & Static.error { color: $error; height: auto; }
    & Static.hint { color: $text-muted; height: auto; }
    & Horizontal.buttons { height: auto; align-horizontal: right; margin-top: 1; }
    & Horizontal.buttons > Button { margin-left: 2; min-width: 10; }
"""


class ItemDialog(ModalScreen[tuple[str, str] | None]):
    """Add an item, or edit a queued one; dismisses with ``(url, path)`` or None (escape).

    The path may be left empty: it is then derived from the URL, as for input files.
    OK stays disabled while the URL or the path is refused; the reason is shown under the field.
    """

    DEFAULT_CSS = "ItemDialog {" + DIALOG_CSS + "}"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, queue: DownloadQueue, item: DownloadItem | None = None) -> None:
        super().__init__()
        self.queue = queue
        self.item = item

    def compose(self) -> ComposeResult:
        item = self.item
        with Vertical() as box:
            box.border_title = "Add an item" if item is None else f"Edit item {item.id}"
            yield Label("URL", classes="field")
            yield Input(item.url if item else "", placeholder="https://…", id="url")
            yield Static("", id="url-error", classes="error")
            yield Label("Path in the repository", classes="field")
            yield Input(item.path if item else "", placeholder="derived from the URL", id="path")
            yield Static("", id="path-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.check()

    @property
    def url(self) -> str:
        """The URL as typed (trimmed)."""
        return self.query_one("#url", Input).value.strip()

    @property
    def path(self) -> str:
        """The path as typed, or the one derived from the URL when none is typed."""
        typed = self.query_one("#path", Input).value.strip()
        return typed or derive_path(self.url)

    @on(Input.Changed)
    def check(self) -> bool:
        """Validate both fields; show the reasons; enable OK only when both are fine."""
        url_error = path_error = ""
        try:
            check_url(self.url, self.queue.schemes)
        except ValidationError as error:
            url_error = str(error)
        if self.url or self.query_one("#path", Input).value.strip():
            try:
                self.queue.check_path(self.path, item_id=self.item.id if self.item else None)
            except ValidationError as error:
                path_error = str(error)
        self.query_one("#path", Input).placeholder = (
            f"{derive_path(self.url)} (derived from the URL)"
            if self.url
            else "derived from the URL"
        )
        self.query_one("#url-error", Static).update(Text(url_error))
        self.query_one("#path-error", Static).update(Text(path_error))
        fine = not (url_error or path_error)
        self.query_one("#ok", Button).disabled = not fine
        return fine

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        """Return the values if they are fine."""
        if self.check():
            self.dismiss((self.url, self.path))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)
