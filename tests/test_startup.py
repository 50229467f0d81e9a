"""git-annex started while the engine is imported: taken over by the run when it is the
command the run needs, and never started where it could harm a repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import git, init_repo
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer


def logging_annex(tmp_path: Path, real: GitAnnex) -> tuple[Path, Path]:
    """The real git-annex behind a script that first writes its command to a log."""
    log = tmp_path / "annex-commands.log"
    script = tmp_path / "logged" / "git-annex"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{real.executable}" "$@"\n')
    script.chmod(0o755)
    return script, log


def commands(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def repository_state(repo: Path) -> tuple[str, str, str]:
    return (
        git(repo, "for-each-ref"),
        git(repo, "status", "--porcelain", "--ignored"),
        git(repo, "config", "--list", "--local"),
    )


def test_the_git_annex_started_with_the_command_line_is_the_one_the_run_drives(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    script, log = logging_annex(tmp_path, git_annex)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.file(f'f{i}', 500)} f{i}.bin\n" for i in range(5)))
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(script), "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stdout + result.stderr
    assert commands(log).count("addurl") == 1  # taken over: no second one was started
    assert git(repo, "ls-files").split() == [f"f{i}.bin" for i in range(5)]


def test_a_run_refused_after_git_annex_started_ends_it_with_nothing_changed(
    tmp_path: Path, repo: Path, git_annex: GitAnnex
) -> None:
    script, log = logging_annex(tmp_path, git_annex)
    urls = tmp_path / "urls.txt"
    urls.write_text("ftp://example.invalid/a a.bin\nnot a url\n")
    before = repository_state(repo)
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(script), "-C", str(repo), str(urls))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert commands(log).count("addurl") == 1  # started early, then closed unused
    assert repository_state(repo) == before
    # (the no_stray_annex_processes fixture: it did not outlive the command)


@pytest.mark.parametrize("where", ["sub", ".git"])
def test_no_git_annex_starts_early_in_a_folder_the_run_refuses(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer, where: str
) -> None:
    (repo / "sub").mkdir()
    script, log = logging_annex(tmp_path, git_annex)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} a.bin\n")
    result = run_cli(
        tmp_path, "--no-ui", "--git-annex", str(script), "-C", str(repo / where), str(urls)
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "addurl" not in commands(log)


def test_an_uninitialised_clone_is_initialised_by_the_run_before_git_annex_adds_to_it(
    tmp_path: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    # git-annex started in a clone of a git-annex repository initialises it by itself;
    # the early start waits for a repository whose git-annex is initialised.
    origin = init_repo(tmp_path / "origin", git_annex)
    git(origin, "commit", "-q", "--allow-empty", "-m", "first")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git(clone, "config", "annex.security.allowed-ip-addresses", "127.0.0.1")
    script, log = logging_annex(tmp_path, git_annex)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} a.bin\n")
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(script), "-C", str(clone), str(urls))
    assert result.returncode == 0, result.stdout + result.stderr
    said = commands(log)
    assert "init" in said and said.index("init") < said.index("addurl")
    assert git(clone, "ls-files").split() == ["a.bin"]
