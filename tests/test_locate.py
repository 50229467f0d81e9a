"""Choosing the git-annex executable and the PATH its children get."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.conftest import git
from tests.pty_helpers import pump_until, read_to_end, spawn
from tui_annex.annex.locate import (
    ENV_VAR,
    GitAnnex,
    GitAnnexNotFound,
    check_version,
    find_git_annex,
)
from tui_annex.demo_server import LocalServer


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_explicit_path_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = executable(tmp_path / "a" / "git-annex")
    monkeypatch.setenv(ENV_VAR, str(executable(tmp_path / "b" / "git-annex")))
    assert find_git_annex(chosen).executable == chosen


def test_environment_variable_wins_over_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = executable(tmp_path / "env" / "my-annex")
    monkeypatch.setenv(ENV_VAR, str(chosen))
    assert find_git_annex().executable == chosen


def test_without_path_the_one_beside_python_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    found = find_git_annex()
    assert found.executable.parent == Path(sys.executable).parent.absolute()


def test_a_missing_or_non_executable_choice_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "not-executable"
    plain.write_text("x")
    with pytest.raises(GitAnnexNotFound, match=r"--git-annex: .* is not an executable file"):
        find_git_annex(plain)
    with pytest.raises(GitAnnexNotFound):
        find_git_annex(tmp_path / "missing")


def test_children_get_the_executables_folder_first_on_path(tmp_path: Path) -> None:
    annex = GitAnnex(executable(tmp_path / "bin" / "git-annex"))
    env = annex.env({"PATH": "/usr/bin:/bin"})
    assert env["PATH"].split(os.pathsep) == [str(tmp_path / "bin"), "/usr/bin", "/bin"]
    assert annex.env(env)["PATH"] == env["PATH"]  # not added twice


def test_the_command_reports_a_bad_git_annex_option(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(tmp_path / "nope"), "-")
    assert result.returncode == 2
    assert "is not an executable file" in result.stderr


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "git-annex"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_a_git_annex_too_old_is_refused_in_one_sentence(tmp_path: Path) -> None:
    old = _script(tmp_path, 'echo "7.20190912"')
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(old), "x.txt")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tui-annex: git-annex 7.20190912 at {old} is too old; tui-annex needs 8.20200226 or newer"
    ]


def test_a_program_that_is_not_git_annex_is_refused(tmp_path: Path) -> None:
    other = _script(tmp_path, "echo nope >&2; exit 3")
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(other), "x.txt")
    assert result.returncode == 2
    assert "is not a usable git-annex (nope)" in result.stderr and "Traceback" not in result.stderr


def test_the_version_of_the_wheel_s_git_annex_is_read(git_annex: GitAnnex) -> None:
    assert check_version(git_annex)[:2].isdigit()


def test_a_git_annex_refused_after_a_large_input_began_loading_leaves_no_reader(
    tmp_path: Path,
) -> None:
    # The version is asked while the app starts; a large input is already being read by
    # then, in a reader process of its own (the stray-process fixture fails on one left).
    old = _script(tmp_path, 'echo "7.20190912"')
    big = tmp_path / "big.txt"
    big.write_text("".join(f"https://example.org/{i} f{i}.bin\n" for i in range(60_000)))
    result = run_cli(tmp_path, "--no-ui", "--git-annex", str(old), str(big))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tui-annex: git-annex 7.20190912 at {old} is too old; tui-annex needs 8.20200226 or newer"
    ]


def test_a_git_annex_that_never_answers_its_version_is_stopped_whole_when_the_run_is_refused(
    tmp_path: Path,
) -> None:
    # Refused for another reason (standard input for the app, which needs the terminal),
    # the run stops the version check it started, its children too, and does not wait
    # for them: here a wrapper script whose child never ends.
    slow = _script(tmp_path, "sleep 6017\necho 10.20240101")
    result = run_cli(tmp_path, "--git-annex", str(slow), "-", timeout=60)
    assert result.returncode == 2
    assert "the app reads keys from the terminal" in result.stderr
    assert not _processes_running("sleep 6017"), "the version check's child was left running"


def _processes_running(command: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "cmdline").read_bytes().replace(
                    b"\0", b" "
                ).strip() == command.encode():
                    found.append(int(entry.name))
    return found


@pytest.mark.pty
def test_ctrl_c_while_git_annex_tells_its_version_ends_the_run_without_a_traceback(
    tmp_path: Path,
) -> None:
    slow = _script(tmp_path, f"touch {tmp_path / 'asked'}\nsleep 6029\necho 10.20240101")
    child = spawn(tmp_path, "--no-ui", "--git-annex", str(slow), str(tmp_path / "none.txt"))
    pump_until(child, lambda: (tmp_path / "asked").exists())
    child.sendintr()
    said = read_to_end(child)
    child.close()
    assert child.exitstatus == 130, said
    assert "interrupted before the run started" in said and "Traceback" not in said
    assert not _processes_running("sleep 6029")


def test_the_wheel_s_launcher_is_passed_over_for_the_binary_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The PyPI wheel's git-annex is a Python launcher that sets MAGIC and execs the
    # binary in the git_annex package: tui-annex runs that binary itself, as launched.
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    found = find_git_annex()
    package = Path(sys.executable).parent  # the launcher's folder
    assert found.executable == package.absolute() / "git-annex"
    assert found.binary is not None and found.binary.parent.name == "git_annex"
    assert found.argv("version")[0] == str(found.binary)
    env = found.env({"PATH": "/usr/bin"})
    assert env["PATH"].split(os.pathsep) == [
        str(found.binary.parent),
        str(found.executable.parent),
        "/usr/bin",
    ]
    assert env["MAGIC"] == str(found.binary.parent / "magic.mgc")
    assert check_version(found)[:2].isdigit()


def test_a_launcher_for_another_python_environment_is_run_as_it_is(tmp_path: Path) -> None:
    launcher = tmp_path / "bin" / "git-annex"
    launcher.parent.mkdir()
    launcher.write_text(
        "#!/elsewhere/bin/python3\nimport sys\nfrom git_annex import cli\nsys.exit(cli())\n"
    )
    launcher.chmod(0o755)
    found = find_git_annex(launcher)
    assert found.binary is None
    assert found.argv("version")[0] == str(launcher)
    assert "MAGIC" not in found.env({"PATH": "/usr/bin"})


def test_a_mime_largefiles_rule_reads_the_wheel_s_magic_database(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    # The binary run directly still gets the wheel's own libmagic database, as its
    # launcher gives it: the system's (if any) would warn, or judge differently.
    git(repo, "config", "annex.largefiles", "mimeencoding=binary")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('blob', 3000)} blob.bin\n")
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    assert "magic" not in result.stderr.lower(), result.stderr
    assert os.readlink(repo / "blob.bin").startswith(".git/annex/objects/")
