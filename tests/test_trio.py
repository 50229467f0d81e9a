"""The engine driven from trio code through trio-asyncio."""

from __future__ import annotations

from pathlib import Path

import trio
import trio_asyncio

from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.events import Event, ItemFinished
from tui_annex.session import Session
from tui_annex.trio_adapter import download, session_events


def test_session_events_under_trio_run(
    repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    async def main() -> list[Event]:
        async with trio_asyncio.open_loop():
            session = Session(repo, git_annex=git_annex, jobs=2)
            session.queue.add(server.file("t1", 3000), "t1.bin")
            session.queue.add(server.status(404), "t2.bin")
            session.queue.close()
            return [event async for event in session_events(session)]

    events = trio.run(main)
    finished = {e.path: e.success for e in events if isinstance(e, ItemFinished)}
    assert finished == {"t1.bin": True, "t2.bin": False}


def test_download_in_one_call_from_trio(
    repo: Path, git_annex: GitAnnex, server: LocalServer
) -> None:
    report = trio.run(download, repo, [(server.file("one", 10), "one.bin")])
    assert [item.path for item in report.done] == ["one.bin"]
    assert (repo / "one.bin").exists()
