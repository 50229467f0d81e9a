"""Large inputs read by the reader process: the same records, refusals and reasons as
parsed in process, and no reader outlives the run that started it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import git
from tests.helpers import staged
from tui_annex import loader
from tui_annex.annex.locate import GitAnnex
from tui_annex.checked import CheckedBatch, check_batch
from tui_annex.demo_server import LocalServer
from tui_annex.events import InputRejected, RoundFinished
from tui_annex.inputs import InputRecord, Rejection, parse_lines
from tui_annex.job import Job
from tui_annex.loader import ReaderFailed, ReadSettings, record_batches
from tui_annex.options import RunOptions
from tui_annex.queue import DownloadQueue
from tui_annex.validation import all_plain, check_url, normalize_path

pytestmark = pytest.mark.timeout(120)

HTTP = ReadSettings(frozenset({"http"}))

PLAIN = "".join(f"http://127.0.0.1/f/{n}.bin d{n % 7}/f{n}.bin\n" for n in range(600))

TEXT_HOSTILE = (
    (
        "\ufeffhttp://127.0.0.1/first.bin first.bin\r\n"
        + PLAIN
        + "# a comment\n\n"
        + "http://127.0.0.1/derived/name%20x.bin\n"
        + "http://127.0.0.1/derived/name%20x.bin\n"  # the same derived path: refused
        + "http://127.0.0.1/f/0.bin d0/f0.bin\n"  # a path already taken: refused in the loop
        + "http://127.0.0.1/a file\nhttp://127.0.0.1/b file/inside\n"  # a file, then a folder
        + "http://127.0.0.1/t\tin/tabs.bin\n"
        + "http://127.0.0.1/s   several  spaces.bin\n"
        + "http://127.0.0.1/u\u00a0unicode-space.bin\n"
        + "ftp://127.0.0.1/refused.bin ftp.bin\n"
        + "HTTP://127.0.0.1/upper.bin upper.bin\n"
        + "http://127.0.0.1:8080/port4.bin port4.bin\n"
        + "http://127.0.0.1:12345/port5.bin port5.bin\n"
        + "http://127.0.0.1:65536/badport.bin badport.bin\n"
        + "http://127.0.0.1/p ../escape.bin\n"
        + "http://127.0.0.1/p .git/config\n"
        + "http://127.0.0.1/p /absolute.bin\n"
        + "http://127.0.0.1/p a//double/./slash.bin\n"
        + "http://127.0.0.1/p ./dot-first.bin\n"
        + "http://127.0.0.1/p legit/digit.bin\n"
        + "http://127.0.0.1/p folder/\n"
        + "http://127.0.0.1/p :magic.bin\n"
        + "http://127.0.0.1/p .\n"
        + f"http://127.0.0.1/p {'n' * 300}.bin\n"
        + "http://127.0.0.1/c\x1bcontrol.bin control.bin\n"
        + "http://b\u00fccher.example/\n"  # an international host: sent in its ASCII form
        + "http://b\u00fccher.example/other first.bin\n"  # refused: quoted as given
    ).encode()
    + b"http://127.0.0.1/\xff\xfe bad-utf8.bin\n"
    + PLAIN.replace("/f/", "/g/").replace("d", "e").encode()
    + b"http://127.0.0.1/last.bin last-without-newline.bin"
)

JSONL_HOSTILE = (
    "".join(
        json.dumps({"url": f"http://127.0.0.1/j/{n}", "path": f"j/{n}.bin"}) + "\n"
        for n in range(300)
    )
    + json.dumps({"url": "http://127.0.0.1/m", "path": "m.bin", "metadata": {"k": ["v", "w"]}})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/x", "path": "x.bin", "extra_urls": ["http://1.2.3.4/x"]})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/y", "path": "y.bin", "extra_urls": ["gopher://y"]})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/n", "path": "new\nline.bin"})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/n\nhttp://127.0.0.1/o", "path": "o.bin"})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/derived-only"})
    + "\n"
    + "{not json\n[1, 2]\n"
    + json.dumps({"path": "no-url.bin"})
    + "\n"
    + json.dumps({"url": "http://127.0.0.1/bad-meta", "metadata": {"lastchanged": ["x"]}})
    + "\n"
    + '{"url": "http://\\ud800/"}\n'  # a lone surrogate for a host, and no path
    + json.dumps({"url": "http://127.0.0.1/after-the-surrogate", "path": "after.bin"})
    + "\n"
).encode()

CSV_HOSTILE = (
    "url,path,colour\n"
    + "".join(f"http://127.0.0.1/c/{n},c/{n}.bin,{'red' if n % 2 else ''}\n" for n in range(300))
    + 'http://127.0.0.1/q,"quoted\nover two lines.bin",blue\n'
    + "http://127.0.0.1/w,too,many,columns\n"
    + "http://127.0.0.1/c/1,c/1.bin,taken\n"
    + 'http://127.0.0.1/open,"never closed.bin,green\n'
    + "http://127.0.0.1/after,after.bin,\n"
).encode() + b'http://127.0.0.1/x,"x\n\xff\ny",\nhttp://127.0.0.1/c/2,c/2.bin,\n'


@pytest.fixture
def every_file_to_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read every input file through the reader process, however small."""
    monkeypatch.setattr(loader, "READER_MIN_BYTES", 0)


