"""The filter bar above the downloads list: ``/`` opens it, ``escape`` clears and hides it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label

__all__ = ["FilterBar"]


class FilterBar(Horizontal):
    """A one-line text input; the app filters the model on :class:`Input.Changed`."""

    DEFAULT_CSS = """
    FilterBar { height: 1; background: $boost; display: none; }
    FilterBar.-shown { display: block; }
    FilterBar > Label { width: auto; padding: 0 1; }
    FilterBar > Input { border: none; height: 1; width: 1fr; padding: 0; background: $boost; }
    FilterBar > Input:focus { border: none; background: $boost; }
    FilterBar > #filter-count { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "app.focus_next", "To the list", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.input = Input(placeholder="part of a path or URL", id="filter-input")
        self.count = Label("", id="filter-count")

    def compose(self) -> ComposeResult:
        yield Label("[b]filter[/]")
        yield self.input
        yield self.count

    @property
    def shown(self) -> bool:
        """Whether the bar is open."""
        return self.has_class("-shown")

    def open(self) -> None:
        """Show the bar and put the focus in it."""
        self.add_class("-shown")
        self.input.focus()

    def close(self) -> None:
        """Empty and hide the bar."""
        self.input.value = ""
        self.remove_class("-shown")

    def show_count(self, shown: int, total: int) -> None:
        """Say how many items match."""
        self.count.update(f"{shown} of {total} shown")
