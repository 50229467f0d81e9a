"""-F: the failures file is written safely, checked at start, and naming an input rewrites
that input without what was added (records never read included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import git
from tests.helpers import head_files
from tui_annex.demo_server import LocalServer


def test_failures_file_naming_the_input_keeps_every_record_not_added(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    quick = [f"{server.file(f'q{i}', 200)} q{i}.bin\n" for i in range(3)]
    slow = [f"{server.file(f's{i}', 400_000, rate=100_000)} s{i}.bin\n" for i in range(2)]
    rest = [f"{server.file(f'r{i}', 100)} rest/{i}.bin\n" for i in range(20_000)]
    original = "# my list\n" + "".join(quick + slow) + "not-a-url x\n" + "".join(rest)
    urls.write_text(original)
    command = [sys.executable, "-m", "tui_annex", "--no-ui", "-J", "2", "-C", str(repo)]
    child = subprocess.Popen(
        [*command, str(urls), "-F", str(urls)],
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not server.gets("s0") and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    added = set(git(repo, "ls-files").split())
    assert {f"q{i}.bin" for i in range(3)} <= added
    left = urls.read_text().splitlines(keepends=True)
    expected = [
        line
        for line in original.splitlines(keepends=True)
        if line.split(" ")[-1].strip() not in added
    ]
    assert left == expected  # comments, refused lines and never-read records all kept
    # Not a vacuous pass: the stop came long before the small ones could all be added (a
    # few git-annex already held may finish while the slow ones do).
    assert len(left) > 19_000


def test_failures_file_that_is_a_folder_is_refused_before_anything_is_sent(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} a.bin\n")
    folder = tmp_path / "somewhere"
    folder.mkdir()
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-F", str(folder))
    assert result.returncode == 2
    assert "is a folder; name a file" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and server.requests == []
    bad = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-F", "/dev/null/x.jsonl")
    assert bad.returncode == 2 and "cannot write in /dev/null" in bad.stdout + bad.stderr


def test_a_closed_reader_stops_the_run_quietly_and_still_commits_and_writes_failures(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.file(f'p{i}', 300)} p{i}.bin\n" for i in range(40)))
    failures = tmp_path / "left.jsonl"
    command = (
        f"{sys.executable} -m tui_annex --json -J 2 -C {repo} {urls} -F {failures} | head -n 3;"
        " echo status ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", command], env=cli_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines[:3])
    assert lines[-1] == "status 141"
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    committed = set(git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())
    left = {json.loads(line)["path"] for line in failures.read_text().splitlines()}
    assert committed and committed | left == {f"p{i}.bin" for i in range(40)}
    assert git(repo, "status", "--porcelain").strip() == ""
    assert not os.path.exists(repo / ".git" / "index.lock")


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_an_output_that_cannot_be_written_stops_the_run_in_one_sentence_and_commits(
    tmp_path: Path, repo: Path, server: LocalServer, mode: list[str]
) -> None:
    # Standard output on a full disk (/dev/full): no traceback; the run stops as on a
    # closed reader, what it finished is committed and the rest is left for -F (with
    # --json the first line fails, before anything is sent: all of it).
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{server.file(f'q{i}', 300)} q{i}.bin\n" for i in range(20)))
    failures = tmp_path / "left.jsonl"
    args = ["--no-ui", *mode, "-J", "2", "-C", str(repo), str(urls), "-F", str(failures)]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "tui_annex", *args],
            env=cli_env(tmp_path),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "tui-annex: the output cannot be written (No space left on device); "
        "the run was stopped, and what it finished is committed"
    )
    committed = head_files(repo)
    left = {json.loads(line)["path"] for line in failures.read_text().splitlines()}
    assert not committed & left
    assert committed | left == {f"q{i}.bin" for i in range(20)}
    assert bool(committed) == (mode == []), "plain lines fail at the first file finished"
    assert git(repo, "status", "--porcelain").strip() == ""


@pytest.mark.parametrize("kind", ["symlink", "fifo", "read-only"])
def test_failures_file_that_is_no_plain_writable_file_is_refused_at_start(
    tmp_path: Path, repo: Path, server: LocalServer, kind: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 100)} a.bin\n")
    target = tmp_path / "left.jsonl"
    if kind == "symlink":
        (tmp_path / "elsewhere.jsonl").write_text("keep\n")
        target.symlink_to(tmp_path / "elsewhere.jsonl")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.write_text("keep\n")
        target.chmod(0o444)
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-F", str(target))
    assert result.returncode == 2 and server.requests == []
    assert "is not a regular file" in result.stderr or "is read-only" in result.stderr
    assert (
        kind == "fifo" or (tmp_path / "elsewhere.jsonl").exists() or target.read_text() == "keep\n"
    )
    unwritable = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-F", "/proc/x.jsonl")
    assert unwritable.returncode == 2 and "cannot write in /proc" in unwritable.stderr


def test_failures_file_naming_standard_input_s_file_rewrites_it_in_its_format(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    table = tmp_path / "in.csv"
    table.write_text(
        "url,path,notes\n"
        f"{server.file('c1', 100)},c1.bin,first\n"
        f"{server.status(404, 'c2')},c2.bin,second\n"
        "not-a-url,c3.bin,third\n"
    )
    command = [sys.executable, "-m", "tui_annex", "--no-ui", "--retries", "0", "-f", "csv"]
    result = subprocess.run(
        [*command, "-C", str(repo), "-F", str(table), "-"],
        stdin=table.open("rb"),
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert table.read_text() == (
        f"url,path,notes\n{server.status(404, 'c2')},c2.bin,second\nnot-a-url,c3.bin,third\n"
    )


def test_failures_file_naming_the_input_keeps_a_refused_twin_of_an_added_record(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    first, twin = f"{server.file('x', 100)} x.bin\n", f"{server.file('y', 100)} x.bin\n"
    urls.write_text(first + twin)
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-F", str(urls))
    assert result.returncode == 1 and "another item already downloads to" in result.stderr
    assert urls.read_text() == twin


def test_an_added_csv_record_spread_over_lines_is_dropped_whole(tmp_path: Path) -> None:
    from tui_annex.inputs import drop_finished_lines

    table = tmp_path / "t.csv"
    table.write_text('url,path,note\nhttps://e.org/a,a,"two\nlines"\nhttps://e.org/b,b,one\n')
    dropped = drop_finished_lines(str(table), lambda record: record.path == "a")
    assert dropped == 2 and table.read_text() == "url,path,note\nhttps://e.org/b,b,one\n"
