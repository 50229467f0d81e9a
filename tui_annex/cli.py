"""Command line entry point (placeholder until the options are built)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run tui-annex."""
    return 0
