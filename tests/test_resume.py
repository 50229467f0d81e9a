"""Any death loses nothing: kill -9, a dead git-annex, a forced stop, a crash between journal
writes. Real tui-annex processes, real git-annex, the local HTTP server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import annex_processes, git
from tests.helpers import top_with_a_linked_folder, wait_until
from tests.pty_helpers import pump_until, read_to_end, spawn
from tui_annex.annex.locate import GitAnnex
from tui_annex.annex.repo import Repo
from tui_annex.demo_server import LocalServer, content
from tui_annex.items import DownloadItem, ItemState
from tui_annex.journal import JournalItem
from tui_annex.queue import DownloadQueue
from tui_annex.recovery import _made_by_git_annex, settle_added
from tui_annex.session import Session


def committed(repo: Path) -> list[str]:
    """Every file added by any commit on HEAD, once per commit that added it."""
    log = git(repo, "log", "--diff-filter=A", "--name-only", "--format=")
    return [line for line in log.splitlines() if line]


def slow_files(server: LocalServer, count: int) -> list[tuple[str, str]]:
    """``count`` files of 0.4-3.1 MB served at 1 MB/s: several seconds in flight."""
    return [
        (server.file(f"f{i}", 400_000 + i * 300_000, rate=1_000_000), f"f{i}.bin")
        for i in range(count)
    ]


def write_urls(path: Path, lines: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{url} {name}\n" for url, name in lines))
    return path


def partial_bytes(repo: Path) -> dict[str, int]:
    """Sizes of git-annex's partial downloads (``.git/annex/tmp``)."""
    folder = repo / ".git" / "annex" / "tmp"
    if not folder.is_dir():
        return {}
    return {entry.name: entry.stat().st_size for entry in folder.iterdir() if entry.is_file()}


def downloads_under_way(server: LocalServer, repo: Path, finished: int) -> bool:
    """At least ``finished`` files are done and every download started since has bytes on disk."""
    done = sum(1 for entry in repo.glob("f*.bin") if entry.is_symlink())
    started = {r.name for r in server.gets()}
    partial = partial_bytes(repo)
    return (
        done >= finished
        and len(started) > done
        and len(partial) >= len(started) - done
        and all(size > 0 for size in partial.values())
    )


def fetched_from_zero(server: LocalServer) -> Counter[str]:
    return Counter(r.name for r in server.gets() if r.range is None)


def names_with_bytes(repo: Path) -> set[str]:
    """Served names whose partial download has bytes (partials are named by their URL)."""
    return {
        name.split("%file%", 1)[1].split(",", 1)[0]
        for name, size in partial_bytes(repo).items()
        if size > 0 and "%file%" in name
    }


def refetched_from_zero(server: LocalServer, kept: set[str]) -> set[str]:
    """Files fetched from byte 0 twice though git-annex had kept bytes of them to resume."""
    return {name for name, count in fetched_from_zero(server).items() if count > 1} & kept