def run_loader(
    name: str, *, in_process: bool, **kwargs: object
) -> tuple[list[Any], list[Any], set[str]]:
    """Queue input ``name`` the way a run does; its items, refusals and batch kinds."""
    queue = DownloadQueue()
    refused: list[Rejection] = []
    kinds: set[str] = set()

    async def read() -> None:
        settings = ReadSettings(queue.schemes, **kwargs)  # type: ignore[arg-type]
        batches = record_batches(name, settings, in_process=in_process)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                kinds.add(type(batch).__name__)
                if isinstance(batch, CheckedBatch):
                    refused.extend(queue.add_checked(batch)[1])
                else:
                    refused.extend(queue.add_records(batch)[1])

    asyncio.run(read())
    items = [
        (item.url, item.path, item.metadata, item.extra_urls, item.source, item.line)
        for item in queue.pending()
    ]
    return items, [(r.source, r.line, r.reason, r.text) for r in refused], kinds


@pytest.mark.parametrize(
    ("suffix", "content", "options"),
    [
        ("txt", TEXT_HOSTILE, {}),
        ("jsonl", JSONL_HOSTILE, {}),
        ("csv", CSV_HOSTILE, {"metadata_columns": ("colour",)}),
        ("tsv", CSV_HOSTILE.replace(b",", b"\t"), {"metadata_columns": ("*",)}),
    ],
    ids=["text", "jsonl", "csv", "tsv"],
)
def test_the_reader_process_queues_the_same_items_and_refusals_as_the_parser_in_process(
    tmp_path: Path,
    every_file_to_the_reader: None,
    suffix: str,
    content: bytes,
    options: dict[str, object],
) -> None:
    source = tmp_path / f"input.{suffix}"
    source.write_bytes(content)
    expected = run_loader(str(source), in_process=True, **options)
    got = run_loader(str(source), in_process=False, **options)
    assert got[2] == {"CheckedBatch"}  # the reader process read it
    assert expected[2] == {"list"}
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert len(expected[0]) > 250 and len(expected[1]) >= 4  # the input holds both kinds


