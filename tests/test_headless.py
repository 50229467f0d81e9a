"""The `--no-ui` front end: rich output, plain lines, signals."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from tests.cli_helpers import cli_env
from tui_annex.demo_server import LocalServer
from tui_annex.events import ItemFinished, ItemProgress, ItemSent
from tui_annex.job import Job
from tui_annex.options import RunOptions
from tui_annex.rich_output import RichOutput


def started_rich_output() -> tuple[RichOutput, io.StringIO, Job]:
    """The rich front end of a job that never runs, started, writing to a buffer."""
    buffer = io.StringIO()
    job = Job(RunOptions(repo=Path("/nonexistent")))
    console = Console(file=buffer, force_terminal=True, color_system=None, width=100)
    output = RichOutput(console, job)
    output.start()
    return output, buffer, job


def test_rich_output_prints_paths_with_markup_literally() -> None:
    output, buffer, _job = started_rich_output()
    output.handle(
        ItemFinished(item_id=1, url="u", path="data[/]x.bin", success=False, errors=("[bold]no",))
    )
    output.progress.stop()
    assert "data[/]x.bin: [bold]no" in buffer.getvalue()


def test_rich_output_shows_one_bar_per_file_downloading_and_none_left_at_the_end() -> None:
    output, _buffer, job = started_rich_output()
    sent = ItemSent(item_id=1, url="u", path="again.bin", attempt=1)
    output.handle(sent)
    output.handle(ItemSent(item_id=2, url="u", path="held.bin", attempt=1))
    output.handle(ItemSent(item_id=3, url="u", path="waiting.bin", attempt=1))
    assert len(output.progress.tasks) == 1  # sent, none started: the overall bar alone
    output.handle(ItemProgress(item_id=1, url="u", path="again.bin", bytes_done=10, total=99))
    output.handle(ItemProgress(item_id=2, url="u", path="held.bin", bytes_done=5, total=99))
    # held.bin goes back to the queue (no event of its own); again.bin is cut off by a
    # restart and sent again, and resumes: one bar each, not two.
    output.handle(sent)
    output.handle(ItemProgress(item_id=1, url="u", path="again.bin", bytes_done=20, total=99))
    labels = [task.description for task in output.progress.tasks]
    assert labels.count("again.bin") == 1 and labels.count("held.bin") == 1
    assert "waiting.bin" not in labels
    output.finish(job, None)
    assert len(output.progress.tasks) == 1  # the overall bar alone


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


def test_plain_and_json_output_start_without_importing_rich_or_textual(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    # Output to a pipe or a file needs neither: leaving them out starts git-annex sooner.
    for name, mode in (("plain", []), ("json", ["--json"])):
        urls = tmp_path / f"{name}.txt"
        urls.write_text(f"{server.file(name, 100)} {name}.bin\n")
        command = [sys.executable, "-X", "importtime", "-m", "tui_annex", "--no-ui", *mode]
        result = subprocess.run(
            [*command, "-C", str(repo), str(urls)],
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        imported = {
            line.rsplit("|", 1)[-1].strip().split(".")[0]
            for line in result.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "tui_annex" in imported
        assert not imported & {"rich", "textual"}, mode
        assert f"{name}.bin" in result.stdout
        assert (repo / f"{name}.bin").exists()
