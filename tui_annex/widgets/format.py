"""Small formatting helpers shared by the widgets and the final report (sizes, speeds, times,
styles)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.style import Style

__all__ = [
    "as_style",
    "human_bytes",
    "human_duration",
    "human_speed",
    "printable",
    "run_stats",
    "theme_palette",
]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def printable(text: str) -> str:
    """``text`` safe to draw: blanks folded to single spaces, and every other character
    that is not printable (ESC, BEL, BS, bidi controls; they would act on the terminal
    or move what follows) written as an escape, ``\\x1b``."""
    text = " ".join(text.split())
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable()
        else f"\\x{ord(char):02x}"
        if ord(char) < 0x100
        else f"\\u{ord(char):04x}"
        for char in text
    )


def human_bytes(count: float | None) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, like git-annex); ``?`` when unknown."""
    if count is None:
        return "?"
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def human_speed(bytes_per_second: float) -> str:
    """Bytes per second as ``1.2 MB/s``; empty when nothing moves."""
    return f"{human_bytes(bytes_per_second)}/s" if bytes_per_second > 0 else ""


def human_duration(seconds: float | None) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``; empty when unknown."""
    if seconds is None:
        return ""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours > 99:
        return ">99h"
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run_stats(elapsed: float, files: int, received: int, peak: float) -> str:
    """``in 2:31 · 9 files, 0.06 files/s · 1.2 MB/s on average, 3.4 MB/s at best``."""
    parts = [f"in {human_duration(elapsed) or '0:00'}"]
    if elapsed > 0:
        parts.append(f"{files} file(s), {files / elapsed:.2f} files/s")
        if received:
            mean = human_speed(received / elapsed)
            parts.append(f"{mean} on average" + (f", {human_speed(peak)} at best" if peak else ""))
    return " · ".join(parts)


def as_style(style: Style | str) -> Style:
    """A palette entry as a Style (plain palettes hold style strings)."""
    return style if isinstance(style, Style) else Style.parse(style)


def theme_palette(
    get: Callable[[str], Style], prefix: str, plain: Mapping[str, Style | str]
) -> Mapping[str, Style | str]:
    """A widget's colours by role from its component classes (``PREFIX--ROLE``).

    ``plain`` serves until the theme's styles apply (the redraw timer may fire
    before they exist, or after they are gone at exit).
    """
    try:
        return {role: get(f"{prefix}--{role}") for role in plain}
    except KeyError:
        return plain
