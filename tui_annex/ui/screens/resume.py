"""Asked at start when the repository holds an unfinished run: resume it, start afresh, or quit."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...recovery import ResumeOffer
from .item_dialog import DIALOG_CSS

__all__ = ["ResumeChoice", "ResumeDialog"]

ResumeChoice = Literal["resume", "fresh", "quit"]


class ResumeDialog(ModalScreen[ResumeChoice]):
    """Offers to resume an unfinished run, with its counts; dismisses with the choice."""

    DEFAULT_CSS = "ResumeDialog {" + DIALOG_CSS + "}"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('resume')", "Resume"),
        Binding("f", "choose('fresh')", "Start fresh"),
        Binding("escape,q", "choose('quit')", "Quit"),
    ]

    def __init__(self, offer: ResumeOffer, *, has_input: bool) -> None:
        super().__init__()
        self.offer = offer
        self.has_input = has_input

    def compose(self) -> ComposeResult:
        offer = self.offer
        how = "died" if offer.run.died else "was stopped"
        with Vertical() as box:
            box.border_title = "An unfinished run"
            text = Text()
            text.append(f"Run {offer.run.id} in this repository {how} with ")
            # The gap ends the bold span: SVG renderers squeeze a span's leading spaces.
            text.append(f"{offer.left} item(s) left ", "bold")
            text.append(f"({offer.in_flight} in flight); {offer.done} added, ")
            text.append(f"{offer.failed} failed.")
            yield Static(text)
            merge = " together with this input" if self.has_input else ""
            yield Static(
                f"Resume: finish them{merge}; files git-annex finished are staged, "
                "partial downloads continue where they were.\n"
                "Start fresh: set the journal aside (kept, dated) and forget that run.",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Resume", variant="primary", id="resume")
                yield Button("Start fresh", id="fresh")
                yield Button("Quit", id="quit")

    def on_mount(self) -> None:
        self.query_one("#resume", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "quit")

    def action_choose(self, choice: str) -> None:
        """Close with ``choice``."""
        self.dismiss("resume" if choice == "resume" else "fresh" if choice == "fresh" else "quit")
