"""A widget's styles, kept until they change.

Textual drops a widget's cache of its component styles at every refresh, and its
own style (``rich_style``) is worked out afresh from every ancestor's styles at
each call. A widget that draws line by line and refreshes at every tick would
ask again for each line; :class:`StyleMemo` asks once per change of styles, and
:class:`KeepsStyles` gives a widget one that forgets at each change.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from textual.widget import Widget

__all__ = ["KeepsStyles", "StyleMemo"]


class StyleMemo:
    """What ``widget`` looks like: its own style and its component styles, asked of
    Textual once and kept until :meth:`clear`, which the widget calls from its
    ``notify_style_update`` (a theme, a focus or a class change; Textual calls it
    for the widget and every descendant of a node whose styles change)."""

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._base: Style | None = None
        self._components: dict[tuple[str, bool], Style] = {}

    def clear(self) -> None:
        """Forget everything: the styles changed."""
        self._base = None
        self._components.clear()

    @property
    def base(self) -> Style:
        """The widget's own style (``rich_style``)."""
        if self._base is None:
            self._base = self._widget.rich_style
        return self._base

    def component(self, name: str, *, partial: bool = False) -> Style:
        """The style of component class ``name`` (KeyError while the CSS has none yet,
        which is not kept)."""
        key = (name, partial)
        style = self._components.get(key)
        if style is None:
            style = self._components[key] = self._widget.get_component_rich_style(
                name, partial=partial
            )
        return style


class KeepsStyles(Widget):
    """A widget's mixin: ``self._styles``, a :class:`StyleMemo` cleared at every
    ``notify_style_update``. Put it last among the bases: Textual takes a widget's CSS
    (its defaults, its type names) from the first base alone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._styles = StyleMemo(self)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
