"""Finding the git-annex executable and the environment its children need."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "TUI_ANNEX_GIT_ANNEX"

__all__ = [
    "ENV_VAR",
    "MIN_VERSION",
    "GitAnnex",
    "GitAnnexNotFound",
    "VersionCheck",
    "check_version",
    "find_git_annex",
]

#: git's variables that choose a repository, a work tree or an index.
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
)

#: The oldest git-annex whose batch modes (addurl --with-files --json-progress
#: --json-error-messages, metadata and registerurl --batch) behave as tui-annex needs.
MIN_VERSION = "8.20200226"


class GitAnnexNotFound(RuntimeError):
    """No usable git-annex executable was found."""


@dataclass(frozen=True)
class GitAnnex:
    """A chosen git-annex executable and the environment to run it and git with.

    ``binary``: when ``executable`` is the PyPI wheel's launcher script (a Python
    program that sets ``MAGIC`` and execs the binary shipped in the ``git_annex``
    package), that binary, which :meth:`argv` runs directly and :meth:`annex_env`
    gives the launcher's ``MAGIC``: each git-annex then starts without a Python
    interpreter first (about 17 ms sooner).
    """

    executable: Path
    binary: Path | None = None

    @property
    def directory(self) -> Path:
        """The folder holding the executable; it goes first on every child's PATH."""
        return self.executable.parent

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return ``base`` (default: ``os.environ``) with the executable's folder first on PATH.

        git itself runs ``git-annex`` for its filters, so every git child needs it on PATH
        (the launcher, if that is what was chosen: it gives git-annex its ``MAGIC`` there).
        """
        env = dict(os.environ if base is None else base)
        # A GIT_DIR (or work tree, index...) exported by the user's shell would send our
        # git commands to another repository than -C names.
        for name in _REPOSITORY_VARIABLES:
            env.pop(name, None)
        path = env.get("PATH", os.defpath)
        entries = [entry for entry in path.split(os.pathsep) if entry]
        folder = str(self.directory)
        if not entries or entries[0] != folder:
            entries.insert(0, folder)
        env["PATH"] = os.pathsep.join(entries)
        return env

    def annex_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """:meth:`env` for a git-annex run through :meth:`argv`: with the ``MAGIC`` its
        launcher would have set (for it and its children alone, as the launcher does;
        git's own children, hooks included, get none from tui-annex)."""
        env = self.env(base)
        if self.binary is not None:
            magic = self.binary.parent / "magic.mgc"
            if magic.exists():  # libmagic reads the wheel's database, as launched
                env["MAGIC"] = str(magic)
        return env

    def argv(self, command: str, *args: str) -> list[str]:
        """The argument vector for ``git annex COMMAND ARGS``, run through this executable
        (to be run with :meth:`annex_env`)."""
        return [str(self.binary or self.executable), command, *args]


#: The scripts that installers write for the ``git_annex`` package's ``cli`` entry point,
#: after their first line (pip's and distlib's; uv's): a launcher that does anything else
#: is run as it is.
_LAUNCHER_BODIES = (
    "# -*- coding: utf-8 -*-\n"
    "import re\n"
    "import sys\n"
    "from git_annex import cli\n"
    "if __name__ == '__main__':\n"
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
    "    sys.exit(cli())\n",
    "# -*- coding: utf-8 -*-\n"
    "import sys\n"
    "from git_annex import cli\n"
    'if __name__ == "__main__":\n'
    '    if sys.argv[0].endswith("-script.pyw"):\n'
    "        sys.argv[0] = sys.argv[0][:-11]\n"
    '    elif sys.argv[0].endswith(".exe"):\n'
    "        sys.argv[0] = sys.argv[0][:-4]\n"
    "    sys.exit(cli())\n",
)
#: What the package's ``cli`` does, which :class:`GitAnnex` repeats: set MAGIC, exec.
_CLI_MARKS = ("os.execv(exe, sys.argv)", "os.environ['MAGIC'] = embedded_magic")


def _wheel_binary(executable: Path) -> Path | None:
    """The binary behind ``executable`` if it is the ``git-annex`` launcher an installer
    wrote for the ``git_annex`` wheel installed in this interpreter's own environment
    (its script and the package's ``cli`` as known: set MAGIC, exec the binary); else
    None, and the launcher is run as it is."""
    if executable.name != "git-annex":  # git-annex-shell, git-remote-annex: other roles
        return None
    try:
        with executable.open("rb") as script:
            text = script.read(4096).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, _, body = text.partition("\n")
    if not first.startswith("#!") or body not in _LAUNCHER_BODIES:
        return None
    ours = {Path(sys.executable).parent.absolute()}
    scripts = sysconfig.get_path("scripts")
    if scripts:
        ours.add(Path(scripts).absolute())
    interpreter = Path(first[2:].strip().split(" ")[0])
    if interpreter.parent not in ours or executable.parent.absolute() not in ours:
        return None  # another environment's launcher: its package is not ours to read
    # This environment's own package: not whatever ``git_annex`` the import path (which
    # may start with the current folder) would find first.
    for kind in ("purelib", "platlib"):
        package = Path(sysconfig.get_path(kind)) / "git_annex"
        try:
            cli = (package / "__init__.py").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        binary = package / "git-annex"
        if all(mark in cli for mark in _CLI_MARKS) and os.access(binary, os.X_OK):
            return binary if binary.is_file() else None
    return None


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
        return GitAnnex(path.absolute(), _wheel_binary(path.absolute()))
    for candidate in _candidates():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return GitAnnex(candidate.absolute(), _wheel_binary(candidate.absolute()))
    raise GitAnnexNotFound(
        "git-annex was not found on PATH nor beside the Python interpreter; "
        "install it (pip install git-annex) or name it with --git-annex PATH"
    )


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.replace("-", ".").split("."):
        if not piece.isdigit():
            break  # a build suffix such as -g351f69fa
        parts.append(int(piece))
    return tuple(parts)


def check_version(annex: GitAnnex) -> str:
    """Run ``git-annex version --raw``; return the version, or raise GitAnnexNotFound with
    one sentence when it does not run or is older than :data:`MIN_VERSION`."""
    with VersionCheck(annex) as check:
        return check.result()


class VersionCheck:
    """``git-annex version --raw`` started at once and judged by :meth:`result`, so that
    the caller can do other work (imports) while git-annex starts. Leaving the ``with``
    block stops it if it still runs."""

    def __init__(self, annex: GitAnnex) -> None:
        self.annex = annex
        self._error: OSError | None = None
        self._process: subprocess.Popen[str] | None = None
        try:
            self._process = subprocess.Popen(
                annex.argv("version", "--raw"),
                env=annex.annex_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # a group of its own: stopped whole, children too
            )
        except OSError as error:
            self._error = error

    def __enter__(self) -> VersionCheck:
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a child that left the group holds the pipes
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            process.wait()

    def result(self) -> str:
        """The version; GitAnnexNotFound when git-annex does not run, or is too old."""
        annex = self.annex
        if self._process is None:
            raise GitAnnexNotFound(f"{annex.executable} does not run: {self._error}")
        try:
            stdout, stderr = self._process.communicate(timeout=60)
        except subprocess.TimeoutExpired as error:
            raise GitAnnexNotFound(f"{annex.executable} does not run: {error}") from error
        version = stdout.strip().split()[0] if stdout.strip() else ""
        if self._process.returncode != 0 or not _version_key(version):
            said = (stderr.strip().splitlines() or ["no version"])[0]
            raise GitAnnexNotFound(f"{annex.executable} is not a usable git-annex ({said})")
        if _version_key(version) < _version_key(MIN_VERSION):
            raise GitAnnexNotFound(
                f"git-annex {version} at {annex.executable} is too old; "
                f"tui-annex needs {MIN_VERSION} or newer"
            )
        return version
