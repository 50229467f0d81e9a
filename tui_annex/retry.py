"""Which failures are worth another try, and how long to wait before it.

git-annex retries nothing on its own in batch mode unless told to, and when
told it retries a 404 like a 503. tui-annex reads the reason git-annex gives:
a server error, a refused or dropped connection, a timeout or a stall is
transient and tried again after a growing, jittered pause; a missing or
forbidden file, a URL the repository's security settings refuse, or a file
that is already there is permanent and is not.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .defaults import DEFAULT_RETRY_WAIT

__all__ = ["BACKOFF_CAP", "backoff", "is_transient"]

#: The longest pause before a retry (seconds).
BACKOFF_CAP = 120.0

#: HTTP reason phrases (``download failed: <phrase>``) that another try will not change.
_PERMANENT_PHRASES = frozenset(
    phrase.lower()
    for phrase in (
        "Bad Request",
        "Unauthorized",
        "Payment Required",
        "Forbidden",
        "Not Found",
        "Method Not Allowed",
        "Not Acceptable",
        "Proxy Authentication Required",
        "Conflict",
        "Gone",
        "Length Required",
        "Precondition Failed",
        "Payload Too Large",
        "Request Entity Too Large",
        "URI Too Long",
        "Request-URI Too Long",
        "Unsupported Media Type",
        "Range Not Satisfiable",
        "Requested Range Not Satisfiable",
        "Expectation Failed",
        "I'm a teapot",
        "Misdirected Request",
        "Unprocessable Entity",
        "Unprocessable Content",
        "Locked",
        "Failed Dependency",
        "Upgrade Required",
        "Precondition Required",
        "Request Header Fields Too Large",
        "Unavailable For Legal Reasons",
        "Not Implemented",
        "HTTP Version Not Supported",
    )
)

#: Other words of git-annex's that mean another try is pointless.
_PERMANENT_WORDS = (
    "annex.security.allowed-ip-addresses",  # the repository refuses the address
    "does not allow accessing address",
    "credential",  # a 401: git asked for a password nobody can type here
    "name or service not known",  # no such host (a typo); a DNS hiccup says "temporary"
    "already exists; not overwriting",
    "not enough free space",  # the disk stays full until someone frees it
    "does not have expected file size",
    "unsupported url",
    "not a valid url",
    "invalid url",
    "ignored by",  # a path .gitignore excludes
    "gitignore",
    "is a symlink",
    "is beyond a symbolic link",
    "git refuses",
    "git did not stage it",
    "cancelled by the user",  # x: the user chose; r queues it again
)


def is_transient(errors: Sequence[str]) -> bool:
    """Whether a failure with these messages may go away by itself (retry it)."""
    text = " ".join(errors).lower()
    if not text:
        return True  # git-annex gave no reason: worth one more look
    for message in errors:
        lowered = message.lower()
        if "download failed:" in lowered:
            phrase = lowered.split("download failed:", 1)[1].strip().rstrip(".")
            # Servers word their reasons freely ("File not found"): the gist is enough.
            if phrase in _PERMANENT_PHRASES or "not found" in phrase or "forbidden" in phrase:
                return False
    return not any(word in text for word in _PERMANENT_WORDS)


def backoff(
    attempt: int,
    *,
    base: float = DEFAULT_RETRY_WAIT,
    cap: float = BACKOFF_CAP,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): doubling, jittered ±50%."""
    delay = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))
    return float(delay * (rng or random).uniform(0.5, 1.5))
