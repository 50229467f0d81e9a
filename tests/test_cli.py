"""``tui-annex --no-ui`` end to end: real command, real git-annex, local HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import git
from tui_annex.demo_server import LocalServer, content
from tui_annex.inputs import InputRecord, read_records

PLAIN_LINE = re.compile(r"\d\d:\d\d:\d\d (done|failed|interrupted|finished)\b.*")


def committed_files(repo: Path) -> set[str]:
    return set(git(repo, "show", "--name-only", "--format=", "HEAD").split("\n")) - {""}


def test_text_input_adds_files_commits_exactly_them_and_prints_plain_lines(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    (repo / "mine.txt").write_text("the user's own work\n")
    git(repo, "add", "mine.txt")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# a comment, then a blank line\n\n"
        f"{server.file('a', 3000)} a.bin\n"
        f"{server.file('b', 5000)} sub dir/b file.bin\n"
        f"{server.file('c', 10)}\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls), "-m", "Got {count}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(PLAIN_LINE.fullmatch(line) for line in lines), lines
    assert "finished: 3 done, 0 failed; committed" in lines[-1]
    assert committed_files(repo) == {"a.bin", "sub dir/b file.bin", "c"}
    assert git(repo, "log", "-1", "--format=%s").strip() == "Got 3"
    # what the user had staged stays staged and out of the commit
    assert git(repo, "diff", "--cached", "--name-only").split() == ["mine.txt"]
    assert (repo / "sub dir/b file.bin").read_bytes() == content("b", 5000)


def test_bad_lines_are_reported_with_file_line_and_reason_and_good_ones_still_run(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "list.txt"
    urls.write_text(
        f"{server.file('ok', 100)} ok.bin\n"
        f"{server.file('x', 100)} ../escape.bin\n"
        "not-a-url somewhere.bin\n"
        f"{server.file('y', 100)} ok.bin\n"
        f"{server.file('z', 100)} .git/config\n"
        f"{server.file('ok2', 100)} ok2.bin\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1
    err = result.stderr
    assert f"rejected {urls}:2: the path contains '..'" in err
    assert f"rejected {urls}:3: the URL has no scheme" in err
    assert f"rejected {urls}:4: another item already downloads to 'ok.bin'" in err
    assert f"rejected {urls}:5: the path goes into .git" in err
    assert committed_files(repo) == {"ok.bin", "ok2.bin"}


def test_jsonl_metadata_and_extra_urls_are_recorded(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = [
        {
            "url": server.file("m1", 1000),
            "path": "m1.bin",
            "metadata": {"author": ["Ada", "Grace"], "year": "1843"},
            "extra_urls": [server.file("mirror1", 1000)],
        },
        {"url": server.file("m2", 2000), "path": "nested/m2.bin"},
        {"url": server.file("m3", 10), "path": "m3", "metadata": {"bad field": ["x"]}},
    ]
    urls = tmp_path / "records.jsonl"
    urls.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1  # the third record is rejected
    assert "records.jsonl:3: illegal metadata field name 'bad field'" in result.stderr
    meta = json.loads(git(repo, "annex", "metadata", "--json", "m1.bin"))
    assert meta["fields"]["author"] == ["Ada", "Grace"]
    assert meta["fields"]["year"] == ["1843"]
    whereis = json.loads(git(repo, "annex", "whereis", "--json", "m1.bin"))
    urls_known = {u for remote in whereis["whereis"] for u in remote.get("urls", [])}
    assert server.file("mirror1", 1000) in urls_known
    assert committed_files(repo) == {"m1.bin", "nested/m2.bin"}


def test_csv_with_metadata_columns(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    table = tmp_path / "files.csv"
    table.write_text(
        "name,link,species,notes\n"
        f'a.dat,{server.file("c1", 100)},cat,"plain"\n'
        f'b.dat,{server.file("c2", 100)},dog,"two\nlines"\n'
    )
    result = run_cli(
        tmp_path,
        "--no-ui",
        "-C",
        str(repo),
        "--url-column",
        "link",
        "--path-column",
        "name",
        "--metadata-columns",
        "species,notes",
        str(table),
    )
    assert result.returncode == 0, result.stderr
    meta = json.loads(git(repo, "annex", "metadata", "--json", "b.dat"))
    assert meta["fields"]["species"] == ["dog"]
    assert meta["fields"]["notes"] == ["two\nlines"]


def test_failures_file_round_trips(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    records = [
        {"url": server.status(404, "gone"), "path": "gone.bin", "metadata": {"k": ["v"]}},
        {"url": server.file("fine", 100), "path": "fine.bin"},
        {"url": server.status(500, "err"), "path": "err.bin", "extra_urls": [server.file("e", 1)]},
    ]
    urls = tmp_path / "in.jsonl"
    urls.write_text("".join(json.dumps(r) + "\n" for r in records))
    failures = tmp_path / "failed.jsonl"
    first = run_cli(
        tmp_path, "--no-ui", "--retries", "0", "-C", str(repo), str(urls), "-F", str(failures)
    )
    assert first.returncode == 1
    written = [json.loads(line) for line in failures.read_text().splitlines()]
    assert sorted(written, key=lambda r: r["path"]) == sorted(
        [records[0], records[2]], key=lambda r: str(r["path"])
    )

    async def parse() -> list[InputRecord]:
        return [r async for r in read_records(str(failures)) if isinstance(r, InputRecord)]

    assert len(asyncio.run(parse())) == 2
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(failures), "-F", str(failures))
    assert again.returncode == 1
    assert len(server.gets("gone")) == 2 and len(server.gets("fine")) == 1


def test_exit_codes(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n")
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(empty)).returncode == 2
    assert run_cli(tmp_path, "--no-ui", "--jobs", "0", str(empty)).returncode == 2
    missing = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "nope.txt" in missing.stderr
    one = tmp_path / "one.txt"
    one.write_text(f"{server.file('one', 10)} one.bin\n")
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(one)).returncode == 0
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{server.status(404)} missing.bin\n")
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(bad)).returncode == 1


def test_chdir_creates_a_missing_repository_and_refuses_an_unusable_folder(
    tmp_path: Path, server: LocalServer
) -> None:
    one = tmp_path / "one.txt"
    one.write_text(f"{server.file('one', 10)} one.bin\n")
    fresh = tmp_path / "new" / "repo"
    run_cli(tmp_path, "--no-ui", "-C", str(fresh), str(one))
    assert (fresh / ".git").is_dir()
    assert git(fresh, "config", "annex.uuid").strip()
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    result = run_cli(tmp_path, "--no-ui", "-C", str(a_file), str(one))
    assert result.returncode == 2 and "is not a folder" in result.stderr
    sub = fresh / "sub"
    sub.mkdir()
    inside = run_cli(tmp_path, "--no-ui", "-C", str(sub), str(one))
    assert inside.returncode == 2 and "not its top" in inside.stderr


def test_derived_path_collisions_are_reported_not_overwritten(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('same', 10)}\n{server.base}/file/same?size=20\n")
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert "urls.txt:2: another item already downloads to 'same' (path 'same' derived" in (
        result.stderr
    )
    assert (repo / "same").read_bytes() == content("same", 10)


def test_json_output_is_one_object_per_event(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('j', 5000)} j.bin\n{server.status(404)} x.bin\n")
    result = run_cli(tmp_path, "--json", "-C", str(repo), str(urls))
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "round-finished"
    finished = {e["path"]: e["success"] for e in events if e["event"] == "finished"}
    assert finished == {"j.bin": True, "x.bin": False}
    assert events[-1]["exit_code"] == result.returncode == 1


def test_stdin_is_read_as_a_stream(tmp_path: Path, repo: Path, server: LocalServer) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_annex", "--no-ui", "-C", str(repo)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
    )
    assert process.stdin is not None
    process.stdin.write(f"{server.file('early', 100)} early.bin\n")
    process.stdin.flush()
    # The first download starts while the input is still open.
    server.wait_for(lambda requests: any(r.name == "early" and r.method == "GET" for r in requests))
    _out, err = process.communicate(f"{server.file('late', 100)} late.bin\n", timeout=60)
    assert process.returncode == 0, err
    assert {"early.bin", "late.bin"} <= committed_files(repo)


def test_no_commit_and_no_commit_on_failure(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('n1', 10)} n1.bin\n{server.status(404)} x.bin\n")
    run_cli(tmp_path, "--no-ui", "--no-commit-on-failure", "-C", str(repo), str(urls))
    assert git(repo, "rev-list", "--count", "--all", "--", "n1.bin").strip() == "0"
    assert "n1.bin" in git(repo, "diff", "--cached", "--name-only")
    urls.write_text(f"{server.file('n2', 10)} n2.bin\n")
    run_cli(tmp_path, "--no-ui", "--no-commit", "-C", str(repo), str(urls))
    assert git(repo, "rev-list", "--count", "--all", "--", "n2.bin").strip() == "0"
    assert set(git(repo, "diff", "--cached", "--name-only").split()) == {"n1.bin", "n2.bin"}


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version(tmp_path: Path, flag: str) -> None:
    result = run_cli(tmp_path, flag)
    assert result.returncode == 0 and "tui-annex" in result.stdout


@pytest.mark.parametrize(("retries", "outcome"), [(0, 1), (2, 0)])
def test_retries_queue_a_failed_download_again(
    tmp_path: Path, repo: Path, server: LocalServer, retries: int, outcome: int
) -> None:
    urls = tmp_path / "urls.txt"
    # One attempt is a HEAD and a GET: the first attempt fails, the second works.
    urls.write_text(f"{server.flaky('shaky', 500, fail=2)} shaky.bin\n")
    result = run_cli(
        tmp_path,
        "--no-ui",
        "--retries",
        str(retries),
        "--retry-wait",
        "0.1",
        "-C",
        str(repo),
        str(urls),
    )
    assert result.returncode == outcome, result.stdout + result.stderr
    assert (repo / "shaky.bin").exists() == (outcome == 0)
    if retries:
        assert "shaky.bin: download failed: Service Unavailable; retry 1 of 2 in" in result.stderr


def test_addurl_opts_takes_a_value_that_starts_with_a_dash_in_both_spellings(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('fast', 3000)} fast.bin\n")
    result = run_cli(tmp_path, "--no-ui", "--addurl-opts", "--fast", "-C", str(repo), str(urls))
    assert result.returncode == 0, result.stderr
    fast = repo / "fast.bin"
    assert fast.is_symlink() and not fast.exists()  # --fast: added without its content
    urls.write_text(f"{server.file('rel', 3000)} rel.bin\n")
    joined = run_cli(tmp_path, "--no-ui", "--addurl-opts=--relaxed", "-C", str(repo), str(urls))
    assert joined.returncode == 0, joined.stderr


@pytest.mark.parametrize(
    "option", ["--quiet", "-q", "--json", "--json-progress", "--jobs=1", "-J2"]
)
def test_addurl_options_that_change_its_output_are_refused(
    tmp_path: Path, repo: Path, option: str
) -> None:
    result = run_cli(tmp_path, "--no-ui", "--addurl-opts", option, "-C", str(repo), "x.txt")
    assert result.returncode == 2
    assert "managed by tui-annex" in result.stderr


def test_an_addurl_option_git_annex_rejects_fails_the_run_at_start(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('u', 100)} u.bin\n")
    result = run_cli(tmp_path, "--json", "--addurl-opts=--bogus", "-C", str(repo), str(urls))
    assert result.returncode == 2
    assert "Invalid option `--bogus'" in result.stdout + result.stderr
    assert '"event": "sent"' not in result.stdout and server.requests == []


@pytest.mark.parametrize(
    "option",
    [
        ("--stall-timeout", "-1"),
        ("--stall-timeout", "1e-300"),
        ("--grace", "-5"),
        ("--grace", "nan"),
        ("-J", "0"),
        ("-J", "10000000"),
        ("--retries", "2000"),
    ],
)
def test_numeric_options_out_of_range_are_refused(tmp_path: Path, option: tuple[str, str]) -> None:
    result = run_cli(tmp_path, "--no-ui", *option, "x.txt")
    assert result.returncode == 2
    assert option[0] in result.stderr and "Traceback" not in result.stderr


def test_a_log_file_that_cannot_be_written_is_said_once_and_the_run_goes_on(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('l', 100)} l.bin\n")
    result = run_cli(
        tmp_path, "--no-ui", "--log-file", "/dev/null/x.log", "-C", str(repo), str(urls)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("no log file: /dev/null/x.log") == 1
    assert (repo / "l.bin").exists()


def test_closed_output_streams_cost_nothing_and_never_mix(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('s', 100)} s.bin\n{server.status(404, 'x')} x.bin\n")
    base = f"{sys.executable} -m tui_annex --no-ui --retries 0 -C {repo} {urls}"
    closed_out = subprocess.run(
        ["bash", "-c", f"{base} >&-; echo status $?"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert closed_out.stdout.strip() == "status 1" and "Traceback" not in closed_out.stderr
    assert (repo / "s.bin").exists()
    closed_err = subprocess.run(
        ["bash", "-c", f"{base} 2>&-"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert all(PLAIN_LINE.fullmatch(line) for line in closed_err.stdout.splitlines())
    closed_in = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m tui_annex --no-ui -C {repo} - <&-"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "standard input is closed" in closed_in.stderr and "Traceback" not in closed_in.stderr


def test_an_unknown_theme_is_refused_with_the_names_to_choose_from(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.org/a a\n")
    result = run_cli(tmp_path, "--theme", "no-such-theme", "-C", str(tmp_path / "r"), str(urls))
    assert result.returncode == 2
    assert "--theme: no theme 'no-such-theme' (choose from" in result.stderr
    assert "textual-light" in result.stderr and "Traceback" not in result.stderr


def test_a_ctrl_c_caught_while_a_dataclass_is_made_still_exits_with_130(tmp_path: Path) -> None:
    # CPython marks an interpreter to end by SIGINT when a KeyboardInterrupt leaves code
    # run by exec() of a string (as dataclasses make their methods while the engine
    # imports), even if it is caught; "interrupted before the run started" is 130.
    # Run as ``python -m``, as the command is (``-c`` ends another way).
    (tmp_path / "interrupted.py").write_text(
        "import sys\n"
        "from tui_annex.cli import _interrupted_before_the_run\n"
        "try:\n"
        "    exec('raise KeyboardInterrupt')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(_interrupted_before_the_run())\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "interrupted"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert result.stderr == "tui-annex: interrupted before the run started\n"
