"""``git annex addurl --batch`` started before the engine is imported, for the run to adopt.

Python takes about 0.1 s to import the engine and a front end, and git-annex
about as long to start (its wrapper, its config, its branch, its helpers).
Started one after the other, both come before the first download. So the
command line starts git-annex first, with the command the run will use, and
imports meanwhile; the run's first :class:`~tui_annex.annex.batch.BatchProcess`
with the same command line, folder and environment takes it over (see
:func:`claim`). Whatever is not taken over is closed gracefully when the command
ends: its input closed, it exits without having done anything (see
:meth:`EarlyProcess.close`).

It is started only in the top folder of a work tree whose git-annex is
initialised (``annex.uuid`` set), which the run would refuse otherwise: in a
clone of a git-annex repository that was never initialised, git-annex would
initialise it on its own as it starts.

This module imports no asyncio: it runs before the engine is imported.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .locate import GitAnnex

__all__ = [
    "ADDURL_ARGS",
    "EarlyProcess",
    "addurl_argv",
    "claim",
    "close_unclaimed",
    "parent_death_signal",
    "reserved_options",
    "start_addurl",
]

ADDURL_ARGS = (
    "--batch",
    "--with-files",
    "--json",
    "--json-error-messages",
    "--json-progress",
)

#: Options that would break the batch protocol the driver speaks.
_RESERVED = {
    "--batch",
    "--batch-keys",
    "--with-files",
    "--json",
    "--json-progress",
    "--json-error-messages",
    "-z",
    "--file",
    "--pathdepth",
    "--prefix",
    "--suffix",
    # These change what git-annex prints, which the driver reads.
    "--quiet",
    "-q",
    "--json-exceptions",
    # The number of jobs is -J's: the window and the stall watchdog count on it.
    "-J",
    "--jobs",
}


def reserved_options(options: Sequence[str]) -> list[str]:
    """The addurl options among ``options`` that tui-annex manages itself."""
    return [
        opt
        for opt in options
        if opt.split("=", 1)[0] in _RESERVED or (opt.startswith("-J") and opt[2:].isdigit())
    ]


def addurl_argv(git_annex: GitAnnex, jobs: int, options: Sequence[str]) -> list[str]:
    """The command line of the ``git annex addurl --batch`` a run drives."""
    return git_annex.argv("addurl", *ADDURL_ARGS, "-J", str(jobs), *options)


_PR_SET_PDEATHSIG = 1


def parent_death_signal(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A function for ``preexec_fn`` that makes the child get ``signum`` when we die (Linux).

    ``PR_SET_PDEATHSIG`` survives ``exec``: git-annex gets SIGKILL the moment
    tui-annex dies, however it dies (kill -9, the OOM killer, a crash), instead
    of hanging for good with its transfer locks held. Its own helpers (git
    cat-file, check-attr) read from it and end when it does. Elsewhere (macOS)
    there is no such call: the next run stops a left-over process instead
    (see the journal's process records).
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would tell us.
        if os.getppid() != parent:
            os._exit(1)

    return set_parent_death_signal


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once (``find_library`` runs ``ldconfig`` each time)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        # The symbols the interpreter already has (libc among them).
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        try:
            name = ctypes.util.find_library("c") or "libc.so.6"
            prctl = ctypes.CDLL(name, use_errno=True).prctl
        except (OSError, AttributeError):
            return None
    return prctl


class EarlyProcess:
    """A started ``git annex addurl --batch`` and what it was started with."""

    def __init__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], popen: subprocess.Popen[bytes]
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.popen = popen

    def matches(
        self, argv: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None
    ) -> bool:
        """Whether it is the process a run would start with these."""
        return (
            list(argv) == self.argv
            and Path(cwd) == self.cwd
            and dict(os.environ if env is None else env) == self.env
            and self.popen.poll() is None
        )

    def close(self, *, kill: bool = False) -> None:
        """End it: its input closed, it has nothing to do and exits. What it says meanwhile
        is read (a closed pipe would kill it by SIGPIPE), and it gets all the time it
        needs: at its start git-annex may be merging branches or upgrading the repository,
        which a kill would cut short. ``kill`` (not a usable git-annex): its process group
        gets SIGKILL first. Ctrl-C while it ends kills it."""
        popen = self.popen
        if kill:
            _kill_group(popen.pid)
        try:
            popen.communicate(timeout=5 if kill else None)
        except subprocess.TimeoutExpired:  # a child that left the group holds the pipes
            for stream in (popen.stdout, popen.stderr):
                if stream is not None:
                    stream.close()
            popen.wait()
        except KeyboardInterrupt:
            _kill_group(popen.pid)
            popen.wait()
            raise


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


_unclaimed: list[EarlyProcess] = []


def start_addurl(
    git_annex: GitAnnex, repo: str | os.PathLike[str], jobs: int, options: Sequence[str]
) -> EarlyProcess | None:
    """Start the run's ``git annex addurl --batch`` in ``repo`` for the run to adopt; None
    (nothing started) unless ``repo`` is the top of an initialised git-annex work tree
    and the options are the run's to give."""
    folder = Path(repo).expanduser().absolute()
    if jobs < 1 or reserved_options(options) or ".git" in folder.parts or not folder.is_dir():
        return None
    env = git_annex.env()
    if not _annex_top(folder, env):
        return None
    argv = addurl_argv(git_annex, jobs, options)
    try:
        popen = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=parent_death_signal(),
        )
    except OSError:
        return None  # the run starts it again, and says why it cannot
    early = EarlyProcess(argv, folder, env, popen)
    _unclaimed.append(early)
    return early


def _annex_top(folder: Path, env: Mapping[str, str]) -> bool:
    """Whether ``folder`` is the top of a work tree whose git-annex is initialised."""

    def git(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["git", *args],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    try:
        where = git("rev-parse", "--is-inside-git-dir", "--is-bare-repository", "--show-toplevel")
        uuid = git("config", "annex.uuid")
    except OSError:
        return False
    said, _ = where.communicate()
    uuid_said, _ = uuid.communicate()
    lines = said.splitlines()
    if where.returncode != 0 or len(lines) != 3 or lines[:2] != ["false", "false"]:
        return False
    try:
        top = Path(lines[2]).resolve() == folder.resolve()
    except OSError:
        return False
    return top and uuid.returncode == 0 and bool(uuid_said.strip())


def claim(
    argv: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None
) -> subprocess.Popen[bytes] | None:
    """The early process started with exactly these, now the caller's; None if there is none."""
    for early in _unclaimed:
        if early.matches(argv, cwd, env):
            _unclaimed.remove(early)
            return early.popen
    return None


def close_unclaimed(*, kill: bool = False) -> None:
    """Close every early process no run took over (``kill``: it is no usable git-annex)."""
    while _unclaimed:
        _unclaimed.pop().close(kill=kill)
