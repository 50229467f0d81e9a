"""Finding the git-annex executable and the environment its children need."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "TUI_ANNEX_GIT_ANNEX"

__all__ = ["ENV_VAR", "GitAnnex", "GitAnnexNotFound", "find_git_annex"]


class GitAnnexNotFound(RuntimeError):
    """No usable git-annex executable was found."""


@dataclass(frozen=True)
class GitAnnex:
    """A chosen git-annex executable and the environment to run it and git with."""

    executable: Path

    @property
    def directory(self) -> Path:
        """The folder holding the executable; it goes first on every child's PATH."""
        return self.executable.parent

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return ``base`` (default: ``os.environ``) with the executable's folder first on PATH.

        git itself runs ``git-annex`` for its filters, so every git child needs it on PATH.
        """
        env = dict(os.environ if base is None else base)
        path = env.get("PATH", os.defpath)
        entries = [entry for entry in path.split(os.pathsep) if entry]
        folder = str(self.directory)
        if not entries or entries[0] != folder:
            entries.insert(0, folder)
        env["PATH"] = os.pathsep.join(entries)
        return env

    def argv(self, command: str, *args: str) -> list[str]:
        """The argument vector for ``git annex COMMAND ARGS``, run through this executable."""
        return [str(self.executable), command, *args]


def _candidates() -> list[Path]:
    found: list[Path] = []
    on_path = shutil.which("git-annex")
    if on_path:
        found.append(Path(on_path))
    # An un-activated virtual environment: the wheel puts git-annex beside python.
    found.append(Path(sys.executable).parent / "git-annex")
    scripts = sysconfig.get_path("scripts")
    if scripts:
        found.append(Path(scripts) / "git-annex")
    return found


def find_git_annex(explicit: str | os.PathLike[str] | None = None) -> GitAnnex:
    """Choose the git-annex executable.

    Order: ``explicit`` (the ``--git-annex`` option), the ``TUI_ANNEX_GIT_ANNEX``
    environment variable, ``git-annex`` on PATH, then the one beside the running
    Python interpreter (where the PyPI wheel installs it).
    """
    chosen = explicit if explicit is not None else os.environ.get(ENV_VAR) or None
    if chosen is not None:
        path = Path(chosen).expanduser()
        if path.name == str(path) and not path.exists():
            resolved = shutil.which(str(path))
            if resolved:
                path = Path(resolved)
        if not (path.is_file() and os.access(path, os.X_OK)):
            source = "--git-annex" if explicit is not None else ENV_VAR
            raise GitAnnexNotFound(f"{source}: {chosen} is not an executable file")
        return GitAnnex(path.absolute())
    for candidate in _candidates():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return GitAnnex(candidate.absolute())
    raise GitAnnexNotFound(
        "git-annex was not found on PATH nor beside the Python interpreter; "
        "install it (pip install git-annex) or name it with --git-annex PATH"
    )
