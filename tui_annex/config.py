"""The configuration file: defaults for options and rebound keys.

``$TUI_ANNEX_CONFIG``, else ``config.toml`` in the user config folder
(``~/.config/tui-annex/`` on Linux). Example::

    [defaults]
    jobs = 8
    message = "Add {count} downloads"
    addurl-opts = "--relaxed"
    failures = "~/tui-annex-failures.jsonl"

    [keys]
    pause = "P"
    remove = "x,delete"

Command-line options override the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

__all__ = ["CONFIG_ENV", "Config", "ConfigError", "default_config_path", "load_config"]

CONFIG_ENV = "TUI_ANNEX_CONFIG"

#: Option names the [defaults] table may set, with the type each must have.
DEFAULT_TYPES: dict[str, type | tuple[type, ...]] = {
    "jobs": int,
    "retries": int,
    "format": str,
    "url-column": str,
    "path-column": str,
    "metadata-columns": str,
    "addurl-opts": str,
    "git-annex": str,
    "allow-scheme": list,
    "message": str,
    "no-commit": bool,
    "no-commit-on-failure": bool,
    "failures": str,
    "log-file": str,
    "grace": (int, float),
    "stall-timeout": (int, float),
    "retry-wait": (int, float),
    "no-ui": bool,
    "theme": str,
}


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Config:
    """What the configuration file says."""

    path: Path | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    """Option defaults, keyed by the option's argparse destination (``url_column``)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Action name to key(s), comma-separated as Textual takes them."""


def default_config_path() -> Path:
    """Where the configuration file is looked for."""
    chosen = os.environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return Path(user_config_dir("tui-annex", appauthor=False)) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the configuration file; a missing default file is an empty config."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    target = path if path is not None else default_config_path()
    if not target.exists():
        if explicit:
            raise ConfigError(f"{target}: no such configuration file")
        return Config()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{target}: {error}") from error
    unknown = set(data) - {"defaults", "keys"}
    if unknown:
        raise ConfigError(f"{target}: unknown table(s) {', '.join(sorted(unknown))}")
    defaults: dict[str, Any] = {}
    for name, value in dict(data.get("defaults", {})).items():
        expected = DEFAULT_TYPES.get(name)
        if expected is None:
            known = ", ".join(sorted(DEFAULT_TYPES))
            raise ConfigError(f"{target}: [defaults] {name}: unknown option (known: {known})")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{target}: [defaults] {name}: {value!r} has the wrong type")
        if name == "jobs" and isinstance(value, int) and value < 1:
            raise ConfigError(f"{target}: [defaults] jobs: must be at least 1")
        defaults[name.replace("-", "_")] = value
    keys: dict[str, str] = {}
    for action, value in dict(data.get("keys", {})).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f'{target}: [keys] {action}: give a key name, e.g. "ctrl+p"')
        keys[action] = value
    return Config(path=target, defaults=defaults, keys=keys)
