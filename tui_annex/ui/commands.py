"""The command palette's entries: the same actions as the keys (shown when they apply)."""

from __future__ import annotations

__all__ = ["COMMANDS"]

#: (action, title, help) for each command; the app shows those its check_action allows now.
COMMANDS: list[tuple[str, str, str]] = [
    ("interrupt", "Stop downloads", "Stop feeding; in-flight downloads finish (again: now)"),
    ("pause", "Pause", "Stop sending new items; in-flight downloads go on"),
    ("resume", "Resume", "Send items again"),
    ("add", "Add an item", "A URL and a path, checked as you type"),
    ("add_many", "Add many items", "Paste lines (text or JSON Lines) or give an input file"),
    ("edit", "Edit item", "Change the URL or path of the queued item under the cursor"),
    ("remove", "Remove", "Remove the selected queued or failed items (all or nothing)"),
    ("toggle_mark", "Select / unselect", "Select the item under the cursor for bulk edits"),
    ("move_up", "Move up", "Send the selected queued items one place earlier"),
    ("move_down", "Move down", "Send the selected queued items one place later"),
    ("move_to_top", "Move to top", "Send the selected queued items next"),
    ("move_to_bottom", "Move to bottom", "Send the selected queued items last"),
    ("retry", "Retry item", "Queue the selected failed items again"),
    ("retry_all", "Retry failed", "Queue every failed or interrupted item again"),
    ("filter", "Filter", "Show only items whose path or URL contains a text"),
    ("clear_filter", "Clear filter or selection", "Show every item again, else unselect all"),
    ("clear_done", "Clear finished", "Drop finished items from the view (the report keeps them)"),
    ("details", "Details", "Show the selected item's URL, key and errors"),
    ("toggle_log", "Toggle log", "Show or hide the log pane"),
    ("cycle_log_level", "Log level", "Cycle the log filter: all, warning+, error"),
]
