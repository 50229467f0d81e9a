"""Checks that every URL and destination path must pass before it may reach git-annex.

One bad line poisons a whole ``addurl --batch`` run (a path outside the
repository kills git's check-attr helper; an empty path or a newline is a fatal
parse error), so nothing is written until it has passed these checks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["DEFAULT_SCHEMES", "ValidationError", "check_url", "normalize_path"]

DEFAULT_SCHEMES = frozenset({"http", "https"})

#: Longest file name most file systems accept, in bytes.
MAX_NAME_BYTES = 255


class ValidationError(ValueError):
    """An item was rejected before sending; ``str(error)`` is the reason."""


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}


def check_url(url: str, schemes: Iterable[str] = DEFAULT_SCHEMES) -> str:
    """Return ``url`` if git-annex can take it on a batch line, else raise ValidationError."""
    if not url:
        raise ValidationError("the URL is empty")
    for char in url:
        if char.isspace():
            raise ValidationError("the URL contains whitespace")
        if _is_control(char):
            raise ValidationError(f"the URL contains a control character (U+{ord(char):04X})")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = {s.lower() for s in schemes}
    if not scheme:
        raise ValidationError(f"the URL has no scheme (expected {_or_list(allowed)})")
    if scheme not in allowed:
        raise ValidationError(
            f"the URL scheme {scheme!r} is not allowed (allowed: {_or_list(allowed)})"
        )
    if scheme in {"http", "https", "ftp"} and not parts.hostname:
        raise ValidationError("the URL has no host")
    return url


def _or_list(schemes: Iterable[str]) -> str:
    return ", ".join(sorted(schemes))


def normalize_path(path: str) -> str:
    """Return ``path`` in the form it is sent in (``./`` and repeated slashes removed).

    Raise ValidationError when git-annex must not get it: empty, with a newline,
    CR or NUL, absolute, with a ``..`` component, into ``.git``, ending in a
    slash, or with a name too long for the file system.
    """
    if path == "":
        raise ValidationError("the path is empty")
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL byte")):
        if char in path:
            raise ValidationError(f"the path contains {name}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        raise ValidationError("the path is absolute; give a path inside the repository")
    if path.endswith("/"):
        raise ValidationError("the path ends with a slash; name a file, not a folder")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        raise ValidationError("the path names the repository itself, not a file")
    for part in parts:
        if part == "..":
            raise ValidationError("the path contains '..'; it must stay inside the repository")
        if part.lower() == ".git":
            raise ValidationError("the path goes into .git, where files are not added")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise ValidationError(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
    return "/".join(parts)
