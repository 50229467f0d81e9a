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
    launchers = Path(sys.executable).parent.absolute()
    assert found.executable == launchers / "git-annex"
    assert found.binary is not None and found.binary.parent.name == "git_annex"
    assert found.argv("version")[0] == str(found.binary)
    annex_env = found.annex_env({"PATH": "/usr/bin"})
    assert annex_env["MAGIC"] == str(found.binary.parent / "magic.mgc")
    # git and what git runs (its filters run git-annex by name) get the launcher, as before.
    assert annex_env["PATH"].split(os.pathsep) == [str(launchers), "/usr/bin"]
    assert check_version(found)[:2].isdigit()


def _launcher(folder: Path, body: str, name: str = "git-annex") -> Path:
    """A launcher script in ``folder`` whose interpreter is a python in that same folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "python").symlink_to(sys.executable)
    launcher = folder / name
    launcher.write_text(f"#!{folder / 'python'}\n{body}")
    launcher.chmod(0o755)
    return launcher


PIP_LAUNCHER = Path(sys.executable).parent.joinpath("git-annex").read_text().partition("\n")[2]


def test_only_an_installer_s_own_launcher_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A launcher of this environment that does anything more than the installer's
    # (here: logs each run) is run as it is, and so is one for another role.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    standard = _launcher(tmp_path / "bin", PIP_LAUNCHER)
    assert find_git_annex(standard).binary is not None, "the installer's own: the binary"
    logging = tmp_path / "other"
    monkeypatch.setattr(sys, "executable", str(logging / "python"))
    extra = PIP_LAUNCHER.replace("import sys\n", "import sys\nopen('/tmp/x', 'a')\n", 1)
    assert find_git_annex(_launcher(logging, extra)).binary is None
    shell = tmp_path / "shell"
    monkeypatch.setattr(sys, "executable", str(shell / "python"))
    assert find_git_annex(_launcher(shell, PIP_LAUNCHER, "git-annex-shell")).binary is None


def test_a_git_annex_package_in_the_current_folder_is_not_taken_for_the_wheel_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``python -m tui_annex`` puts the current folder first on the import path: a
    # git_annex folder there, made to look like the wheel, must not be what runs.
    evil = tmp_path / "git_annex"
    evil.mkdir()
    (evil / "__init__.py").write_text(
        "os.execv(exe, sys.argv)\nos.environ['MAGIC'] = embedded_magic\n"
    )
    (evil / "git-annex").write_text("#!/bin/sh\necho 99.0\n")
    (evil / "git-annex").chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    found = find_git_annex()
    assert found.binary is not None and found.binary.parent != evil


def test_a_launcher_for_another_python_environment_is_run_as_it_is(tmp_path: Path) -> None:
    launcher = tmp_path / "bin" / "git-annex"
    launcher.parent.mkdir()
    launcher.write_text(f"#!/elsewhere/bin/python3\n{PIP_LAUNCHER}")
    launcher.chmod(0o755)
    found = find_git_annex(launcher)
    assert found.binary is None
    assert found.argv("version")[0] == str(launcher)
    assert "MAGIC" not in found.annex_env({"PATH": "/usr/bin"})


def test_git_and_its_hooks_get_no_magic_database_from_the_run(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    # The launcher sets MAGIC for git-annex and its children alone: the wheel's database
    # is of a format the system's libmagic (the ``file`` command) cannot read.
    seen = repo / ".git" / "hook-env.txt"
    hook = repo / ".git" / "hooks" / "post-commit"
    hook.write_text(f'#!/bin/sh\necho "MAGIC=${{MAGIC:-none}}" > "{seen}"\n')
    hook.chmod(0o755)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('h', 100)} h.bin\n")
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    assert seen.read_text().strip() == "MAGIC=none"


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
