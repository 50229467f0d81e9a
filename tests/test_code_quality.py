"""The code stays typed, linted, formatted, and layered (the engine never imports the UI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
@pytest.mark.timeout(300)
def test_tool_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_ui_and_the_widgets_import_textual() -> None:
    import ast

    package = Path(__file__).parent.parent / "tui_annex"
    offenders = []
    for module in package.rglob("*.py"):
        part = module.relative_to(package).parts[0]
        if part in ("ui", "widgets"):
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            offenders += [
                f"{module.name}: {name}" for name in names if name.split(".")[0] == "textual"
            ]
    assert offenders == []
