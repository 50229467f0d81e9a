"""Secrets stay secret: credentials in URLs are masked everywhere they are shown; the URL
given to git-annex keeps them; log files are readable by their owner only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.cli_helpers import run_cli
from tui_annex.demo_server import LocalServer
from tui_annex.redact import redact


def test_user_info_is_masked_and_the_rest_of_the_text_kept() -> None:
    assert redact("get https://ann:s3cret@host/x failed") == "get https://ann:***@host/x failed"
    assert redact("http://TOKEN@host/a?b=c@d") == "http://***@host/a?b=c@d"
    assert redact("mail me@example.org; https://host/x") == "mail me@example.org; https://host/x"


def test_credentials_never_reach_the_output_or_the_log_and_the_download_still_works(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    good = server.file("c", 500).replace("http://", "http://ann:s3cret@")
    bad = server.status(404, "gone").replace("http://", "http://ann:s3cret@")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{good} c.bin\n{bad} gone.bin\n")
    log = tmp_path / "run.log"
    failures = tmp_path / "left.jsonl"
    result = run_cli(
        tmp_path, "--json", "-C", str(repo), "--log-file", str(log), "-F", str(failures), str(urls)
    )
    assert result.returncode == 1
    assert (repo / "c.bin").exists()  # git-annex got the real URL
    shown = result.stdout + result.stderr + log.read_text()
    assert "s3cret" not in shown and "ann:***@" in shown
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(e.get("url", "").startswith("http://ann:***@") for e in events)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    # The failures file is an input to retry with: it keeps the real URL, for its owner only.
    assert "ann:s3cret@" in failures.read_text()
    assert stat.S_IMODE(failures.stat().st_mode) == 0o600


def test_a_password_holding_an_at_sign_is_masked_whole() -> None:
    assert redact("fetch https://dave:p@ss@host/x") == "fetch https://dave:***@host/x"
    assert redact("see https://host/a@b") == "see https://host/a@b"


def test_the_details_of_an_item_mask_credentials_in_every_url() -> None:
    from rich.console import Console

    from tui_annex.items import DownloadItem
    from tui_annex.ui.screens.details import details_table

    item = DownloadItem(
        id=1,
        url="https://ann:s3cret@host/a",
        path="a",
        extra_urls=("https://bob:hunter2@mirror/a",),
    )
    console = Console(width=120, record=True)
    console.print(details_table(item))
    shown = console.export_text()
    assert "s3cret" not in shown and "hunter2" not in shown
    assert "ann:***@host" in shown and "bob:***@mirror" in shown
