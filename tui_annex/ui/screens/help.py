"""The help screen: every key of the app by group, as the configuration file bound it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..actions import ACTIONS, GROUPS, MOVES, Action

__all__ = ["HelpScreen", "help_table", "key_names"]

#: How the help names Textual's keys.
_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "space",
    "escape": "esc",
    "delete": "del",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "up": "↑",
    "down": "↓",
    "enter": "enter",
}


def key_names(keys: str) -> str:
    """``ctrl+c,shift+up`` as people write it: ``^c  shift+↑``."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        modifiers, _, name = key.rpartition("+")
        name = _KEY_NAMES.get(name, name)
        if modifiers == "ctrl":
            shown.append(f"^{name}")
        elif modifiers:
            shown.append(f"{modifiers}+{name}")
        else:
            shown.append(name)
    return "  ".join(dict.fromkeys(shown))


def _keys_of(action: Action, keymap: Mapping[str, str]) -> str:
    return keymap.get(action.id, action.keys) if action.id else action.keys


def help_table(
    keymap: Mapping[str, str], actions: Sequence[Action] = ACTIONS, *, key_style: str = "bold"
) -> Table:
    """Every action with its keys (rebound ones as ``keymap`` says) and what it does."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style=key_style)
    table.add_column(overflow="fold")
    for group, title in GROUPS.items():
        rows: dict[str, tuple[str, str]] = {}
        for action in actions:
            described = action.help or action.title
            if action.group != group or not described:
                continue
            keys = key_names(_keys_of(action, keymap))
            # Actions that share a key (pause and resume) make one row.
            if action.id in rows:
                keys = rows[action.id][0]
                described = f"{rows[action.id][1]}; or: {described[0].lower()}{described[1:]}"
            rows[action.id or action.name] = (keys, described)
        if group == "view":
            rows.update({name: (key_names(keys), text) for name, keys, text in MOVES})
        if not rows:
            continue
        table.add_row(Text(title, "bold underline"), "")
        for keys, described in rows.values():
            table.add_row(keys, described)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """A dialog listing every key; escape, q, ? or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
    ]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "keys"
            box.border_subtitle = "esc: close · \\[keys] in the configuration file rebinds them"
            yield Static(help_table(self.keymap), id="help")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
