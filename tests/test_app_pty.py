"""The app in a real pseudo-terminal: it draws, ctrl+c twice (or SIGTERM) stops it, the
terminal is restored, the report is printed after, and no git-annex is left behind.

Run as a module it is the launcher: ``python -m tests.test_app_pty REPO URLS``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.conftest import git
from tests.helpers import head_files, wait_until
from tui_annex.demo_server import LocalServer
from tui_annex.options import RunOptions

ROOT = Path(__file__).parent.parent
ALT_SCREEN_OFF = "\x1b[?1049l"


def spawn(tmp_path: Path, repo: Path, server: LocalServer) -> pexpect.spawn:
    """Start the launcher in a 35x120 pty over two stalled URLs and a few quick ones."""
    urls = tmp_path / "urls.txt"
    lines = [f"{server.stall(f's{n}', after=2000)} stall/{n}.bin" for n in range(2)]
    lines += [f"{server.file(f'f{n}', 1000)} quick/{n}.bin" for n in range(3)]
    urls.write_text("\n".join(lines) + "\n")
    return spawn_python(["-m", "tests.test_app_pty", str(repo), str(urls)], cwd=ROOT)


def spawn_python(
    args: list[str], *, cwd: Path, program: str = sys.executable, env: dict[str, str] | None = None
) -> pexpect.spawn:
    """``python ARGS`` (or ``program ARGS``) in a 35x120 pty with a plain terminal
    environment, plus ``env``."""
    return pexpect.spawn(
        program,
        args,
        cwd=str(cwd),
        dimensions=(35, 120),
        env={
            "TERM": "xterm-256color",
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            **(env or {}),
        },
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
    )


@pytest.mark.pty
def test_ctrl_c_twice_stops_restores_the_terminal_and_prints_the_report(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect(r"[1-9] (downloading|waiting)")
    child.send("\x03")
    child.expect("DRAINING")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    output = child.before
    assert ALT_SCREEN_OFF in output, "the alternate screen was left"
    after = output.rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Stopped:" in after and "interrupted (outcome unknown)" in after
    assert "stall/0.bin" in after


@pytest.mark.pty
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_forces_a_stop_and_restores_the_terminal(
    tmp_path: Path, repo: Path, server: LocalServer, signum: int
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect(r"[1-9] (downloading|waiting)")
    child.kill(signum)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130, "a signal is a forced stop, as in --no-ui"
    output = child.before
    assert ALT_SCREEN_OFF in output
    assert "Stopped:" in output.rsplit(ALT_SCREEN_OFF, 1)[1]


@pytest.mark.pty
def test_the_command_opens_the_app_in_a_terminal(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{server.file('quick', 100)} quick.bin\n{server.stall('held', after=1000)} held.bin\n"
    )
    child = spawn_python(["-m", "tui_annex", "-C", str(repo), "-J", "1", str(urls)], cwd=tmp_path)
    child.expect("RUNNING")
    child.expect("1 done")
    child.send("\x11")  # ctrl+q: stop gracefully, then quit; the stall needs a second one
    child.expect("DRAINING")
    child.send("\x11")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    after = child.before.rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Stopped:" in after and "held.bin" in after
    head = git(repo, "rev-parse", "HEAD").strip()
    assert f"committed: {head[:12]}" in after
    assert git(repo, "ls-tree", "--name-only", "HEAD").split() == ["quick.bin"]


@pytest.mark.pty
def test_demo_runs_and_removes_its_temporary_folder(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tests.test_app_pty", "demo"],
        cwd=str(ROOT),
        dimensions=(35, 120),
        env={
            "TERM": "xterm-256color",
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "TMPDIR": str(temp),
        },
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
    )
    child.expect("RUNNING")
    child.expect(r"[1-9][0-9]* done")
    assert list(temp.glob("tui-annex-demo-*")), "the demo works in a temporary folder"
    child.send("\x03")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Stopped:" in child.before.rsplit(ALT_SCREEN_OFF, 1)[1]
    # (git-annex may leave its own scratch files in TMPDIR when it is killed.)
    assert not list(temp.glob("tui-annex-demo-*")), "the demo's temporary folder was removed"


def main(argv: list[str]) -> int:
    """The launcher: a Job over REPO and the URL list in the app, or ``demo``."""
    from tui_annex.demo import main as demo_main
    from tui_annex.job import Job
    from tui_annex.ui.app import run_app

    if argv == ["demo"]:
        return demo_main(["-J", "2"])
    repo, urls = argv
    return run_app(Job(RunOptions(repo=Path(repo), inputs=(urls,), jobs=2, grace=2.0)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


@pytest.mark.pty
def test_closing_the_terminal_stops_git_annex_and_the_app_exits(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect("stall/0.bin")
    os.close(child.child_fd)  # the terminal goes away: the kernel sends SIGHUP
    deadline = time.monotonic() + 60
    while child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the process to end, not for a state in it
    assert not child.isalive(), "the app hung after its terminal closed"
    assert child.exitstatus == 130 or child.signalstatus is not None


@pytest.mark.pty
def test_sigint_from_outside_acts_as_ctrl_c(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    child = spawn(tmp_path, repo, server)
    child.expect("RUNNING")
    child.expect("stall/0.bin")
    child.kill(signal.SIGINT)
    child.expect("DRAINING")
    child.kill(signal.SIGINT)  # the stalls never finish: the second forces
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    after = (child.before or "").rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Stopped:" in after and "interrupted" in after


@pytest.mark.pty
def test_ten_quick_d_presses_on_a_paused_queue_remove_ten_items(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    lines = [f"{server.stall(f's{n}', after=2000)} stall/{n:02}.bin" for n in range(30)]
    urls.write_text("\n".join(lines) + "\n")
    child = spawn_python(["-m", "tests.test_app_pty", str(repo), str(urls)], cwd=ROOT)
    child.delaybeforesend = None
    child.expect("RUNNING")
    child.expect(r"[1-9] downloading")
    child.send("p")
    child.expect("PAUSED")  # nothing new is sent from now on
    child.send("j" * 40)  # down to the last row, a queued item (nothing failed or finished)
    child.expect(r"stall/29\.bin")
    child.send("d" * 10)  # one write: ten key presses as fast as a terminal can send them
    # ctrl+c is a priority key and may overtake keys still queued for the list; l is not:
    # once the log pane shows, the ten d's before it were handled.
    child.send("l")
    child.expect("log: all")
    child.send("\x03")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    after = (child.before or "").rsplit(ALT_SCREEN_OFF, 1)[1]
    # Of the 30 items, ten are gone; the report accounts for the other twenty (what the
    # pause gave back from git-annex counts as never sent, as the rest of the queue).
    counts = {
        word: int(number)
        for number, word in re.findall(r"(\d+) (added|failed|interrupted|never sent)", after)
    }
    assert sum(counts.values()) == 20 and counts["never sent"] >= 10, after


def spawn_held(
    tmp_path: Path, repo: Path, urls: Path, *options: str, fails: bool = False
) -> tuple[pexpect.spawn, Path]:
    """The command in a 35x120 pty, its import of the app (Textual) held until the
    returned FIFO is opened to write (tests/hold_import)."""
    gate = tmp_path / "import-gate"
    os.mkfifo(gate)
    child = spawn_python(
        ["-m", "tui_annex", "-C", str(repo), "-J", "2", *options, str(urls)],
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(ROOT / "tests" / "hold_import"),
            "HOLD_IMPORT": "tui_annex.ui.app",
            "HOLD_IMPORT_GATE": str(gate),
            **({"HOLD_IMPORT_FAILS": "1"} if fails else {}),
        },
    )
    return child, gate


@pytest.mark.pty
def test_the_run_starts_before_the_app_is_up_and_the_app_shows_all_it_did(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    lines = [f"{server.file(f'f{n}', 1000)} quick/{n}.bin" for n in range(3)]
    lines.append(f"{server.status(404, 'gone')} gone.bin")
    urls.write_text("\n".join(lines) + "\n")
    child, gate = spawn_held(tmp_path, repo, urls)
    # With the app's import held, the whole round runs: downloads, failure, commit.
    wait_until(lambda: len(head_files(repo)) == 3)
    with open(gate, "wb"):
        pass
    child.expect("Finished:")
    child.expect("3 done")
    child.send("l")  # the log pane: the failure the job met before the app was up
    child.expect("gone.bin")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1, "one URL failed"
    after = child.before.rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Finished:" in after and "gone.bin" in after and "404" in after


@pytest.mark.pty
def test_a_signal_before_the_app_is_up_is_acted_on_once_it_is(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.stall('held', after=1000)} held.bin\n")
    child, gate = spawn_held(tmp_path, repo, urls)
    server.wait_for(lambda requests: any(r.name == "held" for r in requests))
    child.kill(signal.SIGTERM)  # its default would kill the run; it waits for the app
    with open(gate, "wb"):
        pass
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130, "a forced stop, as a SIGTERM to the app"
    output = child.before
    assert ALT_SCREEN_OFF in output, "the app came up, and restored the terminal"
    after = output.rsplit(ALT_SCREEN_OFF, 1)[1]
    assert "Stopped:" in after and "held.bin" in after


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started that still run."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.pty
def test_ctrl_c_while_the_app_imports_before_its_theme_is_checked_sends_nothing(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('f', 1000)} f.bin\n")
    # A theme is checked against the app's themes before the run may start.
    child, gate = spawn_held(tmp_path, repo, urls, "--theme", "nord")
    # The import waits, and git-annex has told its version: the command waits for the app.
    held = Path(f"{gate}.held")
    wait_until(lambda: held.exists() and not children_of(child.pid))
    child.kill(signal.SIGINT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "interrupted before the run started" in child.before
    assert "Traceback" not in child.before
    assert server.gets() == [] and not (repo / "f.bin").exists()


def journalled_done(repo: Path) -> set[str]:
    """The paths the journal holds as done (what the run knows git-annex added)."""
    database = repo / ".git" / "tui-annex" / "journal.sqlite"
    reading = f"file:{database}?mode=ro"
    with (
        contextlib.suppress(sqlite3.OperationalError),
        contextlib.closing(sqlite3.connect(reading, uri=True)) as db,
    ):
        rows = db.execute("SELECT path FROM items WHERE state = 'done'").fetchall()
        return {path for (path,) in rows}
    return set()


def open_gate(gate: Path) -> None:
    with open(gate, "wb"):
        pass


@pytest.mark.pty
def test_a_round_that_ran_before_the_app_was_up_is_timed_from_its_real_start(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    # 20,000 bytes at 10,000 bytes a second each: the round takes 2 s at least.
    lines = [f"{server.file(f'r{n}', 20_000, rate=10_000)} r{n}.bin" for n in range(2)]
    urls.write_text("\n".join(lines) + "\n")
    child, gate = spawn_held(tmp_path, repo, urls)
    wait_until(lambda: len(head_files(repo)) == 2)
    open_gate(gate)
    child.expect("Finished:")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    after = child.before.rsplit(ALT_SCREEN_OFF, 1)[1]
    found = re.search(r"in (\d+):(\d\d) · 2 file\(s\), ([\d.]+) files/s", after)
    assert found, after
    minutes, seconds, rate = int(found[1]), int(found[2]), float(found[3])
    assert minutes * 60 + seconds >= 2 and rate <= 1.0, "timed from the round's start"


@pytest.mark.pty
def test_a_ctrl_c_after_the_run_ended_but_before_the_app_was_up_stops_nothing(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.file(f'f{n}', 1000)} f{n}.bin\n" for n in range(3)))
    log = tmp_path / "run.log"
    child, gate = spawn_held(tmp_path, repo, urls, "--log-file", str(log))
    # The log has the round's end once the run has handed it on (the commit comes first:
    # a Ctrl-C between the two still stops the round, as it would in the app).
    wait_until(lambda: log.exists() and "finished: 3 done" in log.read_text())
    child.kill(signal.SIGINT)  # the run is over: Ctrl-C quits, as in the app
    open_gate(gate)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, "everything was added"
    after = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before.rsplit(ALT_SCREEN_OFF, 1)[1])
    assert "Finished: 3 added" in after and "Stopped" not in after


@pytest.mark.pty
def test_started_in_the_background_the_app_sends_nothing_before_it_has_the_terminal(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('f', 1000)} f.bin\n")
    command = f"{sys.executable} -m tui_annex -C {repo} {urls}"
    # A shell with job control: "&" puts the command in a process group of its own,
    # not the terminal's foreground one (the shell stays: a stopped job it left would
    # be sent SIGHUP).
    shell = spawn_python(
        ["--norc", "--noprofile", "-c", f"set -m; {command} & echo pid=$!; wait; sleep 600"],
        cwd=tmp_path,
        program="bash",
    )
    shell.expect(r"pid=(\d+)")
    pid = int(shell.match[1])

    def state() -> str:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2]

    try:
        wait_until(lambda: state() == "T")  # stopped at its first touch of the terminal
        assert server.gets() == [], "nothing was downloaded"
        assert not (repo / ".git" / "tui-annex" / "journal.sqlite").exists(), "no run began"
    finally:
        os.kill(pid, signal.SIGKILL)
        shell.close(force=True)


@pytest.mark.pty
def test_an_app_that_cannot_start_stops_the_run_and_commits_what_it_finished(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    lines = [f"{server.file(f'f{n}', 1000)} f{n}.bin" for n in range(2)]
    lines.append(f"{server.stall('held', after=1000)} held.bin")
    urls.write_text("\n".join(lines) + "\n")
    child, gate = spawn_held(tmp_path, repo, urls, "-J", "3", fails=True)
    server.wait_for(lambda requests: {"f0", "f1", "held"} <= {r.name for r in requests})
    wait_until(lambda: journalled_done(repo) == {"f0.bin", "f1.bin"})
    open_gate(gate)  # the app's import fails now
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "the app cannot start (ImportError" in child.before
    assert "Traceback" not in child.before
    assert head_files(repo) == {"f0.bin", "f1.bin"}, "what it finished is committed"


@pytest.mark.pty
def test_an_app_that_cannot_start_before_its_run_says_so_and_sends_nothing(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('f', 1000)} f.bin\n")
    # A theme is checked against the app's themes: the run waits for the import.
    child, gate = spawn_held(tmp_path, repo, urls, "--theme", "nord", fails=True)
    open_gate(gate)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "the app cannot start (ImportError" in child.before
    assert "nothing was sent" in child.before and "Traceback" not in child.before
    assert server.gets() == [] and not (repo / "f.bin").exists()
