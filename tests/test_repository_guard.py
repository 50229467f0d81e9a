"""-C never harms a repository: a git folder, a bare repository or a folder inside another
work tree is refused before anything is created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import git
from tui_annex.demo_server import LocalServer


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its content (symlinks by their target)."""
    found = {}
    for entry in sorted(folder.rglob("*")):
        if entry.is_symlink():
            found[str(entry)] = str(entry.readlink()).encode()
        elif entry.is_file():
            found[str(entry)] = entry.read_bytes()
    return found


@pytest.mark.parametrize("where", [".git", ".git/refs", ".git/new-folder", "sub/new"])
def test_a_folder_in_or_below_a_repository_is_refused_and_nothing_is_created(
    tmp_path: Path, repo: Path, server: LocalServer, where: str
) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "kept.txt").write_text("the user's work\n")
    git(repo, "add", "sub/kept.txt")
    git(repo, "commit", "-qm", "the user's commit")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} packed-refs\n")
    before = snapshot(repo)
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo / where), str(urls))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    said = result.stdout + result.stderr
    assert ".git folder" in said or "inside the git repository" in said or "bare" in said
    assert snapshot(repo) == before
    assert not (repo / where).exists() or where in (".git", ".git/refs")
    assert server.requests == []
    git(repo, "log", "--oneline", "-1")  # the repository is still whole


def test_a_bare_repository_is_refused(tmp_path: Path, server: LocalServer) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "--bare", "-q", str(bare)], check=True)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} a.bin\n")
    before = snapshot(bare)
    result = run_cli(tmp_path, "--no-ui", "-C", str(bare), str(urls))
    assert result.returncode == 2
    assert "bare repository" in result.stdout + result.stderr
    assert snapshot(bare) == before and not (bare / ".git").exists()


def test_an_uncreatable_repository_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--no-ui", "-C", "/dev/null/sub", "-")
    assert result.returncode == 2
    assert "cannot create /dev/null/sub" in result.stderr


def test_a_git_dir_exported_by_the_shell_never_sends_the_commit_elsewhere(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    from tests.cli_helpers import cli_env

    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('g', 100)} g.bin\n")
    env = {**cli_env(tmp_path), "GIT_DIR": str(other / ".git"), "GIT_WORK_TREE": str(other)}
    result = subprocess.run(
        [sys.executable, "-m", "tui_annex", "--no-ui", "-C", str(repo), str(urls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "g.bin" in git(repo, "ls-files").split()
    assert (
        subprocess.run(["git", "-C", str(other), "log"], capture_output=True, text=True).returncode
        != 0
    )  # nothing was committed there


def test_a_folder_whose_git_file_names_a_missing_git_folder_is_refused_in_one_sentence(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")
    result = run_cli(tmp_path, "--no-ui", "-C", str(broken), "-", stdin="")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"git init failed in {broken}: fatal: not a git repository" in result.stderr
    assert (broken / ".git").read_text() == f"gitdir: {tmp_path / 'gone'}\n"
