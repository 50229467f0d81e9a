"""Checks that every URL and destination path must pass before it may reach git-annex.

One bad line poisons a whole ``addurl --batch`` run (a path outside the
repository kills git's check-attr helper; an empty path or a newline is a fatal
parse error), so nothing is written until it has passed these checks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import idna

__all__ = [
    "DEFAULT_SCHEMES",
    "SCHEME",
    "ValidationError",
    "all_plain",
    "check_field_name",
    "check_metadata",
    "check_metadata_value",
    "check_url",
    "derive_path",
    "normalize_path",
]

DEFAULT_SCHEMES = frozenset({"http", "https"})

#: Characters that reorder displayed text (Trojan Source): refused in paths.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

#: Longest file name most file systems accept, in bytes.
MAX_NAME_BYTES = 255


class ValidationError(ValueError):
    """An item was rejected before sending; ``str(error)`` is the reason."""


#: ASCII whitespace and control characters: a URL or path without any, and all ASCII,
#: skips the per-character Unicode checks (the common case, ~10x faster at 100,000 items).
_ASCII_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


#: What a URL scheme is (RFC 3986): a letter, then letters, digits, ``+``, ``-`` or ``.``.
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}


def _check_unicode(text: str, what: str) -> None:
    """Lone surrogates (from JSON escapes) cannot be encoded for git-annex."""
    if any(unicodedata.category(char) == "Cs" for char in text):
        raise ValidationError(f"the {what} is not valid Unicode (a lone surrogate)")


def check_url(url: str, schemes: Iterable[str] = DEFAULT_SCHEMES) -> str:
    """Return ``url`` if git-annex can take it on a batch line, else raise ValidationError."""
    allowed = schemes if isinstance(schemes, frozenset) else frozenset(schemes)
    plain = _plain_url(allowed).fullmatch(url)
    if plain is not None and (plain.group(1) is None or int(plain.group(1)) <= 65535):
        return url
    return _check_url_fully(url, schemes)


_NO_SCHEME = "(?!)"  # matches nothing: with no scheme to name, every URL takes the full check


def _scheme_names(schemes: frozenset[str]) -> list[str]:
    """The allowed schemes a fast pattern may name: lower case, real scheme names only."""
    return [name for name in sorted(_lowered_set(schemes)) if SCHEME.fullmatch(name)]


@functools.lru_cache(maxsize=16)
def _plain_url(schemes: frozenset[str]) -> re.Pattern[str]:
    """The common URL in one match: an allowed scheme, a plain host name or IPv4 address,
    a short port, no user part, and the rest printable ASCII without blanks. Anything
    else takes the full check."""
    names = "|".join(re.escape(name) for name in _scheme_names(schemes)) or _NO_SCHEME
    return re.compile(rf"(?ai:{names})://[A-Za-z0-9.-]+(?::([0-9]{{1,5}}))?(?:[/?#][!-~]*)?")


@functools.lru_cache(maxsize=16)
def _plain_urls(schemes: frozenset[str]) -> re.Pattern[str]:
    """Plain URLs (as :func:`_plain_url`, with ports of at most 4 digits, all valid) on
    lines of their own. The schemes' cases are spelt out: a pattern that ignores case
    matches half as fast."""
    either = "|".join(
        "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)
        for name in _scheme_names(schemes)
    )
    one = rf"(?:{either or _NO_SCHEME})://[A-Za-z0-9.-]+(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?"
    return re.compile(f"{one}(?:\n{one})*")


#: What no path in its sent form holds, on lines of their own (see :func:`all_plain`).
_IRREGULAR_IN_PATHS = ("//", "/./", "/../", "\n/", "\n:", "\n./", "\n../", "/\n", "/.\n", "/..\n")
_ASCII_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def all_plain(urls: list[str], paths: list[str], schemes: Iterable[str]) -> bool:
    """Whether :func:`check_url` passes every URL and :func:`normalize_path` every path
    unchanged, through their common case; checked in a few passes over all of them
    joined. False says nothing of a single one: check them one by one."""
    if not urls or len(urls) != len(paths):
        return False
    allowed = schemes if isinstance(schemes, frozenset) else frozenset(schemes)
    joined_urls = "\n".join(urls)
    joined = "\n".join(paths)
    return (
        joined_urls.count("\n") == len(urls) - 1  # no URL holds a newline of its own
        and joined.count("\n") == len(paths) - 1
        and _plain_urls(allowed).fullmatch(joined_urls) is not None
        and joined.isascii()
        and _ASCII_CONTROL_BUT_NEWLINE.search(joined) is None
        and "git" not in joined.lower()
        and max(map(len, paths)) <= MAX_NAME_BYTES
        and not joined.startswith(("/", ":", "./", "../"))
        and not joined.endswith(("/", "/.", "/.."))
        and not any(irregular in joined for irregular in _IRREGULAR_IN_PATHS)
        and "" not in paths
        and "." not in paths
        and ".." not in paths
    )


def _check_url_fully(url: str, schemes: Iterable[str] = DEFAULT_SCHEMES) -> str:
    if not url:
        raise ValidationError("the URL is empty")
    if not url.isascii() or _ASCII_SPACE_OR_CONTROL.search(url):
        _check_unicode(url, "URL")
        for char in url:
            if char.isspace():
                raise ValidationError("the URL contains whitespace")
            if _is_control(char):
                raise ValidationError(f"the URL contains a control character (U+{ord(char):04X})")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        raise ValidationError(f"the URL cannot be parsed ({error})") from error
    scheme = parts.scheme.lower()
    allowed = _lowered(schemes)
    if not scheme:
        raise ValidationError(f"the URL has no scheme (expected {_or_list(allowed)})")
    if scheme not in allowed:
        raise ValidationError(
            f"the URL scheme {scheme!r} is not allowed (allowed: {_or_list(allowed)})"
        )
    if scheme in {"http", "https", "ftp"} and not host:
        raise ValidationError("the URL has no host")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as error:
        raise ValidationError("the URL's port is not a number from 0 to 65535") from error
    if host and not host.isascii():
        return _ascii_host(url, parts.netloc, host)
    return url


def _lowered(schemes: Iterable[str]) -> frozenset[str]:
    if isinstance(schemes, frozenset):
        return _lowered_set(schemes)
    return frozenset(s.lower() for s in schemes)


@functools.lru_cache(maxsize=16)
def _lowered_set(schemes: frozenset[str]) -> frozenset[str]:
    return frozenset(s.lower() for s in schemes)


def _ascii_host(url: str, netloc: str, host: str) -> str:
    """``url`` with an internationalized host name in its ASCII form (``xn--…``, UTS 46).

    git-annex percent-encodes such a host, which no resolver knows, so every
    download of it would fail. IDNA 2008 keeps ``ß`` and ``ς`` (IDNA 2003 would
    turn ``faß.de`` into ``fass.de``, another domain).
    """
    try:
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as error:
        raise ValidationError(
            f"the host name {host!r} cannot be written for DNS ({error})"
        ) from error
    userinfo, at, hostport = netloc.rpartition("@")
    _name, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    start = url.index(netloc)
    return url[:start] + userinfo + at + ascii_host + colon + port + url[start + len(netloc) :]


def _or_list(schemes: Iterable[str]) -> str:
    return ", ".join(sorted(schemes))


def normalize_path(path: str) -> str:
    """Return ``path`` in the form it is sent in (``./`` and repeated slashes removed).

    Raise ValidationError when git-annex must not get it: empty, with a newline,
    CR or NUL, absolute, with a ``..`` component, into ``.git``, ending in a
    slash, or with a name too long for the file system.
    """
    if (
        path.isascii()
        and not _ASCII_CONTROL.search(path)
        and path
        and not path.startswith(("/", ":", "./", "../"))
        and not path.endswith(("/", "/.", "/.."))
        and "//" not in path
        and "/./" not in path
        and "/../" not in path
        and path not in (".", "..")
        and "git" not in path.lower()
        and len(path) <= MAX_NAME_BYTES
    ):
        # The common path (plain ASCII, already in its sent form, no name near .git,
        # too short for a name over the limit): every check of the full rule passes.
        return path
    return _normalize_fully(path)


def _normalize_fully(path: str) -> str:
    """Return ``path`` in the form it is sent in (``./`` and repeated slashes removed).

    Raise ValidationError when git-annex must not get it: empty, with a newline,
    CR or NUL, absolute, with a ``..`` component, into ``.git``, ending in a
    slash, or with a name too long for the file system.
    """
    if path == "":
        raise ValidationError("the path is empty")
    plain = path.isascii()
    if not plain or _ASCII_CONTROL.search(path):
        _check_unicode(path, "path")
        for char, name in (
            ("\n", "a newline"),
            ("\r", "a carriage return"),
            ("\0", "a NUL byte"),
        ):
            if char in path:
                raise ValidationError(f"the path contains {name}")
        for char in path:
            if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
                # Shown raw, an ESC or a bidi override rewrites the user's terminal.
                raise ValidationError(f"the path contains a control character (U+{ord(char):04X})")
    if path.startswith("/"):
        raise ValidationError("the path is absolute; give a path inside the repository")
    if path.endswith("/"):
        raise ValidationError("the path ends with a slash; name a file, not a folder")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        raise ValidationError("the path names the repository itself, not a file")
    if parts[0].startswith(":"):
        # git reads a leading colon as pathspec magic; its helpers then fail for every item.
        raise ValidationError("the path starts with ':', which git takes for pathspec magic")
    # Every spelling of .git git refuses holds "git" (ASCII) or is not ASCII.
    may_be_git = not plain or "git" in path.lower()
    for part in parts:
        if part == "..":
            raise ValidationError("the path contains '..'; it must stay inside the repository")
        if may_be_git:
            if part.lower() == ".git":
                raise ValidationError("the path goes into .git, where files are not added")
            refused = _git_refused_name(part)
            if refused:
                raise ValidationError(f"git refuses to track the name {part!r} ({refused})")
        size = len(part) if plain else len(part.encode("utf-8", "surrogateescape"))
        if size > MAX_NAME_BYTES:
            raise ValidationError(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
    return "/".join(parts)


#: Code points HFS+ ignores in names, so ``.g\u200cit`` is ``.git`` to it (and to git there).
_HFS_IGNORED = dict.fromkeys(
    [*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)


def _git_refused_name(name: str) -> str | None:
    """Why git (``core.protectNTFS``, ``core.protectHFS``) refuses a path component, or None.

    git answers ``invalid path`` for these and stages nothing, so git-annex's
    "added" would be a lie: ``.git`` with trailing dots or spaces, ``git~1``
    (the NTFS short name of ``.git``), ``.git:stream``, backslash-separated
    ``.git``, and ``.git`` spelt with characters HFS+ ignores.
    """
    for piece in name.split("\\"):
        folded = piece.lower().translate(_HFS_IGNORED)
        if folded.rstrip(". ") == ".git" or folded.rstrip(". ") == "git~1":
            return "another spelling of .git on Windows or macOS"
        if folded.startswith(".git:") or folded.rstrip(". ").startswith(".git:"):
            return "an NTFS stream of .git"
    return None


def check_field_name(name: str) -> str:
    """Return ``name`` if git-annex takes it as a metadata field, else raise ValidationError.

    git-annex's rule: a letter or digit first, then letters, digits, ``_``,
    ``-`` or ``.``. One illegal name is a fatal parse error for the whole
    metadata batch, so it is checked here.
    """
    if not name:
        raise ValidationError("a metadata field name is empty")
    if not name[0].isalnum() or not all(c.isalnum() or c in "_-." for c in name[1:]):
        raise ValidationError(
            f"illegal metadata field name {name!r} "
            "(a letter or digit first, then letters, digits, '_', '-' or '.')"
        )
    if name == "lastchanged" or name.endswith("-lastchanged"):
        raise ValidationError(f"metadata field {name!r} is kept by git-annex itself")
    return name


def check_metadata_value(value: str) -> str:
    """Return ``value`` if it can be encoded for git-annex, else raise ValidationError."""
    _check_unicode(value, "metadata value")
    return value


def derive_path(url: str) -> str:
    """A file name for ``url``: its last path segment, decoded and made safe.

    Falls back to the host name when the URL has no usable last segment (and to
    ``download`` when it cannot even be parsed; the URL's own check says why).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "download"
    segments = [segment for segment in parts.path.split("/") if segment]
    name = unquote(segments[-1]) if segments else ""
    name = "".join(
        "_" if char in "/\\" or unicodedata.category(char).startswith("C") else char
        for char in name
    ).strip()
    name = name.lstrip(":")  # a leading colon is pathspec magic to git
    if name in ("", ".", "..") or name.lower() == ".git":
        name = (host or "download").strip(".") or "download"
    # "surrogatepass": a lone surrogate (JSON can spell one) must not end the input here;
    # the path's own check refuses it.
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) < 16 else ""
        room = MAX_NAME_BYTES - len(keep.encode("utf-8", "surrogatepass")) - (1 if keep else 0)
        head = (stem if keep else name).encode("utf-8", "surrogatepass")[:room]
        name = head.decode("utf-8", "ignore") + ("." + keep if keep else "")
    return name


def check_metadata(metadata: Any) -> dict[str, list[str]]:
    """Validate a ``{field: [values]}`` mapping (a single string value is accepted too).

    git-annex rejects the whole metadata batch on one illegal field name, so
    names and values are checked here (ValidationError with the reason).
    """
    if not isinstance(metadata, dict):
        raise ValidationError("'metadata' must be an object of field: [values]")
    checked: dict[str, list[str]] = {}
    folded: dict[str, str] = {}
    for name, values in metadata.items():
        check_field_name(str(name))
        twin = folded.setdefault(str(name).casefold(), str(name))
        if twin != name:
            raise ValidationError(
                f"metadata fields {twin!r} and {name!r} are one field to git-annex "
                "(names are not case-sensitive)"
            )
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValidationError(f"metadata field {name!r} must be a string or a list of strings")
        checked[name] = [check_metadata_value(v) for v in values]
    return checked
