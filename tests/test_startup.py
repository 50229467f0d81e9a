"""git annex addurl starts only for a run that will use it: even an idle git-annex changes
a repository as it starts (it merges the git-annex branches of remotes, upgrades an old
repository, commits what its journal holds, initialises an uninitialised clone)."""

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


def test_a_run_refused_for_its_input_leaves_the_git_annex_branches_unmerged(
    tmp_path: Path, git_annex: GitAnnex
) -> None:
    origin = init_repo(tmp_path / "origin", git_annex)
    git(origin, "commit", "-q", "--allow-empty", "-m", "first")
    clone = init_repo_clone(tmp_path, origin, git_annex)
    git(origin, "annex", "describe", "here", "the origin, described later")
    git(clone, "fetch", "-q", "origin")  # origin/git-annex is now ahead of git-annex
    script, log = logging_annex(tmp_path, git_annex)
    urls = tmp_path / "urls.txt"
    urls.write_text("ftp://example.invalid/a a.bin\nnot a url\n")
    before = repository_state(clone)
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(script), "-C", str(clone), str(urls))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "addurl" not in commands(log)
    assert repository_state(clone) == before


def init_repo_clone(tmp_path: Path, origin: Path, git_annex: GitAnnex) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git(clone, "annex", "init", "-q", annex=git_annex)
    git(clone, "config", "annex.security.allowed-ip-addresses", "127.0.0.1")
    return clone


@pytest.mark.parametrize("where", ["sub", ".git"])
def test_no_git_annex_addurl_starts_in_a_folder_the_run_refuses(
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
    # the run initialises it first, with git annex init (as README says).
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
