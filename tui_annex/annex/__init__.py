"""Everything that talks to git-annex: batch processes, the addurl driver, repository chores."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .addurl import AddurlDriver
    from .batch import BatchInputClosed, BatchProcess, OutputLine
    from .locate import GitAnnex, GitAnnexNotFound, find_git_annex
    from .repo import GitError, Repo, RepoError

__all__ = [
    "AddurlDriver",
    "BatchInputClosed",
    "BatchProcess",
    "GitAnnex",
    "GitAnnexNotFound",
    "GitError",
    "OutputLine",
    "Repo",
    "RepoError",
    "find_git_annex",
]

# Imported when first used: finding git-annex and asking its version need no asyncio.
_WHERE = {
    "AddurlDriver": "addurl",
    "BatchInputClosed": "batch",
    "BatchProcess": "batch",
    "OutputLine": "batch",
    "GitAnnex": "locate",
    "GitAnnexNotFound": "locate",
    "find_git_annex": "locate",
    "GitError": "repo",
    "Repo": "repo",
    "RepoError": "repo",
}

if not TYPE_CHECKING:  # type checkers see the imports above
    __getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
