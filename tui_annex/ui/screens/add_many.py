"""The add-many dialog: pasted or typed lines (text or JSON Lines), or the path of an input file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from ...inputs import Rejection, parse_lines
from ...queue import DownloadQueue
from ...validation import derive_path
from ...widgets.format import printable
from .item_dialog import DIALOG_CSS

__all__ = ["AddManyDialog", "input_file"]


def input_file(text: str) -> Path | None:
    """The input file ``text`` names, if it is a single line naming an existing file."""
    stripped = text.strip()
    if not stripped or "\n" in stripped or "://" in stripped:
        return None
    try:
        path = Path(stripped).expanduser()
        return path if path.is_file() else None
    except (OSError, RuntimeError, ValueError):  # ~nobody, a name too long, a NUL
        return None


class AddManyDialog(ModalScreen[str | None]):
    """Many items at once; dismisses with the text (lines, or a file path) or None (escape).

    As you type, it says how many records it sees and which lines would be refused.
    """

    DEFAULT_CSS = (
        "AddManyDialog {"
        + DIALOG_CSS
        + "& TextArea { height: 10; } & #preview { margin-top: 1; max-height: 6; }}"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Add", priority=True),
    ]

    def __init__(self, queue: DownloadQueue) -> None:
        super().__init__()
        self.queue = queue

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Add many items"
            yield Label(Text("One item per line: URL [PATH], or a JSON record"), classes="field")
            yield Static(
                "or the path of an input file (text, .jsonl, .csv, .tsv). ctrl+s adds.",
                classes="hint",
            )
            yield TextArea(id="lines", soft_wrap=False, show_line_numbers=True)
            yield Static("", id="preview", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Add", variant="primary", id="ok", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @property
    def text(self) -> str:
        """What was typed or pasted."""
        return self.query_one(TextArea).text

    @on(TextArea.Changed)
    def preview(self) -> None:
        """Say what would be added and which lines would be refused, and why."""
        preview = self.query_one("#preview", Static)
        text = self.text
        if not text.strip():
            preview.update("")
            self.query_one("#ok", Button).disabled = True
            return
        self.query_one("#ok", Button).disabled = False
        file = input_file(text)
        if file is not None:
            preview.update(Text(printable(f"read the input file {file}")))
            return
        records = parse_lines(text)
        refused = []
        for record in records:
            if isinstance(record, Rejection):
                refused.append(f"line {record.line}: {record.reason}")
                continue
            try:
                self.queue.validate(record.url, record.path or derive_path(record.url))
            except ValueError as error:  # ValidationError, or text git-annex could not take
                refused.append(f"line {record.line}: {error}")
        summary = Text(f"{len(records)} record(s); {len(records) - len(refused)} look fine")
        for reason in refused[:4]:
            summary.append("\n" + reason, "red")
        if len(refused) > 4:
            summary.append(f"\n… and {len(refused) - 4} more refused", "red")
        preview.update(summary)

    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        """Add what was typed (the app reports what it refused)."""
        if self.text.strip():
            self.dismiss(self.text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without adding anything."""
        self.dismiss(None)
