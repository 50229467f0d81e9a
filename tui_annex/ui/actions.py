"""Every action of the app, declared once: its keys, its footer label, its palette entry.

The bindings of the app and of its queue screen, the command palette's
entries, the set of queue-editing actions and the ``[keys]`` ids of the
configuration file are all derived from :data:`ACTIONS`, so a new action is one
line here (and its ``action_`` method).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

__all__ = [
    "ACTIONS",
    "APP_ACTIONS",
    "APP_BINDINGS",
    "COMMANDS",
    "EDIT_ACTIONS",
    "FIXED_KEYS",
    "GROUPS",
    "MOVES",
    "QUEUE_BINDINGS",
    "Action",
]


@dataclass(frozen=True)
class Action:
    """One thing the user can do: where its keys, label and description come from."""

    name: str
    """The ``action_`` method."""
    keys: str
    """Default keys, comma-separated (Textual's names)."""
    label: str = ""
    """The footer's word for it ("" for none)."""
    title: str = ""
    """The command palette's title ("" keeps it out of the palette)."""
    help: str = ""
    """One sentence: what it does (palette, help screen)."""
    group: str = "run"
    """``run``, ``queue`` or ``view``: where a help screen lists it."""
    id: str | None = None
    """The name ``[keys]`` rebinds it by (None: not rebindable); actions sharing keys share it."""
    show: bool = True
    """Shown in the footer when it applies."""
    key_display: str | None = None
    edits: bool = False
    """Changes the queue: refused after a stop and while a dialog is open."""
    explains: bool = False
    """When it does not apply, its keys say why (a hidden ``attempt`` binding)."""
    priority: bool = False
    """Works in every screen and widget (the stop sequence)."""
    app: bool = False
    """Bound on the app (the stop sequence and quitting), not on the queue screen."""

    def bindings(self, *, on_screen: bool = False) -> list[BindingType]:
        """The Textual bindings of this action (and of its explanation).

        ``on_screen``: the queue screen's twin of an app action (``app.NAME``, not
        a priority), so that the footer lists every key in declaration order.
        """
        twin = on_screen and self.app
        found: list[BindingType] = [
            Binding(
                self.keys,
                f"app.{self.name}" if twin else self.name,
                self.label,
                show=self.show and bool(self.label),
                key_display=self.key_display,
                priority=self.priority and not twin,
                id=self.id,
            )
        ]
        if self.explains:
            found.append(Binding(self.keys, f"attempt('{self.name}')", show=False, id=self.id))
        return found


#: In binding order: the footer lists what applies in this order.
ACTIONS: tuple[Action, ...] = (
    # While the job runs, ctrl+c / ctrl+q stop it; once it is over they (and q) just quit.
    Action(
        "interrupt",
        "ctrl+c",
        "Stop",
        "Stop downloads",
        "Stop feeding; in-flight downloads finish (again: stop them now)",
        priority=True,
        app=True,
    ),
    Action("close", "ctrl+c", "Quit", show=False, priority=True, app=True),
    Action(
        "quit",
        "ctrl+q",
        "Quit",
        help="Stop as ctrl+c does and quit once the downloads in flight are in",
        priority=True,
        app=True,
    ),
    Action("close", "ctrl+q", "Quit", show=False, priority=True, app=True),
    Action("close", "q", "Quit", help="Quit once the run is over", id="quit", app=True),
    Action(
        "ask_quit",
        "q",
        "Quit",
        help="While downloading: ask whether to wait for them or quit now",
        id="quit",
        show=False,
        app=True,
    ),
    Action(
        "help",
        "question_mark,f1",
        "Help",
        "Help",
        "Show every key and what it does",
        group="view",
        id="help",
        key_display="?",
        app=True,
    ),
    Action(
        "summary",
        "i",
        "Summary",
        "Run summary",
        "Once a round is over: what was added, how fast, and what to do next",
        group="view",
        id="summary",
        app=True,
    ),
    Action(
        "details",
        "enter",
        "Details",
        "Details",
        "Show the selected item's URL, key and errors",
        group="view",
        id="details",
        show=False,
    ),
    Action("pause", "p", "Pause", "Pause", "Stop sending new items; in-flight go on", id="pause"),
    Action("resume", "p", "Resume", "Resume", "Send items again", id="pause"),
    Action(
        "carry_on",
        "p",
        "Continue",
        "Continue the run",
        "After a stop (one ctrl+c) has drained: take it back, so what is queued runs again",
        id="pause",
        app=True,
    ),
    Action(
        "retry", "r", "Retry", "Retry item", "Queue the selected failed items again", id="retry"
    ),
    Action(
        "cancel",
        "x",
        "Cancel",
        "Cancel download",
        "Cancel the download under the cursor (asks first; the others resume)",
        id="cancel",
        show=False,
    ),
    Action(
        "retry_all",
        "R",
        "Retry all",
        "Retry failed",
        "Queue every failed or interrupted item again",
        id="retry_all",
    ),
    Action(
        "add",
        "a",
        "Add",
        "Add an item",
        "A URL and a path, checked as you type",
        group="queue",
        id="add",
        edits=True,
    ),
    Action(
        "add_many",
        "A",
        "Add many",
        "Add many items",
        "Paste lines (text or JSON Lines) or give an input file",
        group="queue",
        id="add_many",
        show=False,
        edits=True,
    ),
    Action(
        "edit",
        "e",
        "Edit",
        "Edit item",
        "Change the URL or path of the queued item under the cursor",
        group="queue",
        id="edit",
        edits=True,
        explains=True,
    ),
    Action(
        "remove",
        "d,delete",
        "Remove",
        "Remove",
        "Remove the selected queued or failed items (all or nothing)",
        group="queue",
        id="remove",
        key_display="d",
        edits=True,
        explains=True,
    ),
    Action(
        "undo",
        "u",
        "Undo",
        "Undo",
        "Undo the last remove (the items come back where they were) or edit",
        group="queue",
        id="undo",
        show=False,
        edits=True,
    ),
    Action(
        "toggle_mark",
        "space",
        "Select",
        "Select / unselect",
        "Select the item under the cursor for bulk edits",
        group="queue",
        id="select",
        edits=True,
    ),
    Action(
        "select_all",
        "ctrl+a",
        "All",
        "Select all shown",
        "Select every queued or failed item the filter shows",
        group="queue",
        id="select_all",
        show=False,
        edits=True,
    ),
    Action(
        "invert_selection",
        "asterisk",
        "Invert",
        "Invert selection",
        "Select the shown queued or failed items that are not selected, and only those",
        group="queue",
        id="invert_selection",
        key_display="*",
        show=False,
        edits=True,
    ),
    Action(
        "move_up",
        "shift+up",
        "Move up",
        "Move up",
        "Send the selected queued items one place earlier",
        group="queue",
        id="move_up",
        show=False,
        edits=True,
        explains=True,
    ),
    Action(
        "move_down",
        "shift+down",
        "Move down",
        "Move down",
        "Send the selected queued items one place later",
        group="queue",
        id="move_down",
        show=False,
        edits=True,
        explains=True,
    ),
    Action(
        "move_to_top",
        "T",
        "Top",
        "Move to top",
        "Send the selected queued items next",
        group="queue",
        id="move_to_top",
        edits=True,
        explains=True,
    ),
    Action(
        "move_to_bottom",
        "B",
        "Bottom",
        "Move to bottom",
        "Send the selected queued items last",
        group="queue",
        id="move_to_bottom",
        show=False,
        edits=True,
        explains=True,
    ),
    Action(
        "filter",
        "slash",
        "Filter",
        "Filter",
        "Show only items whose path or URL contains a text",
        group="view",
        id="filter",
        key_display="/",
    ),
    Action(
        "sort",
        "s",
        "Sort",
        "Sort by the next column",
        "Order the rows by state (grouped), path, size, progress, speed, ETA, in turn",
        group="view",
        id="sort",
        show=False,
    ),
    Action(
        "reverse_sort",
        "S",
        "Reverse",
        "Reverse the order",
        "Reverse the order of the rows",
        group="view",
        id="reverse_sort",
        show=False,
    ),
    Action(
        "toggle_follow",
        "f",
        "Follow",
        "Follow downloads",
        "Keep the cursor on a download in progress, and on the next when it ends "
        "(moving the cursor ends it)",
        group="view",
        id="follow",
        show=False,
    ),
    Action(
        "clear_filter",
        "escape",
        "Clear",
        "Clear filter or selection",
        "Show every item again, else unselect all",
        group="view",
        id="clear_filter",
    ),
    Action(
        "clear_done",
        "c",
        "Clear done",
        "Clear finished",
        "Drop finished items from the view (the report keeps them)",
        group="queue",
        id="clear_done",
        edits=True,
    ),
    Action(
        "toggle_log",
        "l",
        "Log",
        "Toggle log",
        "Show or hide the log pane",
        group="view",
        id="toggle_log",
    ),
    Action(
        "cycle_log_level",
        "L",
        "Log level",
        "Log level",
        "Cycle the log filter: all, warning+, error",
        group="view",
        id="cycle_log_level",
        show=False,
    ),
)

#: The help screen's groups, in order, with their titles.
GROUPS: dict[str, str] = {"run": "The run", "queue": "The queue", "view": "The view"}

#: The list's own moves (bound on the downloads widget): name, keys, what they do.
MOVES: tuple[tuple[str, str, str], ...] = (
    ("cursor", "up,k,down,j", "Move the cursor"),
    ("page", "pageup,pagedown", "Move by a screen"),
    ("ends", "home,end", "Go to the first or last row"),
)

#: The app's bindings (the stop sequence), in order.
APP_BINDINGS: list[BindingType] = [
    binding for action in ACTIONS if action.app for binding in action.bindings()
]

#: The queue screen's bindings, in order: its own, and twins of the app's stop keys
#: (the footer lists keys in the order the focused screen declares them; the app's
#: priority bindings still answer those keys first, and on every other screen).
QUEUE_BINDINGS: list[BindingType] = [
    binding for action in ACTIONS for binding in action.bindings(on_screen=True)
]

#: The actions the app itself answers (the rest are the queue screen's).
APP_ACTIONS = frozenset(action.name for action in ACTIONS if action.app)

#: (action, title, help) for the command palette; the app offers those that apply now.
COMMANDS: list[tuple[str, str, str]] = [
    (action.name, action.title, action.help) for action in ACTIONS if action.title
]

#: Actions that change the queue (refused once the run was stopped, or in a dialog).
EDIT_ACTIONS = frozenset({action.name for action in ACTIONS if action.edits} | {"attempt"})

#: Keys the configuration file cannot take over: the stop sequence must always work.
FIXED_KEYS = frozenset(
    key for action in ACTIONS if action.priority for key in action.keys.split(",")
)