def test_a_small_file_is_parsed_in_process_and_a_large_one_by_the_reader(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text(PLAIN)
    large = tmp_path / "large.txt"
    with large.open("w") as out:
        while out.tell() < loader.READER_MIN_BYTES:
            out.write(PLAIN.replace("d", f"x{out.tell()}-"))
    assert run_loader(str(small), in_process=False)[2] == {"list"}
    items, refused, kinds = run_loader(str(large), in_process=False)
    assert kinds == {"CheckedBatch"}
    assert not refused and len(items) == len(large.read_text().splitlines())


async def read_into(got: list[CheckedBatch | list[InputRecord | Rejection]], source: Path) -> None:
    """Read input ``source`` batch by batch into ``got`` (what came before a failure stays)."""
    async with contextlib.aclosing(record_batches(str(source), HTTP)) as batches:
        async for each in batches:
            got.append(each)


def dying_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, status: int, said: str = ""
) -> CheckedBatch:
    """Make runs read through a stand-in reader (a real one cannot be made to die on
    demand): it sends the records of ``text`` as one batch, says ``said`` and exits with
    ``status``. Return the batch it sends."""
    batch = check_batch("ignored", parse_lines(text), {"http"})
    frame = pickle.dumps(("batch", batch.pack()))
    script = tmp_path / "dying_reader.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            frame = {frame!r}
            sys.stdout.buffer.write(len(frame).to_bytes(4, "little") + frame)
            sys.stdout.flush()
            print({said!r}, file=sys.stderr, end="")
            sys.exit({status})
            """
        )
    )
    monkeypatch.setattr(loader, "READER_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "reader_command", lambda: [sys.executable, str(script)])
    return batch


async def test_a_reader_that_dies_part_way_ends_the_input_with_its_words_after_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in reader (a real one cannot be made to die on demand): one batch, then exit 3.
    batch = dying_reader(tmp_path, monkeypatch, PLAIN[:200], 3, "the disk went away")
    source = tmp_path / "input.txt"
    source.write_text(PLAIN)
    got: list[CheckedBatch | list[InputRecord | Rejection]] = []
    read_all = functools.partial(read_into, got, source)

    with pytest.raises(ReaderFailed) as failure:
        await read_all()
    assert all(isinstance(each, CheckedBatch) for each in got)
    assert [len(each.urls) for each in got if isinstance(each, CheckedBatch)] == [len(batch.urls)]
    assert isinstance(got[0], CheckedBatch) and got[0].source == str(source)
    assert str(failure.value) == (
        "the input reader process ended early (exit status 3): the disk went away"
    )


async def test_a_run_whose_reader_dies_keeps_what_was_read_and_reports_the_input_failed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    repo: Path,
    git_annex: GitAnnex,
    server: LocalServer,
) -> None:
    lines = [(server.file(f"r{n}", 20), f"r{n}.bin") for n in range(2)]
    dying_reader(tmp_path, monkeypatch, "".join(f"{url} {path}\n" for url, path in lines), 9)
    source = tmp_path / "urls.txt"
    source.write_text("".join(f"{url} {path}\n" for url, path in lines) * 3)
    job = Job(RunOptions(repo=repo, inputs=(str(source),), jobs=2, grace=2.0))
    events = [event async for event in job.events()]
    finished = events[-1]
    assert isinstance(finished, RoundFinished)
    assert (finished.done, finished.exit_code) == (2, 1)
    assert set(git(repo, "ls-files").split()) == {"r0.bin", "r1.bin"}
    rejected = [event for event in events if isinstance(event, InputRejected)]
    assert [(event.source, event.line) for event in rejected] == [(str(source), 0)]
    assert "exit status 9" in rejected[0].reason
    job.close()


async def test_a_run_reading_a_large_input_through_the_reader_adds_the_files_and_refuses_the_bad(
    tmp_path: Path,
    every_file_to_the_reader: None,
    repo: Path,
    git_annex: GitAnnex,
    server: LocalServer,
) -> None:
    source = tmp_path / "urls.txt"
    source.write_text(
        f"{server.file('one', 30)} one.bin\n"
        f"{server.file('two', 30)} sub/two.bin\n"
        f"{server.file('three', 30)} one.bin\n"  # taken
        "ftp://127.0.0.1/x ftp.bin\n"
        f"{server.file('four', 30)}\n"  # derived path
    )
    job = Job(RunOptions(repo=repo, inputs=(str(source),), jobs=2, grace=2.0))
    events = [event async for event in job.events()]
    finished = events[-1]
    assert isinstance(finished, RoundFinished)
    assert (finished.done, finished.failed, finished.exit_code) == (3, 0, 1)
    assert set(git(repo, "ls-files").split()) == {"one.bin", "sub/two.bin", "four"}
    refused = sorted(
        (event.line, event.reason) for event in events if isinstance(event, InputRejected)
    )
    assert [line for line, _ in refused] == [3, 4]
    assert "another item already downloads to 'one.bin'" in refused[0][1]
    assert not staged(repo)  # committed
    job.close()


def _reader_pids(parent: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(pid) for pid in (task / "children").read_text().split()]
    return [
        pid for pid in found if b"tui_annex.loader" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not status[status.rfind(")") + 2 :].startswith("Z")


async def test_a_run_that_stops_reading_leaves_no_reader_process(tmp_path: Path) -> None:
    large = tmp_path / "large.txt"
    large.write_text(PLAIN * (2 * loader.READER_MIN_BYTES // len(PLAIN) + 1))
    batches = record_batches(str(large), HTTP)
    first = await anext(batches)
    assert isinstance(first, CheckedBatch)
    readers = _reader_pids(os.getpid())
    assert len(readers) == 1 and _alive(readers[0])
    await batches.aclose()
    assert not _alive(readers[0])


def test_a_reader_dies_with_the_run_that_started_it_even_by_kill_9(tmp_path: Path) -> None:
    large = tmp_path / "large.txt"
    large.write_text(PLAIN * (8 * loader.READER_MIN_BYTES // len(PLAIN) + 1))
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from tests.test_loader import _reader_pids
        from tui_annex.loader import ReadSettings, record_batches

        async def main():
            batches = record_batches({str(large)!r}, ReadSettings(frozenset({{"http"}})))
            await anext(batches)
            print(*_reader_pids(os.getpid()), flush=True)
            await asyncio.Event().wait()  # reads no more: the reader blocks on a full pipe

        asyncio.run(main())
        """
    )
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    readers = [int(pid) for pid in run.stdout.readline().split()]
    assert len(readers) == 1 and _alive(readers[0])
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = asyncio.run(_gone_within(readers[0], 30))
    assert deadline, "the reader outlived the run that was killed"