def start_cli(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_annex", *args],
        env={**cli_env(tmp), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def children_of_run(pids: set[int]) -> dict[int, str]:
    return {pid: cmd for pid, cmd in annex_processes().items() if pid not in pids}


def assert_everything_committed_once(repo: Path, names: list[str]) -> None:
    assert sorted(committed(repo)) == sorted(names)
    assert git(repo, "status", "--porcelain").strip() == ""


def test_kill_9_mid_download_leaves_no_git_annex_and_the_same_command_finishes_the_rest(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = slow_files(server, 10)
    urls = write_urls(tmp_path / "urls.txt", lines)
    before = set(annex_processes())
    first = start_cli(tmp_path, "--no-ui", "-J", "3", "-C", str(repo), str(urls))
    wait_until(lambda: downloads_under_way(server, repo, finished=2))
    first.kill()
    first.communicate()
    kept = names_with_bytes(repo)
    # git-annex dies with tui-annex (parent-death signal): nothing hangs on its locks.
    wait_until(lambda: not children_of_run(before), timeout=10)
    assert any(entry.is_symlink() for entry in repo.glob("f*.bin"))

    second = run_cli(tmp_path, "--no-ui", "-J", "3", "-C", str(repo), str(urls))
    assert second.returncode == 0, second.stderr
    assert "resuming run 1" in second.stderr
    assert_everything_committed_once(repo, [name for _url, name in lines])
    assert kept and not refetched_from_zero(server, kept)  # partial downloads resumed with Range
    for index in range(10):
        assert (repo / f"f{index}.bin").read_bytes() == content(
            f"f{index}", 400_000 + index * 300_000
        )


@pytest.mark.pty
def test_after_two_ctrl_c_the_same_command_adds_what_was_interrupted_or_never_sent(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = slow_files(server, 6)
    urls = write_urls(tmp_path / "urls.txt", lines)
    child = spawn(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    pump_until(child, lambda: downloads_under_way(server, repo, finished=1))
    child.sendcontrol("c")
    pump_until(child, lambda: True)
    child.sendcontrol("c")
    read_to_end(child)
    assert child.exitstatus == 130
    kept = names_with_bytes(repo)

    again = run_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert_everything_committed_once(repo, [name for _url, name in lines])
    assert not refetched_from_zero(server, kept)


CRASHING_RUN = """
import os, sys
from tui_annex import journal
from tui_annex.cli import main

real_flush = journal.Journal.flush

def flush_then_die(self, **options):
    real_flush(self, **options)
    if self.run_id is None:
        return
    done = self._db.execute("SELECT count(*) FROM items WHERE state = 'done'").fetchone()[0]
    if done >= int(os.environ["DIE_AFTER_DONE"]):
        os._exit(9)  # dies right after a journal write, before the next one, as a crash would

journal.Journal.flush = flush_then_die
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("done", [1, 3, 6])
def test_a_crash_between_two_journal_writes_loses_nothing(
    tmp_path: Path, repo: Path, server: LocalServer, done: int
) -> None:
    # A test double of the journal: the real one, but the process dies after N writes.
    lines = [(server.file(f"s{i}", 20_000 + i, rate=200_000), f"s{i}.bin") for i in range(6)]
    urls = write_urls(tmp_path / "urls.txt", lines)
    env = {**cli_env(tmp_path), "DIE_AFTER_DONE": str(done)}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, "--no-ui", "-J", "2", "-C", str(repo), str(urls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr
    again = run_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert_everything_committed_once(repo, [name for _url, name in lines])


def test_a_finished_but_unstaged_file_is_staged_and_reported_done(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("a", 3000), "a.bin")])
    assert run_cli(tmp_path, "--no-ui", "--no-commit", "-C", str(repo), str(urls)).returncode == 0
    git(repo, "rm", "--cached", "-q", "a.bin")  # as a run killed before staging leaves it
    again = run_cli(tmp_path, "--no-ui", "--fresh", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert "finished: 1 done, 0 failed; committed" in again.stdout
    assert committed(repo) == ["a.bin"]
    assert git(repo, "status", "--porcelain").strip() == ""


def test_the_same_input_after_a_complete_run_downloads_nothing_and_says_so(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = [(server.file(f"c{i}", 500), f"c{i}.bin") for i in range(3)]
    urls = write_urls(tmp_path / "urls.txt", lines)
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls)).returncode == 0
    requests = len(server.requests)
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert "3 were added by earlier runs (not downloaded again)" in again.stderr
    assert len(server.requests) == requests
    assert sorted(committed(repo)) == ["c0.bin", "c1.bin", "c2.bin"]


def test_a_path_twice_in_an_input_is_refused_the_second_time_though_an_earlier_run_added_it(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    url = server.file("twice", 500)
    first = write_urls(tmp_path / "urls.txt", [(url, "twice.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(first)).returncode == 0
    again = tmp_path / "again.jsonl"  # metadata: sent again; then the same path, plain
    again.write_text(
        json.dumps({"url": url, "path": "twice.bin", "metadata": {"k": ["v"]}})
        + "\n"
        + json.dumps({"url": url, "path": "twice.bin"})
        + "\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(again))
    assert result.returncode == 1, result.stderr
    assert f"rejected {again}:2: another item already downloads to 'twice.bin'" in result.stderr
    assert "were added by earlier runs" not in result.stderr
    assert git(repo, "annex", "metadata", "--get", "k", "twice.bin").strip() == "v"


def test_a_refused_record_does_not_hide_that_an_earlier_run_added_its_path(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    url = server.file("once", 500)
    first = write_urls(tmp_path / "urls.txt", [(url, "once.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(first)).returncode == 0
    requests = len(server.requests)
    again = write_urls(
        tmp_path / "again.txt", [("ftp://127.0.0.1/x", "once.bin"), (url, "once.bin")]
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(again))
    assert f"rejected {again}:1: " in result.stderr
    assert "1 were added by earlier runs (not downloaded again)" in result.stderr
    assert len(server.requests) == requests


def test_a_failing_commit_is_an_error_and_leaves_the_files_staged(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "false")
    urls = write_urls(tmp_path / "urls.txt", [(server.file("g", 100), "g.bin")])
    result = run_cli(tmp_path, "--json", "-C", str(repo), str(urls))
    assert result.returncode == 1
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["event"] == "round-finished"
    assert last["committed"] is None and "gpg" in last["commit_error"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["g.bin"]


def test_an_empty_commit_message_fails_the_run_with_the_reason(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("m", 100), "m.bin")])
    result = run_cli(tmp_path, "--no-ui", "-m", "", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert "COMMIT FAILED, files left staged" in result.stdout
    assert git(repo, "diff", "--cached", "--name-only").split() == ["m.bin"]


def test_a_locked_index_is_reported_in_one_sentence_before_anything_is_sent(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    (repo / ".git" / "index.lock").write_text("")
    urls = write_urls(tmp_path / "urls.txt", [(server.file("l", 100), "l.bin")])
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 2
    assert "the repository's index is locked" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert server.requests == []


def test_paths_git_refuses_are_rejected_at_validation(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(
        tmp_path / "urls.txt",
        [
            (server.file("a", 10), ".git./x"),
            (server.file("b", 10), ".git /y"),
            (server.file("c", 10), "GIT~1/z"),
            (server.file("d", 10), "ok.bin"),
        ],
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert result.stderr.count("git refuses to track the name") == 3
    assert "finished: 1 done, 0 failed, 3 rejected; committed" in result.stdout
    assert committed(repo) == ["ok.bin"]


def test_a_corrupt_journal_is_set_aside_with_a_message_and_never_trusted(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("j", 100), "j.bin")])
    journal = repo / ".git" / "tui-annex" / "journal.sqlite"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"SQLite format 3\0" + b"\xff" * 3000)  # a truncated, garbled file
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    assert "was set aside as journal-unreadable-" in result.stderr
    kept = list(journal.parent.glob("journal-unreadable-*.sqlite"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"SQLite format 3")
    assert committed(repo) == ["j.bin"]


def test_fresh_keeps_the_old_journal_and_does_not_resume(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("x", 100), "x.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls)).returncode == 0
    result = run_cli(tmp_path, "--no-ui", "--fresh", "-C", str(repo), str(urls))
    assert "the old journal is kept as journal-before-" in result.stderr
    assert len(list((repo / ".git" / "tui-annex").glob("journal-before-*.sqlite"))) == 1


def test_history_lists_runs_and_from_run_requeues_a_runs_failures(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    flaky = server.flaky("later", 300, fail=2)
    urls = write_urls(tmp_path / "urls.txt", [(server.file("h", 100), "h.bin"), (flaky, "l.bin")])
    first = run_cli(tmp_path, "--no-ui", "--retries", "0", "-C", str(repo), str(urls))
    assert first.returncode == 1
    history = run_cli(tmp_path, "history", "-C", str(repo))
    assert history.returncode == 0
    assert history.stdout.startswith("run 1 ") and "1 done, 1 failed" in history.stdout
    again = run_cli(tmp_path, "--no-ui", "--from-run", "1", "-C", str(repo))
    assert again.returncode == 0, again.stderr
    assert sorted(committed(repo)) == ["h.bin", "l.bin"]
    records = run_cli(tmp_path, "history", "--json", "-C", str(repo)).stdout.splitlines()
    assert [json.loads(line)["outcome"] for line in records] == ["complete", "failed"]


def test_status_from_another_terminal_shows_the_run_in_flight(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    lines = slow_files(server, 4)
    urls = write_urls(tmp_path / "urls.txt", lines)
    running = start_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    try:
        wait_until(lambda: downloads_under_way(server, repo, finished=0))
        status = run_cli(tmp_path, "status", "-C", str(repo))
        assert status.returncode == 0
        assert ": running" in status.stdout and "in flight: " in status.stdout
        # a second run in the same repository is refused while this one runs
        second = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
        assert second.returncode == 2
        assert "another tui-annex is running in this repository (pid" in second.stderr
    finally:
        running.terminate()
        running.communicate()
    after = run_cli(tmp_path, "status", "-C", str(repo))
    assert ": stopped" in after.stdout or ": failed" in after.stdout


def test_metadata_and_extra_urls_are_recorded_for_files_a_killed_run_finished(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = tmp_path / "in.jsonl"
    names = [f"m{i}.bin" for i in range(6)]
    records.write_text(
        "".join(
            json.dumps(
                {
                    "url": server.file(name, 200_000, rate=400_000),
                    "path": name,
                    "metadata": {"author": [f"a{i}"]},
                    "extra_urls": [server.file(f"mirror-{name}", 200_000)],
                }
            )
            + "\n"
            for i, name in enumerate(names)
        )
    )
    first = start_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(records))
    wait_until(lambda: sum(1 for n in names if (repo / n).is_symlink()) >= 2)
    first.kill()
    first.communicate()
    for _ in range(2):  # the resuming run, then one more that finds everything added
        again = run_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(records))
        assert again.returncode == 0, again.stderr
    for i, name in enumerate(names):
        fields = json.loads(git(repo, "annex", "metadata", "--json", name))["fields"]
        assert fields.get("author") == [f"a{i}"], name
        urls = git(repo, "annex", "whereis", "--json", name)
        assert f"mirror-{name}" in urls, name


def test_small_files_git_annex_put_in_git_before_a_kill_9_are_staged_on_resume(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    git(repo, "config", "annex.largefiles", "nothing")
    names = [f"s{i}.txt" for i in range(8)]
    urls = write_urls(tmp_path / "urls.txt", [(server.file(n, 3000, rate=6000), n) for n in names])
    first = start_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    wait_until(lambda: any((repo / n).exists() for n in names))
    first.kill()
    first.communicate()
    again = run_cli(tmp_path, "--no-ui", "-J", "2", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_everything_committed_once(repo, names)


def test_a_file_removed_from_the_index_is_not_called_added_before(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("u", 300), "u.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls)).returncode == 0
    git(repo, "rm", "--cached", "-q", "u.bin")
    git(repo, "commit", "-qm", "untrack u.bin")
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert "added before" not in again.stdout
    assert "u.bin" in git(repo, "ls-files").split()
    assert git(repo, "status", "--porcelain").strip() == ""


def test_an_item_git_did_not_stage_is_reported_failed_after_its_success(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("g", 300), "g.bin")])
    lock = repo / ".git" / "index.lock"
    command = [sys.executable, "-m", "tui_annex", "--json", "--retries", "0", "-C", str(repo)]
    run = subprocess.Popen(
        [*command, str(urls)],
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(server.gets("g")) >= 1)
        lock.write_text("")  # as another git command would, while git-annex finishes
        out, _err = run.communicate(timeout=120)
    finally:
        lock.unlink(missing_ok=True)
    events = [json.loads(line) for line in out.splitlines()]
    answers = [e["success"] for e in events if e["event"] == "finished"]
    assert answers[-1] is False  # whatever came first, the last word on g.bin is the truth
    assert events[-1]["done"] == 0 and events[-1]["failed"] == 1
    assert run.returncode == 1


def test_a_damaged_journal_row_is_set_aside_and_history_says_so_without_a_traceback(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    import sqlite3

    urls = write_urls(tmp_path / "urls.txt", [(server.file("q", 100), "q.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls)).returncode == 0
    journal = repo / ".git" / "tui-annex" / "journal.sqlite"
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE runs SET options = '{broken'")
    history = run_cli(tmp_path, "history", "-C", str(repo))
    assert history.returncode == 2 and "damaged run" in history.stderr
    assert "Traceback" not in history.stderr
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stderr
    assert "set aside as journal-unreadable-" in again.stderr


def test_a_run_without_journal_is_refused_while_another_runs(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", slow_files(server, 3))
    running = start_cli(tmp_path, "--no-ui", "-J", "1", "-C", str(repo), str(urls))
    try:
        wait_until(lambda: downloads_under_way(server, repo, finished=0))
        second = run_cli(tmp_path, "--no-ui", "--no-journal", "-C", str(repo), str(urls))
        assert second.returncode == 2
        assert "another tui-annex is running in this repository" in second.stderr
    finally:
        running.terminate()
        running.communicate()


def test_a_failing_signed_commit_fails_when_other_changes_are_staged_too(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    (repo / "mine.txt").write_text("the user's staged work\n")
    git(repo, "add", "mine.txt")
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "false")
    urls = write_urls(tmp_path / "urls.txt", [(server.file("v", 100), "v.bin")])
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert "COMMIT FAILED" in result.stdout
    assert sorted(git(repo, "diff", "--cached", "--name-only").split()) == ["mine.txt", "v.bin"]


def test_status_and_history_where_tui_annex_never_ran(tmp_path: Path, repo: Path) -> None:
    for command in ("status", "history"):
        result = run_cli(tmp_path, command, "-C", str(repo))
        assert result.returncode == 0 and "no runs of tui-annex here yet" in result.stdout


def test_a_relative_repository_path_finds_its_journal(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("r", 100), "r.bin")])
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls)).returncode == 0
    for command in (["history"], ["status"], ["--no-ui"]):
        args = [*command, "-C", repo.name] + (["urls.txt"] if command == ["--no-ui"] else [])
        result = subprocess.run(
            [sys.executable, "-m", "tui_annex", *args],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr


def test_metadata_is_recorded_for_a_file_a_killed_run_left_annexed_but_unstaged(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    # git-annex of a killed run made the file (its link into the object store) and died
    # before staging it. Sent again, git-annex registers the URL on the file that is
    # there and answers without a key; lookupkey reads the index, which lacks the file:
    # the key is the link's.
    url = server.file("u.bin", 5000)
    git(repo, "annex", "addurl", "--file", "u.bin", url)
    git(repo, "rm", "--cached", "-q", "u.bin")
    assert (repo / "u.bin").is_symlink()
    records = tmp_path / "in.jsonl"
    mirror = server.file("mirror-u.bin", 5000)
    records.write_text(
        json.dumps(
            {"url": url, "path": "u.bin", "metadata": {"author": ["zoë"]}, "extra_urls": [mirror]}
        )
        + "\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert result.returncode == 0, result.stdout + result.stderr
    fields = json.loads(git(repo, "annex", "metadata", "--json", "u.bin"))["fields"]
    assert fields.get("author") == ["zoë"]
    assert "mirror-u.bin" in git(repo, "annex", "whereis", "--json", "u.bin")
    assert "u.bin" in git(repo, "ls-files", "u.bin"), "staged, and committed with the run"


def journal_row(repo: Path, path: str) -> tuple[str, int, int | None] | None:
    """The newest journal row of ``path``: its state, bytes done and total."""
    database = repo / ".git" / "tui-annex" / "journal.sqlite"
    if not database.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT state, bytes_done, total FROM items WHERE path = ? ORDER BY run DESC",
                (path,),
            ).fetchone()
    except sqlite3.OperationalError:  # not made yet
        return None
    return None if row is None else (row[0], row[1], row[2])


BIG = 2_000_000


def killed_mid_download(tmp_path: Path, repo: Path, server: LocalServer) -> tuple[str, Path]:
    """Run tui-annex on one slow download of BIG bytes to big.bin and kill -9 it once the
    journal holds the download's size; return the URL and the input file."""
    url = server.file("big", BIG, rate=400_000)
    urls = write_urls(tmp_path / "urls.txt", [(url, "big.bin")])
    first = start_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))

    def in_flight() -> bool:
        row = journal_row(repo, "big.bin")
        return row is not None and row[0] == "sent" and row[2] == BIG

    wait_until(in_flight)
    first.kill()
    first.communicate()
    return url, urls


def test_a_download_a_killed_run_left_in_place_unadded_is_annexed_on_resume_not_put_in_git(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    url, urls = killed_mid_download(tmp_path, repo, server)
    # A stand-in for one moment the real git-annex cannot be stopped at on demand: killed
    # between moving the finished download into the work tree and adding it, it leaves
    # the whole download there as a plain file.
    (repo / "big.bin").write_bytes(content("big", BIG))
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 found added" in again.stderr
    assert_everything_committed_once(repo, ["big.bin"])
    mode, kind = git(repo, "ls-tree", "HEAD", "big.bin").split()[:2]
    assert (mode, kind) == ("120000", "blob"), "annexed (a link), not the content put in git"
    assert (repo / "big.bin").read_bytes() == content("big", BIG)
    assert url in git(repo, "annex", "whereis", "big.bin"), "the web holds it, as addurl says"
    assert [r.name for r in server.gets()].count("big") == 1, "not downloaded again"


def test_a_link_a_killed_run_left_without_its_content_is_removed_and_downloaded_on_resume(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    _url, urls = killed_mid_download(tmp_path, repo, server)
    # A stand-in for one moment the real git-annex cannot be stopped at on demand: killed
    # between making the download's link and moving the download in, it leaves a link to
    # an object that is not there. Sent again, git-annex would only record the URL.
    key = "SHA256E-s2000000--" + "0" * 64 + ".bin"
    (repo / "big.bin").symlink_to(f".git/annex/objects/Xx/Yy/{key}/{key}")
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "removed 1 link(s) git-annex left without their content (big.bin)" in again.stderr
    assert_everything_committed_once(repo, ["big.bin"])
    assert (repo / "big.bin").read_bytes() == content("big", BIG)


def test_a_url_for_an_annexed_file_whose_content_is_missing_fails_as_not_downloaded(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    url = server.file("a", 3000)
    git(repo, "annex", "addurl", "--file", "a.bin", url)
    git(repo, "commit", "-qm", "a.bin")
    git(repo, "annex", "drop", "--force", "a.bin")  # tracked, its content elsewhere
    urls = write_urls(tmp_path / "urls.txt", [(url, "a.bin")])
    result = run_cli(tmp_path, "--no-ui", "--json", "-C", str(repo), str(urls))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "content this repository lacks" in result.stdout
    assert not (repo / "a.bin").exists()  # and the report did not call it done


def test_a_file_of_another_size_at_a_killed_downloads_path_is_left_alone_on_resume(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    _url, urls = killed_mid_download(tmp_path, repo, server)
    (repo / "big.bin").write_bytes(b"the user's own file, put there after the run died\n")
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 1, again.stdout + again.stderr
    assert "already exists" in again.stdout + again.stderr
    assert (repo / "big.bin").read_bytes().startswith(b"the user's own file")
    assert "big.bin" not in git(repo, "ls-files")


def test_an_unlocked_file_git_annex_added_but_never_staged_is_staged_annexed_not_into_git(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    git(repo, "config", "annex.addunlocked", "true")
    urls = write_urls(tmp_path / "urls.txt", [(server.file("a", 30_000), "a.bin")])
    env = {**cli_env(tmp_path), "DIE_AFTER_DONE": "1"}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, "--no-ui", "-C", str(repo), str(urls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr  # died once git-annex said it added a.bin
    if "a.bin" in git(repo, "ls-files", "a.bin"):
        git(repo, "rm", "--cached", "-q", "a.bin")  # as a git-annex killed before staging
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 found added" in again.stderr
    assert_everything_committed_once(repo, ["a.bin"])
    size = int(git(repo, "cat-file", "-s", "HEAD:a.bin"))
    assert size < 200, "an annex pointer, not the content put in git"
    assert git(repo, "cat-file", "-p", "HEAD:a.bin").startswith("/annex/objects/")
    assert (repo / "a.bin").read_bytes() == content("a", 30_000)


def test_only_what_git_annex_could_have_left_is_taken_as_its_work_on_resume(
    tmp_path: Path,
) -> None:
    top = top_with_a_linked_folder(tmp_path)

    def taken(
        path: str,
        size: int,
        *,
        state: str = "sent",
        done: int = 0,
        total: int | None = None,
        key: str | None = None,
        existed: bool | None = False,
    ) -> bool:
        (top / path).write_bytes(b"x" * size)
        entry = JournalItem(
            1, 1, "http://127.0.0.1/x", path, state, key, (), None, {}, (), None, 1,
            done, total, 0.0, 0, existed,
        )  # fmt: skip
        return _made_by_git_annex(top, DownloadItem(1, entry.url, path), entry)

    assert taken("d/a", 10, done=4, total=10)  # the whole download (progress lagged)
    assert taken("d/b", 10, done=4)  # size never told: at least what was downloaded
    assert not taken("d/c", 9, done=4, total=10)  # not this download
    assert not taken("d/e", 3, done=4)  # less than was downloaded
    assert taken("d/f", 10)  # nothing journaled of its size (small files often are not)
    assert not taken("d/g", 10, done=10, total=10, existed=True)  # there before
    assert not taken("d/h", 10, done=10, total=10, existed=None)  # never known
    assert not taken("linked/i", 10, done=10, total=10)  # outside the repository
    assert taken("d/j", 10, state="done", key="SHA256E-s10--ab.bin")  # added, said git-annex
    assert taken("d/k", 10, state="done")  # put in git: no key
    assert not taken("d/l", 11, state="done", key="SHA256E-s10--ab.bin")  # replaced since


@pytest.mark.parametrize(
    "config", [("annex.largefiles", "largerthan=10kb"), ("annex.addunlocked", "true")]
)
def test_a_file_git_annex_wrote_before_its_progress_was_journaled_is_added_on_resume(
    tmp_path: Path, repo: Path, server: LocalServer, config: tuple[str, str]
) -> None:
    git(repo, "config", *config)  # git-annex leaves a plain file, not a link
    urls = write_urls(tmp_path / "urls.txt", [(server.gate("s", 5962), "s.bin")])
    first = start_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    wait_until(lambda: (journal_row(repo, "s.bin") or ("",))[0] == "sent")
    server.wait_for(lambda reqs: any(r.method == "GET" and r.name == "s" for r in reqs))
    os.kill(first.pid, signal.SIGSTOP)  # its journal falls behind git-annex
    server.open_gate("s")
    whole = content("s", 5962)
    wait_until(lambda: (repo / "s.bin").is_file() and (repo / "s.bin").read_bytes() == whole)
    first.kill()
    first.communicate()
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_everything_committed_once(repo, ["s.bin"])
    assert (repo / "s.bin").read_bytes() == whole


def test_an_unlocked_pointer_a_killed_relaxed_run_left_is_added_on_resume(
    tmp_path: Path, repo: Path, server: LocalServer, fake_annex: GitAnnex
) -> None:
    git(repo, "config", "annex.addunlocked", "true")
    urls = write_urls(tmp_path / "urls.txt", [(server.file("r", 3000), "r.bin")])
    # A --relaxed item needs no server, so nothing there can hold it: the stand-in holds
    # the real git-annex's input shut until the run is stopped, then becomes it.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    hold = {"FAKE_ANNEX_MODE": "hold", "FAKE_ANNEX_GATE": str(gate)}
    args = ["--no-ui", "--addurl-opts=--relaxed", "--git-annex", str(fake_annex.executable)]
    first = start_cli(tmp_path, *args, "-C", str(repo), str(urls), env=hold)
    wait_until(lambda: (journal_row(repo, "r.bin") or ("",))[0] == "sent")
    os.kill(first.pid, signal.SIGSTOP)  # its journal falls behind git-annex
    with open(gate, "wb"):
        pass

    def pointer() -> bool:
        with contextlib.suppress(OSError):
            return (repo / "r.bin").read_text().startswith("/annex/objects/")
        return False

    wait_until(pointer)
    first.kill()
    first.communicate()
    again = run_cli(tmp_path, "--no-ui", "--addurl-opts=--relaxed", "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_everything_committed_once(repo, ["r.bin"])


@pytest.mark.parametrize("fast", ["--fast", "-F", "--relaxed"])
def test_a_run_told_not_to_download_reports_its_files_added(
    tmp_path: Path, repo: Path, server: LocalServer, fast: str
) -> None:
    urls = write_urls(tmp_path / "urls.txt", [(server.file("a", 3000), "a.bin")])
    result = run_cli(tmp_path, "--no-ui", f"--addurl-opts={fast}", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_everything_committed_once(repo, ["a.bin"])


def test_resume_adds_a_left_download_with_the_backend_and_gitignore_rule_addurl_was_told(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    (repo / ".gitignore").write_text("ign/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    url = server.file("big", BIG, rate=400_000)
    urls = write_urls(tmp_path / "urls.txt", [(url, "ign/big.bin")])
    opts = "--addurl-opts=--backend SHA1 --no-check-gitignore"
    first = start_cli(tmp_path, "--no-ui", opts, "-C", str(repo), str(urls))
    wait_until(lambda: (journal_row(repo, "ign/big.bin") or ("", 0, None))[2] == BIG)
    first.kill()
    first.communicate()
    # The stand-in moment of the tests above: the whole download left in place, unadded.
    (repo / "ign").mkdir(exist_ok=True)
    (repo / "ign" / "big.bin").write_bytes(content("big", BIG))
    again = run_cli(tmp_path, "--no-ui", opts, "-C", str(repo), str(urls))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 found added" in again.stderr
    key = os.path.basename(os.readlink(repo / "ign" / "big.bin"))
    assert key.startswith("SHA1-"), key


def test_a_url_for_an_unlocked_file_whose_content_is_missing_fails_as_not_downloaded(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    url = server.file("a", 3000)
    git(repo, "config", "annex.addunlocked", "true")
    git(repo, "annex", "addurl", "--file", "a.bin", url)
    git(repo, "commit", "-qm", "a.bin")
    git(repo, "annex", "drop", "--force", "a.bin")  # tracked (unlocked), content elsewhere
    urls = write_urls(tmp_path / "urls.txt", [(url, "a.bin")])
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "content this repository lacks" in result.stdout


async def test_a_download_git_could_not_stage_fails_and_leaves_no_file_to_block_the_next_run(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    # git-annex added both; the index stayed locked past the wait (another git command).
    # Left in place, a file would fail every later run as "already exists".
    queue = DownloadQueue()
    ours = queue.add(server.file("a", 100), "a.bin")
    theirs = queue.add(server.file("b", 100), "b.bin")
    for item in (queue.take_next(), queue.take_next()):
        assert item is not None
        item.existed = item is theirs  # something was at b.bin before it was sent
        (repo / item.path).write_text("downloaded\n")
        queue.mark_finished(item, success=True, key=None, errors=(), note=None)
    (repo / ".git" / "index.lock").write_text("")
    settled = await settle_added(Repo(repo, git_annex), queue, [ours, theirs])
    assert settled == []
    assert ours.state is ItemState.FAILED and "its file was removed" in ours.errors[0]
    assert not (repo / "a.bin").exists()
    assert theirs.state is ItemState.FAILED and "removed" not in theirs.errors[0]
    assert (repo / "b.bin").read_text() == "downloaded\n"  # not ours to remove


async def test_a_forced_stop_says_how_many_finished_files_it_staged_not_how_many_it_tried(
    repo: Path, git_annex: GitAnnex
) -> None:
    session = Session(repo, git_annex=git_annex)
    (repo / "a.bin").write_text("finished\n")
    (repo / "b.bin").write_text("finished\n")
    said = await session._stage(Repo(repo, git_annex), ["a.bin"])
    assert (said.level, said.text) == (
        "info",
        "staged 1 file(s) git-annex finished before it was stopped",
    )
    (repo / ".git" / "index.lock").write_text("")  # another git command holds the index
    said = await session._stage(Repo(repo, git_annex), ["b.bin"])
    assert (said.level, said.text) == (
        "warning",
        "staged 0 file(s) git-annex finished before it was stopped; 1 could not be "
        "(the index is locked, or git refuses the path)",
    )
