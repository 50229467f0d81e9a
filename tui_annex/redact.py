"""Secrets stay secret: the password in a URL's user info is masked wherever text is shown.

The URL given to git-annex keeps it; the screen, the log file, ``--json`` and
the reports get ``user:***@host``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "redact", "redact_fields"]

MASK = "***"

#: ``scheme://user:password@`` (and ``scheme://token@``) anywhere in a text; the user
#: info runs to the last ``@`` of the authority, as URL parsers read it (a password may
#: hold an ``@``).
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/?#\s]+)@")


def _mask(match: re.Match[str]) -> str:
    user, colon, _password = match["info"].partition(":")
    # A lone user name may be a token (https://TOKEN@host): mask it too.
    return f"{match['scheme']}{user}:{MASK}@" if colon else f"{match['scheme']}{MASK}@"


def redact(text: str) -> str:
    """``text`` with every URL's user info masked."""
    if "@" not in text:
        return text
    return _USERINFO.sub(_mask, text)


def redact_fields(value: Any) -> Any:
    """A JSON-ready value with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_fields(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_fields(item) for item in value]
    return value
