"""Repository chores around the batch processes: git commands, set-up, staging, committing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .locate import GitAnnex

__all__ = ["GitError", "GitResult", "Repo", "RepoError"]


class GitError(RuntimeError):
    """A git or git-annex command failed; the message holds its stderr."""


class RepoError(RuntimeError):
    """The folder cannot be used as a git-annex repository."""


@dataclass(frozen=True)
class GitResult:
    """The outcome of one git command."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Repo:
    """A git-annex repository and the git-annex executable used on it."""

    path: Path
    git_annex: GitAnnex

    async def git(self, *args: str, input: bytes | None = None, check: bool = True) -> GitResult:
        """Run ``git ARGS`` in the repository with git-annex on PATH."""
        return await _run(["git", *args], self.path, self.git_annex, input=input, check=check)

    async def annex(self, *args: str, check: bool = True) -> GitResult:
        """Run ``git annex ARGS`` through the chosen git-annex executable."""
        return await _run(self.git_annex.argv(*args), self.path, self.git_annex, check=check)

    async def is_annex(self) -> bool:
        """Whether the folder is the top of a git repository with git-annex initialised."""
        top = await self.git("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != self.path.resolve():
            return False
        uuid = await self.git("config", "annex.uuid", check=False)
        return bool(uuid.stdout.strip())

    @classmethod
    async def open(cls, path: str | os.PathLike[str], git_annex: GitAnnex, *, create: bool) -> Repo:
        """Open the repository at ``path``; with ``create``, make it (git init + git annex init).

        Raise RepoError with a clear reason when the folder cannot be used.
        """
        folder = Path(path).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise RepoError(f"{folder} exists and is not a folder")
        if not folder.exists():
            if not create:
                raise RepoError(f"{folder} does not exist")
            folder.mkdir(parents=True)
        repo = cls(folder, git_annex)
        top = await repo.git("rev-parse", "--show-toplevel", check=False)
        if top.returncode == 0 and Path(top.stdout.strip()).resolve() != folder.resolve():
            raise RepoError(
                f"{folder} is inside the git repository {top.stdout.strip()}, not its top; "
                "give the repository's top folder"
            )
        if top.returncode != 0:
            if not create:
                raise RepoError(f"{folder} is not a git repository")
            await repo.git("init", "--quiet")
        uuid = await repo.git("config", "annex.uuid", check=False)
        if not uuid.stdout.strip():
            if not create:
                raise RepoError(f"{folder} is a git repository without git-annex (git annex init)")
            result = await repo.annex("init", check=False)
            if result.returncode != 0:
                raise RepoError(f"git annex init failed in {folder}: {result.stderr.strip()}")
        return repo

    async def stage(self, paths: Iterable[str]) -> None:
        """``git add`` files that git-annex finished but never staged (after a forced stop).

        ``annex.gitaddtoannex=false`` keeps a small file that addurl put in git
        from being turned into an annexed one.
        """
        await self._with_pathspecs(["-c", "annex.gitaddtoannex=false", "add", "--"], paths)

    async def commit(self, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly ``paths`` (nothing else the user staged); return the commit, if any."""
        staged = await self.staged_paths()
        existing = [path for path in paths if path in staged]
        if not existing:
            return None
        await self._with_pathspecs(
            ["commit", "--quiet", "--no-verify", "-m", message, "--only", "--"], existing
        )
        head = await self.git("rev-parse", "HEAD")
        return head.stdout.strip()

    async def staged_paths(self) -> set[str]:
        """Paths whose staged content differs from HEAD (all staged paths before a first commit)."""
        result = await self.git("diff", "--cached", "--name-only", "-z", "--no-renames")
        return {name for name in result.stdout.split("\0") if name}

    async def _with_pathspecs(
        self, args: list[str], paths: Iterable[str], *, check: bool = True
    ) -> GitResult:
        listed = list(paths)
        if not listed:
            return GitResult(0, "", "")
        # A pathspec file keeps 100,000 paths off the command line.
        separator = args.index("--")
        head, tail = args[:separator], args[separator + 1 :]
        data = b"\0".join(
            (":(literal)" + path).encode("utf-8", "surrogateescape") for path in listed
        )
        return await self.git(
            *head, *tail, "--pathspec-from-file=-", "--pathspec-file-nul", input=data, check=check
        )


async def _run(
    argv: list[str],
    cwd: Path,
    git_annex: GitAnnex,
    *,
    input: bytes | None = None,
    check: bool = True,
) -> GitResult:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=git_annex.env(),
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = await process.communicate(input)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    result = GitResult(
        process.returncode or 0,
        stdout.decode("utf-8", "surrogateescape"),
        stderr.decode("utf-8", "surrogateescape"),
    )
    if check and result.returncode != 0:
        raise GitError(
            f"{' '.join(argv[:3])} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result
