"""Running the real ``tui-annex`` command in tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tui_annex.annex.locate import find_git_annex


def cli_env(tmp: Path) -> dict[str, str]:
    """An environment for the command: git-annex on PATH, logs kept inside ``tmp``."""
    env = find_git_annex().env()
    env["XDG_STATE_HOME"] = str(tmp / "state")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["HOME"] = str(tmp)
    env["GIT_CONFIG_GLOBAL"] = str(tmp / "gitconfig")
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "tui-annex tests"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tests@tui-annex.invalid"
    env.pop("TUI_ANNEX_GIT_ANNEX", None)
    return env


def run_cli(
    tmp: Path, *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tui_annex ARGS`` to its end (not on a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "tui_annex", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(tmp),
        timeout=timeout,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
