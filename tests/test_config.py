"""The configuration file: option defaults and rebound keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import git
from tui_annex.config import ConfigError, load_config
from tui_annex.demo_server import LocalServer


def test_defaults_and_keys_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[defaults]\njobs = 3\nmessage = "Fetched {count}"\nno-commit = true\n'
        '[keys]\npause = "P"\nremove = ["x", "delete"]\n'
    )
    config = load_config(path)
    assert config.defaults == {"jobs": 3, "message": "Fetched {count}", "no_commit": True}
    assert config.keys == {"pause": "P", "remove": "x,delete"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[defaults]\njobs = 0\n", "jobs: must be at least 1"),
        ("[defaults]\njobs = 'four'\n", "jobs: 'four' has the wrong type"),
        ("[defaults]\nspeed = 3\n", "speed: unknown option"),
        ("[colours]\n", "unknown table"),
        ("[keys]\npause = ''\n", "pause: give a key name"),
        ("not toml [", "Expected"),
    ],
)
def test_a_bad_file_is_refused_with_where_and_why(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_the_command_uses_the_file_and_options_override_it(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    config = tmp_path / "tui.toml"
    config.write_text('[defaults]\nmessage = "From config: {count}"\njobs = 2\n')
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('c1', 10)} c1.bin\n")
    result = run_cli(tmp_path, "--config", str(config), "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "From config: 1"
    urls.write_text(f"{server.file('c2', 10)} c2.bin\n")
    run_cli(
        tmp_path, "--config", str(config), "--no-ui", "-m", "CLI wins", "-C", str(repo), str(urls)
    )
    assert git(repo, "log", "-1", "--format=%s").strip() == "CLI wins"


def test_a_broken_config_file_stops_the_command_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[defaults]\nwho = 1\n")
    result = run_cli(tmp_path, "--config", str(config), "--no-ui", "-")
    assert result.returncode == 2 and "who: unknown option" in result.stderr


def test_numbers_from_the_config_file_are_checked_as_on_the_command_line(tmp_path: Path) -> None:
    from tests.cli_helpers import run_cli

    config = tmp_path / "c.toml"
    config.write_text("[defaults]\nstall-timeout = -1\n")
    result = run_cli(tmp_path, "--config", str(config), "--no-ui", "x.txt")
    assert result.returncode == 2
    assert "[defaults] stall-timeout: must be a number of seconds" in result.stderr
    config.write_text('[defaults]\njobs = 100000\ntheme = "nord"\n')
    result = run_cli(tmp_path, "--config", str(config), "--no-ui", "x.txt")
    assert result.returncode == 2 and "[defaults] jobs: at most 256" in result.stderr
