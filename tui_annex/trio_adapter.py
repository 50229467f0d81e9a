"""Use the engine from trio code, through trio-asyncio (``pip install 'tui-annex[trio]'``).

Inside ``trio_asyncio.open_loop()``::

    async with trio_asyncio.open_loop():
        session = Session(repo, jobs=4)
        ...
        async for event in session_events(session):
            ...

or, for the whole job in one call, ``await download(repo, items)`` from plain trio.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import trio_asyncio

from . import session as _session
from .events import Event
from .items import StopReport
from .session import Session

__all__ = ["download", "session_events"]


async def session_events(session: Session) -> AsyncIterator[Event]:
    """Yield ``session``'s events in trio code; must run inside ``trio_asyncio.open_loop()``.

    Leaving the loop early, or a trio cancellation, stops git-annex as in asyncio.
    """
    async with trio_asyncio.aio_as_trio(session):
        async for event in trio_asyncio.aio_as_trio(session.events()):
            yield event


async def download(
    repo: str | os.PathLike[str], items: Iterable[tuple[str, str]], **options: Any
) -> StopReport:
    """Add every ``(url, path)`` to ``repo`` from trio code and return the report."""
    async with trio_asyncio.open_loop():
        report: StopReport = await trio_asyncio.aio_as_trio(_session.download)(
            repo, items, **options
        )
        return report
