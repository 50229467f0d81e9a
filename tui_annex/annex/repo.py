"""Repository chores around the batch processes: git commands, set-up, staging, committing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .batch import parent_death_signal
from .locate import GitAnnex

__all__ = [
    "WITHOUT_CONTENT",
    "GitError",
    "GitResult",
    "Repo",
    "RepoError",
    "adding_options",
    "dangling_link",
    "in_real_folder",
    "lacks_content",
    "link_key",
    "plain_file_size",
]


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


_NO_WORK_TREE = (
    "{folder} is a bare repository or a git folder, where files cannot be added; "
    "give a repository with a work tree"
)


@dataclass(frozen=True)
class Repo:
    """A git-annex repository and the git-annex executable used on it."""

    path: Path
    git_annex: GitAnnex

    async def git(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> GitResult:
        """Run ``git ARGS`` in the repository with git-annex on PATH (and ``env`` added).

        Such a command is short and ends by itself if we die (with its input at its end,
        or on a broken pipe, which git's lock files are removed on): it is started
        without a parent-death signal, which lets Python spawn it with vfork, about
        3 ms sooner than a fork of this process.
        """
        return await _run(
            ["git", *args],
            self.path,
            self.git_annex,
            input=input,
            check=check,
            env=env,
            death_signal=None,
        )

    async def annex(self, *args: str, check: bool = True, input: bytes | None = None) -> GitResult:
        """Run ``git annex ARGS`` through the chosen git-annex executable."""
        return await _run(
            self.git_annex.argv(*args),
            self.path,
            self.git_annex,
            check=check,
            input=input,
            annex=True,
        )

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
        repo = cls(folder, git_annex)
        if ".git" in folder.parts or not folder.is_dir():
            await cls._refuse_git_internals(folder, git_annex)
            if not create:
                raise RepoError(f"{folder} does not exist")
            try:
                folder.mkdir(parents=True)
            except OSError as error:
                raise RepoError(f"cannot create {folder}: {error.strerror}") from error
            where = await repo.git("rev-parse", "--show-toplevel", check=False)
            top = where.stdout.strip() if where.returncode == 0 else None
            uuid = ""
        else:
            # The usual case, an existing folder: every question at once.
            where, said = await asyncio.gather(
                repo.git(
                    *("rev-parse", "--is-inside-git-dir", "--is-bare-repository"),
                    "--show-toplevel",
                    check=False,
                ),
                repo.git("config", "annex.uuid", check=False),
            )
            lines = where.stdout.splitlines()
            if "true" in lines[:2]:  # (--show-toplevel fails there)
                raise RepoError(_NO_WORK_TREE.format(folder=folder))
            top = lines[2] if where.returncode == 0 and len(lines) == 3 else None
            uuid = said.stdout.strip() if said.returncode == 0 else ""
        if top is not None and Path(top).resolve() != folder.resolve():
            raise RepoError(
                f"{folder} is inside the git repository {top}, not its top; "
                "give the repository's top folder"
            )
        if top is None:
            if not create:
                raise RepoError(f"{folder} is not a git repository")
            made = await repo.git("init", "--quiet", check=False)
            if made.returncode != 0:  # a .git file naming a folder that is gone, say
                why = made.stderr.strip().splitlines() or [f"status {made.returncode}"]
                raise RepoError(f"git init failed in {folder}: {why[-1]}")
        if not uuid:
            if not create:
                raise RepoError(f"{folder} is a git repository without git-annex (git annex init)")
            result = await repo.annex("init", check=False)
            if result.returncode != 0:
                raise RepoError(f"git annex init failed in {folder}: {result.stderr.strip()}")
        return repo

    @classmethod
    async def _refuse_git_internals(cls, folder: Path, git_annex: GitAnnex) -> None:
        """Refuse a folder in a git folder, a bare repository, or inside another work tree.

        Checked on the nearest folder that exists, before anything is created:
        ``git init`` inside ``.git`` would wreck the repository around it.
        """
        if ".git" in folder.parts:
            raise RepoError(f"{folder} is inside a .git folder; give the repository's top folder")
        existing = folder
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            return  # creating the folder fails, and says why
        probe = cls(existing, git_annex)
        where = await probe.git(
            "rev-parse", "--is-inside-git-dir", "--is-bare-repository", check=False
        )
        if where.returncode == 0 and "true" in where.stdout.split():
            raise RepoError(_NO_WORK_TREE.format(folder=folder))
        if existing == folder:
            return  # whether it is a repository's top is checked once it is opened
        top = await probe.git("rev-parse", "--show-toplevel", check=False)
        if top.returncode == 0:
            raise RepoError(
                f"{folder} would be a folder inside the git repository {top.stdout.strip()}; "
                "give that repository's top folder, or a folder outside it"
            )

    async def stage(
        self, paths: Iterable[str], addurl_options: Sequence[str] = ()
    ) -> dict[str, str]:
        """Add files git-annex finished but never staged (after a forced stop or a death);
        return the key of each one that went into the annex.

        ``git annex add`` puts each file where addurl would have: in the annex or in
        git as annex.largefiles says, unlocked if annex.addunlocked says so, and a
        dotfile in the annex as addurl does (``annex.dotfiles``). A plain ``git add``
        would put a big download whole into git. The addurl options that bear on
        adding (``--backend``, ``--no-check-gitignore``) are passed on. A path
        git-annex will not add (gone, ignored) is skipped; the caller checks the
        index afterwards.
        """
        listed = list(paths)
        if not listed:
            return {}
        data = b"".join(path.encode("utf-8", "surrogateescape") + b"\0" for path in listed)
        result = await self.annex(
            "add", "--batch", "-z", "--json", "--json-error-messages",
            "-c", "annex.dotfiles=true", *adding_options(addurl_options),
            input=data, check=False,
        )  # fmt: skip
        answers = result.stdout.split("\n")
        if result.returncode != 0 and not any(answers):
            raise GitError(f"git annex add failed ({result.returncode}): {result.stderr.strip()}")
        keys = {}
        # One answer a path, in order (an empty line for one it skipped).
        for path, answer in zip(listed, answers, strict=False):
            with contextlib.suppress(ValueError):
                record = json.loads(answer)
                if record.get("success") and isinstance(record.get("key"), str):
                    keys[path] = record["key"]
        return keys

    async def register_urls(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record that the web holds each ``(key, url)`` (what addurl records for its
        downloads); raise GitError when git-annex refuses one."""
        lines = "".join(f"{key} {url}\n" for key, url in pairs)
        if lines:
            await self.annex(
                "registerurl", "--batch", input=lines.encode("utf-8", "surrogateescape")
            )

    async def commit(self, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly ``paths`` (nothing else the user staged); return the commit, if any."""
        commit, _ours = await self.commit_paths(paths, message)
        return commit

    async def commit_paths(
        self, paths: Sequence[str], message: str
    ) -> tuple[str | None, list[str]]:
        """Commit exactly ``paths``; return the commit (if any) and the paths it holds.

        Paths whose staged content is already HEAD's are not in it. When nothing
        else is staged this is a plain ``git commit``. Otherwise the commit is
        built in a temporary index (HEAD plus our paths' staged entries), so the
        user's other staged changes stay staged and out of it; unlike ``git
        commit --only`` with a pathspec file, this stays linear in the number of
        paths. Raise GitError when git refuses (a hook, signing, a locked index).
        """
        staged = await self.staged_paths()
        ours = [path for path in paths if path in staged]
        if not ours:
            return None, []
        if staged <= set(ours):
            await self.git("commit", "--quiet", "--no-verify", "-m", message)
        else:
            await self._commit_in_temporary_index(set(ours), message)
        head = await self.git("rev-parse", "HEAD")
        return head.stdout.strip(), ours

    async def _commit_in_temporary_index(self, paths: set[str], message: str) -> None:
        head = await self.git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        parent = head.stdout.strip() if head.returncode == 0 else None
        listing = await self.git("ls-files", "--stage", "-z")
        # "mode object stage<TAB>path": the very format update-index --index-info takes.
        entries = [
            entry
            for entry in listing.stdout.split("\0")
            if entry and entry.split("\t", 1)[-1] in paths
        ]
        with tempfile.TemporaryDirectory(prefix="tui-annex-index-") as folder:
            index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
            await self.git("read-tree", *([parent] if parent else ["--empty"]), env=index)
            data = "".join(entry + "\0" for entry in entries).encode("utf-8", "surrogateescape")
            await self.git("update-index", "-z", "--index-info", input=data, env=index)
            tree = (await self.git("write-tree", env=index)).stdout.strip()
        parents = ["-p", parent] if parent else []
        # commit-tree does not read commit.gpgSign; a user who signs commits gets a signed one.
        signing = await self.git("config", "--bool", "commit.gpgsign", check=False)
        sign = ["-S"] if signing.stdout.strip() == "true" else []
        commit = (
            await self.git("commit-tree", tree, *parents, *sign, "-m", message)
        ).stdout.strip()
        await self.git(
            "update-ref",
            "-m",
            f"commit: {message.splitlines()[0] if message else ''}",
            "HEAD",
            commit,
            parent or "0" * 40,
        )

    async def lookup_key(self, path: str) -> str | None:
        """The annex key of ``path``, or None if it is not an annexed file.

        lookupkey reads the index: a file git-annex made and did not stage (its run
        was killed first) is found by its link into the object store.
        """
        result = await self.annex("lookupkey", "--", path, check=False)
        key = result.stdout.strip()
        return key if result.returncode == 0 and key else link_key(self.path, path)

    async def indexed_paths(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` are in the index (staged or committed).

        One ``git cat-file --batch-check`` over ``:0:PATH`` names: linear in the
        number of paths, where pathspecs would be matched against every entry.
        """
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return set()
        data = "".join(f":0:{path}\n" for path in wanted).encode("utf-8", "surrogateescape")
        result = await self.git("cat-file", "--batch-check=%(objecttype)", input=data)
        answers = result.stdout.split("\n")
        return {path for path, answer in zip(wanted, answers, strict=False) if answer == "blob"}

    async def indexed_paths_all(self) -> set[str]:
        """Every path in the index."""
        result = await self.git("ls-files", "-z", "--cached")
        return {name for name in result.stdout.split("\0") if name}

    async def staged_paths(self) -> set[str]:
        """Paths whose staged content differs from HEAD (all staged paths before a first commit)."""
        result = await self.git("diff", "--cached", "--name-only", "-z", "--no-renames")
        return {name for name in result.stdout.split("\0") if name}


async def _run(
    argv: list[str],
    cwd: Path,
    git_annex: GitAnnex,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    death_signal: signal.Signals | None = signal.SIGTERM,
    annex: bool = False,
) -> GitResult:
    """Run ``argv`` (git, or git-annex if ``annex``: its launcher's environment) to its end."""
    base = git_annex.annex_env() if annex else git_annex.env()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**base, **(env or {})},
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        # SIGTERM, not SIGKILL: git removes its lock files on the way out.
        preexec_fn=None if death_signal is None else parent_death_signal(death_signal),
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


def adding_options(addurl_options: Sequence[str]) -> list[str]:
    """Of addurl's options, those ``git annex add`` must get to add a file as addurl
    would have: the backend, and whether .gitignore is checked."""
    chosen: list[str] = []
    words = iter(addurl_options)
    for word in words:
        if word in ("--backend", "-b"):
            chosen += ["--backend", next(words, "")]
        elif word.startswith("--backend="):
            chosen.append(word)
        elif word.startswith("-b") and len(word) > 2:
            chosen += ["--backend", word[2:]]
        elif word in ("--no-check-gitignore", "--check-gitignore"):
            chosen.append(word)
    return chosen


#: addurl's options that add a file without downloading its content.
WITHOUT_CONTENT = frozenset({"--fast", "-F", "--relaxed"})


def lacks_content(top: Path, path: str) -> bool:
    """Whether ``path`` is an annexed file whose content is not here: a link to an object
    that is not there, or an unlocked file that is still git-annex's pointer."""
    if dangling_link(top, path):
        return True
    size = plain_file_size(top, path)
    if size is None or size > 32768:
        return False
    try:
        with open(top / path, "rb") as handle:
            head = handle.read(32768)
    except OSError:
        return False
    return head.startswith(b"/annex/objects/") and head.count(b"\n") <= 1


def in_real_folder(top: Path, path: str) -> bool:
    """Whether ``path``'s folder is a real folder of the repository (no symlinked folder
    on the way out of it)."""
    try:
        return (top / path).parent.resolve() == top.resolve() / Path(path).parent
    except OSError:
        return False


def plain_file_size(top: Path, path: str) -> int | None:
    """The size of the regular file at ``path`` if it is one, in a real folder of the
    repository."""
    try:
        info = (top / path).lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or not in_real_folder(top, path):
        return None
    return info.st_size


def dangling_link(top: Path, path: str) -> bool:
    """Whether ``path`` is a link into the annex's object store whose object is not there,
    in a real folder of the repository: what git-annex leaves when it is killed between
    making a download's link and moving the download in."""
    where = top / path
    try:
        target = os.readlink(where)
    except OSError:
        return False
    return "/annex/objects/" in target and not where.exists() and in_real_folder(top, path)


def link_key(top: Path, path: str) -> str | None:
    """The annex key an annexed file's link names (a link into the object store), if it is one."""
    link = top / path
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    if "/annex/objects/" not in target:
        return None
    return os.path.basename(target) or None
