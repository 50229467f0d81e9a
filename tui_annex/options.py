"""The settings of one run, shared by the command line, the headless mode and the app."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .defaults import (
    DEFAULT_GRACE,
    DEFAULT_MESSAGE,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_WAIT,
    DEFAULT_STALL_TIMEOUT,
)
from .validation import DEFAULT_SCHEMES

__all__ = ["DEFAULT_MESSAGE", "DEFAULT_STALL_TIMEOUT", "RunOptions"]


@dataclass
class RunOptions:
    """Everything a :class:`~tui_annex.job.Job` needs to know."""

    repo: Path = Path(".")
    """The repository (``-C``)."""
    inputs: tuple[str, ...] = ()
    """Input files; ``-`` is standard input."""
    input_format: str | None = None
    """``text``, ``jsonl``, ``csv`` or ``tsv``; None: by extension, else text."""
    url_column: str = "url"
    path_column: str = "path"
    metadata_columns: tuple[str, ...] = ()
    """CSV/TSV columns whose values become git-annex metadata; ``*`` for all others."""
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    addurl_options: tuple[str, ...] = ()
    git_annex: str | None = None
    schemes: frozenset[str] = DEFAULT_SCHEMES
    message: str = DEFAULT_MESSAGE
    """Commit message; ``{count}`` becomes the number of files."""
    commit: bool = True
    commit_on_failure: bool = True
    retries: int = DEFAULT_RETRIES
    """How many times a transient failure is tried again."""
    retry_wait: float = DEFAULT_RETRY_WAIT
    """Seconds before the first retry; each next one waits twice as long (jittered)."""
    """How many times a failed download is queued again automatically."""
    failures: Path | None = None
    """Where failed and unsent items are written as JSON Lines."""
    create: bool = True
    """Create the repository (git init + git annex init) when missing."""
    grace: float = DEFAULT_GRACE
    """Seconds between SIGTERM and SIGKILL in a forced stop."""
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT
    """Seconds without data after which a download counts as stalled (None: never)."""
    log_file: Path | None = None
    journal: bool = True
    """Keep the journal (in the git folder) that lets a later run resume after any death."""
    resume: str = "auto"
    """``auto``: carry over the unfinished run's items; ``resume``: the same, said to be
    wanted (no input needed); ``fresh``: set the journal aside and start over."""
    from_run: int | None = None
    """Queue the failed and unfinished items of this earlier run (from ``tui-annex history``)."""
    shard: tuple[int, int] | None = None
    """``(K, N)``: take only share K of N of the input (see :func:`tui_annex.inputs.shard_of`)."""

    def record(self) -> dict[str, object]:
        """The options worth keeping in the journal's run record."""
        return {
            "jobs": self.jobs,
            "addurl_options": list(self.addurl_options),
            "commit": self.commit,
            "message": self.message,
            "retries": self.retries,
            "input_format": self.input_format,
            "failures": None if self.failures is None else str(self.failures),
            "shard": None if self.shard is None else f"{self.shard[0]}/{self.shard[1]}",
        }