async def _gone_within(pid: int, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while _alive(pid):
        if loop.time() > end:
            os.kill(pid, signal.SIGKILL)
            return False
        await asyncio.sleep(0.02)
    return True


PATHISH = st.text(alphabet="ab/.:-_gitG\n\x01 é", max_size=12)
URLISH = st.builds(
    lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
    st.sampled_from(["http", "HTTP", "https", "ftp", "hTtPs"]),
    st.text(alphabet="ab1.-_@", min_size=0, max_size=6),
    st.sampled_from(["", ":8", ":8080", ":65535", ":65536", ":"]),
    st.text(alphabet="/ab?#%\n \x7f~é", max_size=10),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(URLISH, PATHISH), min_size=1, max_size=6))
def test_urls_and_paths_checked_all_at_once_as_plain_are_each_accepted_unchanged(
    pairs: list[tuple[str, str]],
) -> None:
    urls = [url for url, _ in pairs]
    paths = [path for _, path in pairs]
    if not all_plain(urls, paths, {"http", "https"}):
        return
    for url, path in pairs:
        assert check_url(url, {"http", "https"}) == url
        assert normalize_path(path) == path


def test_common_urls_and_paths_are_checked_all_at_once() -> None:
    urls = [f"http://127.0.0.1:8080/files/{n}.bin?x=1#y" for n in range(50)]
    paths = [f"dir{n % 3}/sub/file {n}.bin" for n in range(50)]
    assert all_plain(urls, paths, {"http", "https"})
    assert not all_plain(urls, [*paths[:-1], "a//b"], {"http", "https"})
    assert not all_plain(urls, [*paths[:-1], "new\nline"], {"http", "https"})
    assert not all_plain([*urls[:-1], "http://a/x\nhttp://b/y"], paths, {"http", "https"})
    assert not all_plain(urls, paths, {"ftp"})


async def test_a_reader_started_early_is_taken_over_by_the_run_that_reads_the_input(
    tmp_path: Path,
    every_file_to_the_reader: None,
    repo: Path,
    git_annex: GitAnnex,
    server: LocalServer,
) -> None:
    source = tmp_path / "urls.txt"
    source.write_text(f"{server.file('one', 30)} one.bin\n{server.file('two', 30)} two.bin\n")
    job = Job(RunOptions(repo=repo, inputs=(str(source), str(source)), jobs=2, grace=2.0))
    job.read_early()
    early = list(loader._early.values())
    assert len(early) == 1  # one reader for an input named twice
    events = [event async for event in job.events()]
    finished = events[-1]
    assert isinstance(finished, RoundFinished)
    assert (finished.done, finished.exit_code) == (2, 1)  # the second naming: taken paths
    assert set(git(repo, "ls-files").split()) == {"one.bin", "two.bin"}
    assert not loader._early  # taken over
    assert early[0].returncode is not None  # and ended (reaped) when the input did
    job.close()


