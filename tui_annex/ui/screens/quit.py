"""Asked when q is pressed while downloads run: let them finish and quit, quit now, or stay."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from .item_dialog import DIALOG_CSS

__all__ = ["QuitChoice", "QuitDialog"]

QuitChoice = Literal["drain", "force", "stay"]


class QuitDialog(ModalScreen[QuitChoice]):
    """Quit while downloads run? Dismisses with the choice."""

    DEFAULT_CSS = "QuitDialog {" + DIALOG_CSS + "}"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w,enter", "choose('drain')", "Wait, then quit"),
        Binding("n", "choose('force')", "Quit now"),
        Binding("escape,c", "choose('stay')", "Cancel"),
    ]

    def __init__(self, in_flight: int) -> None:
        super().__init__()
        self.in_flight = in_flight

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Quit while downloading?"
            yield Static(f"{self.in_flight} download(s) in flight. Nothing new starts either way.")
            yield Static(
                "Wait (w): let them finish, commit, then quit.\n"
                "Now (n): stop git-annex; finished files are kept and staged, partial ones "
                "resume next time.",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Wait, then quit", variant="primary", id="drain")
                yield Button("Quit now", variant="error", id="force")
                yield Button("Cancel", id="stay")

    def on_mount(self) -> None:
        self.query_one("#drain", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "stay")

    def action_choose(self, choice: str) -> None:
        """Close with ``choice``."""
        self.dismiss("drain" if choice == "drain" else "force" if choice == "force" else "stay")
