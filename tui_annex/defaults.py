"""Every default of a run and every exit status of tui-annex, defined once."""

from __future__ import annotations

import signal

__all__ = [
    "DEFAULT_AHEAD",
    "DEFAULT_GRACE",
    "DEFAULT_MESSAGE",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_WAIT",
    "DEFAULT_STALL_TIMEOUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT_CLOSED",
    "EXIT_USAGE",
]

#: Seconds of git-annex's answers its input holds beyond its jobs (the lookahead in time).
DEFAULT_AHEAD = 0.5

#: Seconds between SIGTERM and SIGKILL when git-annex is stopped by force.
DEFAULT_GRACE = 5.0

#: Seconds without data before a download counts as stalled (aria2 gives up after 60 s too).
DEFAULT_STALL_TIMEOUT = 60.0

#: Retries of a transient failure, and the pause before the first (it doubles each time).
DEFAULT_RETRIES = 3
DEFAULT_RETRY_WAIT = 2.0

#: The commit message; ``{count}`` becomes the number of files.
DEFAULT_MESSAGE = "Add {count} file(s) with tui-annex"

#: Everything added (or added before).
EXIT_OK = 0
#: Something failed, was refused or never sent; metadata or the commit failed.
EXIT_FAILED = 1
#: Bad usage, no valid input, or an environment the run cannot start in.
EXIT_USAGE = 2
#: Stopped by the user (Ctrl-C, SIGTERM, SIGHUP).
EXIT_INTERRUPTED = 130
#: The reader of the output went away (as a program killed by SIGPIPE).
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE

#: The input formats (``--format``).
FORMATS = ("text", "jsonl", "csv", "tsv")
