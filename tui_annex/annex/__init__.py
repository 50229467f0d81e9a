"""Everything that talks to git-annex: batch processes, the addurl driver, repository chores."""

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