@pytest.mark.parametrize("in_process", [True, False], ids=["in process", "reader"])
def test_a_host_that_is_a_lone_surrogate_is_refused_and_the_records_after_it_are_read(
    tmp_path: Path, every_file_to_the_reader: None, in_process: bool
) -> None:
    source = tmp_path / "input.jsonl"
    source.write_text('{"url": "http://\\ud800/"}\n{"url": "http://127.0.0.1/b", "path": "b"}\n')
    items, refused, _kinds = run_loader(str(source), in_process=in_process)
    assert [item[1] for item in items] == ["b"]
    assert [(line, "not valid Unicode" in reason) for _, line, reason, _ in refused] == [(1, True)]


async def test_a_reader_that_fails_inside_says_why_and_ends_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_file_to_the_reader: None
) -> None:
    # The real reader with one fault injected: checking the second slice raises.
    script = tmp_path / "faulty_reader.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(loader.__file__).parent.parent)!r})
            import tui_annex.loader as loader
            real, calls = loader.check_batch, []
            def check_batch(*args):
                calls.append(1)
                if len(calls) == 2:
                    raise RuntimeError("injected")
                return real(*args)
            loader.check_batch = check_batch
            loader.serve()
            """
        )
    )
    monkeypatch.setattr(loader, "reader_command", lambda: [sys.executable, str(script)])
    source = tmp_path / "input.txt"
    source.write_text(PLAIN)
    got: list[CheckedBatch | list[InputRecord | Rejection]] = []
    read_all = functools.partial(read_into, got, source)

    with pytest.raises(ReaderFailed, match="reading stopped: RuntimeError: injected"):
        await asyncio.wait_for(read_all(), 60)
    assert [len(each) for each in got] == [256]


def test_records_rebuilt_from_a_checked_batch_keep_the_urls_as_the_input_gave_them() -> None:
    records = parse_lines("http://b\u00fccher.example/\nhttp://b\u00fccher.example/a a\n")
    batch = check_batch("in", records, {"http"})
    assert batch.urls[0].startswith("http://xn--")  # sent in the ASCII form
    again = CheckedBatch.unpack("in", batch.pack()).records()
    assert [(r.url, r.path) for r in again if isinstance(r, InputRecord)] == [
        ("http://b\u00fccher.example/", None),
        ("http://b\u00fccher.example/a", "a"),
    ]


async def test_a_large_input_reads_whole_after_another_was_closed_early(tmp_path: Path) -> None:
    large = tmp_path / "large.txt"
    large.write_text(PLAIN * (2 * loader.READER_MIN_BYTES // len(PLAIN) + 1))
    first = record_batches(str(large), HTTP)
    await anext(first)
    await first.aclose()
    count = 0
    async with contextlib.aclosing(record_batches(str(large), HTTP)) as second:
        async for batch in second:
            assert isinstance(batch, CheckedBatch)
            count += len(batch.urls)
    assert count == len(large.read_text().splitlines())


async def test_readers_started_early_for_inputs_a_run_never_reaches_are_stopped(
    tmp_path: Path, every_file_to_the_reader: None, repo: Path, git_annex: GitAnnex
) -> None:
    later = tmp_path / "later.txt"
    later.write_text(PLAIN)
    missing = tmp_path / "missing.txt"  # reading stops here: the later input is never read
    job = Job(RunOptions(repo=repo, inputs=(str(missing), str(later)), jobs=2, grace=2.0))
    job.read_early()
    early = list(loader._early.values())
    assert len(early) == 1 and early[0].poll() is None
    events = [event async for event in job.events()]
    assert isinstance(events[-1], RoundFinished) and events[-1].exit_code != 0
    assert not loader._early and early[0].returncode is not None
    job.close()
    unread = Job(RunOptions(repo=repo, inputs=(str(later),), jobs=2, grace=2.0))
    unread.read_early()
    early = list(loader._early.values())
    unread.close()  # a run that never started: its reader goes with it
    assert not loader._early and early[0].returncode is not None
