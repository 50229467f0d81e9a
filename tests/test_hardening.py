"""Inputs and situations that used to lose items, poison a batch, or hang."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import git
from tests.helpers import make_job, staged
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.events import ItemFinished, ItemSent
from tui_annex.headless import RichOutput
from tui_annex.inputs import InputRecord, Rejection, read_records
from tui_annex.items import ItemState
from tui_annex.job import Job
from tui_annex.options import RunOptions
from tui_annex.session import Session
from tui_annex.validation import ValidationError, check_field_name, check_url, normalize_path


def test_an_unparsable_url_is_rejected_and_the_rest_of_the_input_still_runs(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{server.file('a', 10)} a.bin\nhttp://[::1 bad.bin\n"
        + "".join(f"{server.file(f'g{i}', 10)} g{i}.bin\n" for i in range(3))
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert "urls.txt:2: the URL cannot be parsed" in result.stderr
    assert all((repo / f"g{i}.bin").exists() for i in range(3))


def test_lone_surrogates_are_rejected_before_they_reach_git_annex(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(
        json.dumps({"url": server.file("a", 10), "path": "a.bin"})
        + "\n"
        + '{"url": "'
        + server.file("b", 10)
        + '", "path": "b\\udc80.bin"}\n'
        + json.dumps(
            {"url": server.file("c", 10), "path": "c.bin", "metadata": {"k": "\ud800"}}
        ).replace("\\ud800", "\\ud800")
        + "\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert result.returncode == 1, result.stderr
    assert "r.jsonl:2: the path is not valid Unicode" in result.stderr
    assert "r.jsonl:3: the metadata value is not valid Unicode" in result.stderr
    assert (repo / "a.bin").exists()


@pytest.mark.parametrize("path", [":(glob)x.bin", "./:!x.bin", ":/top"])
def test_pathspec_magic_is_rejected(path: str) -> None:
    with pytest.raises(ValidationError, match="pathspec magic"):
        normalize_path(path)


@pytest.mark.parametrize("name", ["dc:title", "a+b", "a#b", "a,b", "-lead", "_lead", "a b"])
def test_metadata_names_git_annex_refuses_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="illegal metadata field name"):
        check_field_name(name)


@pytest.mark.parametrize("name", ["title", "a.b", "a_b", "x-y", "é", "2024"])
def test_metadata_names_git_annex_takes_pass(name: str) -> None:
    assert check_field_name(name) == name


def test_an_ipv6_url_with_a_bad_port_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot be parsed"):
        check_url("http://[::1/x")


async def test_a_stray_quote_in_an_unquoted_csv_field_does_not_swallow_the_file(
    tmp_path: Path,
) -> None:
    table = tmp_path / "t.csv"
    table.write_text(
        'url,path,size\nhttp://h/a,a.bin,5" floppy\n'
        + "".join(f"http://h/{i},f{i}.bin,x\n" for i in range(3))
        + 'http://h/q,q.bin,"quoted, with ""escapes"" and\na newline"\n'
    )
    records = [r async for r in read_records(str(table))]
    assert all(isinstance(r, InputRecord) for r in records), records
    assert [r.path for r in records if isinstance(r, InputRecord)] == [
        "a.bin",
        "f0.bin",
        "f1.bin",
        "f2.bin",
        "q.bin",
    ]


async def test_a_csv_field_over_128k_is_read(tmp_path: Path) -> None:
    table = tmp_path / "big.csv"
    table.write_text(f"url,path,desc\nhttp://h/a,a.bin,{'x' * 200_000}\n")
    records = [r async for r in read_records(str(table), metadata_columns=("desc",))]
    assert len(records) == 1 and isinstance(records[0], InputRecord)
    assert len(records[0].metadata["desc"][0]) == 200_000


async def test_a_bad_metadata_column_name_rejects_the_header_once(tmp_path: Path) -> None:
    table = tmp_path / "dc.csv"
    table.write_text("url,path,dc:title\nhttp://h/a,a.bin,T\n")
    records = [r async for r in read_records(str(table), metadata_columns=("*",))]
    assert isinstance(records[0], Rejection) and "column 'dc:title'" in records[0].reason


def test_a_path_below_an_existing_symlink_fails_alone(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    (repo / "f.txt").write_text("annexed\n")
    git(repo, "annex", "add", "f.txt")
    os.symlink("/tmp", repo / "outside")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{server.file('x', 10)} f.txt/x.bin\n{server.file('y', 10)} outside/y.bin\n"
        + "".join(f"{server.file(f'ok{i}', 10)} ok{i}.bin\n" for i in range(3))
    )
    result = run_cli(tmp_path, "--no-ui", "-J", "1", "-C", str(repo), str(urls))
    assert result.returncode == 1
    assert "failed f.txt/x.bin: f.txt is a symlink in the repository, not a folder" in result.stdout
    assert "failed outside/y.bin: outside is a symlink" in result.stdout
    assert all((repo / f"ok{i}.bin").exists() for i in range(3)), result.stdout


async def test_a_consumer_that_leaves_early_leaves_no_item_in_flight_and_stages_finished(
    repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    session = Session(repo, git_annex=git_annex, jobs=2, lookahead=0)
    session.queue.add(server.file("fast", 100), "fast.bin")
    session.queue.add(server.stall("slow"), "slow.bin")
    session.queue.add(server.file("later", 100), "later.bin")
    session.queue.close()
    async with contextlib.aclosing(session.events()) as events:
        async for event in events:
            if isinstance(event, ItemSent) and event.path == "slow.bin":
                session.queue.pause()
            if isinstance(event, ItemFinished):
                break
    counts = session.queue.counts()
    assert counts[ItemState.SENT] == 0
    report = session.report()
    assert [i.path for i in report.interrupted] == ["slow.bin"]
    assert [i.path for i in report.unsent] == ["later.bin"]
    assert "fast.bin" in staged(repo)


async def test_a_job_cut_short_by_a_timeout_stages_what_finished(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    lines = [(server.file("done", 100), "done.bin"), (server.stall("hang"), "hang.bin")]
    job = make_job(tmp_path, repo, lines, jobs=2)

    finished = asyncio.Event()

    async def consume() -> None:
        async for event in job.events():
            if isinstance(event, ItemFinished):
                finished.set()

    # A timeout (asyncio.wait_for, a task group) cancels the consumer mid-run.
    task = asyncio.create_task(consume())
    await finished.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "done.bin" in staged(repo)
    assert job.queue.counts()[ItemState.SENT] == 0


def test_rich_output_prints_paths_with_markup_literally() -> None:
    buffer = io.StringIO()
    job = Job(RunOptions(repo=Path("/nonexistent")))
    console = Console(file=buffer, force_terminal=True, color_system=None, width=100)
    output = RichOutput(console, job)
    output.start()
    output.handle(
        ItemFinished(item_id=1, url="u", path="data[/]x.bin", success=False, errors=("[bold]no",))
    )
    output.progress.stop()
    assert "data[/]x.bin: [bold]no" in buffer.getvalue()


def test_a_fifo_input_does_not_block_signals(tmp_path: Path, repo: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_annex", "--no-ui", "-C", str(repo), str(fifo)],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Nobody ever writes the FIFO: opening it blocks, but only in the reading thread.
    with open(fifo, "wb"):
        pass  # opened and closed once, so the reader sees the end of input...
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode in (2, 130), err


def test_an_uncreatable_repository_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--no-ui", "-C", "/dev/null/sub", "-")
    assert result.returncode == 2
    assert "cannot create /dev/null/sub" in result.stderr


def test_metadata_is_recorded_when_the_file_was_already_there(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = tmp_path / "m.jsonl"
    url = server.file("m", 100)
    records.write_text(json.dumps({"url": url, "path": "m.bin", "metadata": {"v": "1"}}) + "\n")
    assert run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records)).returncode == 0
    records.write_text(json.dumps({"url": url, "path": "m.bin", "metadata": {"w": "2"}}) + "\n")
    again = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert "no annex key" not in again.stderr
    fields = json.loads(git(repo, "annex", "metadata", "--json", "m.bin"))["fields"]
    assert fields["v"] == ["1"] and fields["w"] == ["2"]


async def test_nothing_read_is_lost_when_reading_fails_part_way(
    tmp_path: Path, repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.file('a', 10)} a.bin\n")
    job = Job(
        RunOptions(
            repo=repo,
            inputs=(str(urls), str(tmp_path / "missing.txt")),
            git_annex=str(git_annex.executable),
        )
    )
    events = [event async for event in job.events()]
    assert job.last_round is not None and job.last_round.exit_code == 1
    assert any("missing.txt" in r.source for r in job.rejected)
    assert (repo / "a.bin").exists() and events
    await asyncio.sleep(0)
