"""Property-based tests: the input parsers, the validators and the event parser never crash,
never accept a path outside the repository or into .git, and one record never affects another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_annex.annex.addurl import _PROGRESS, AddurlDriver
from tui_annex.annex.locate import GitAnnex
from tui_annex.events import ItemProgress
from tui_annex.inputs import InputRecord, Rejection, parse_json, parse_lines, parse_text
from tui_annex.queue import DownloadQueue
from tui_annex.validation import ValidationError, check_url, normalize_path

PIECES = st.sampled_from(
    [
        ".git",
        ".GIT",
        ".git.",
        ".git ",
        "git~1",
        ".git:x",
        "..",
        ".",
        "",
        "a",
        "b c",
        ":x",
        "\\",
        "/",
        "\u200c",
        "\x1b",
        "\n",
        "\u202e",
        "é",
        "x" * 300,
    ]
)
PATHS = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=8).map("/".join),
    st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=8).map("".join),
)


def _git_spelling(component: str) -> bool:
    folded = component.lower()
    for char in "\u200c\u200d\u200e\u200f\ufeff":
        folded = folded.replace(char, "")
    return folded.rstrip(". ") in (".git", "git~1") or folded.startswith(".git:")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(PATHS)
def test_an_accepted_path_stays_inside_the_repository_and_out_of_git(path: str) -> None:
    try:
        sent = normalize_path(path)
    except ValidationError:
        return
    assert sent and not sent.startswith("/") and "\n" not in sent and "\0" not in sent
    for component in sent.split("/"):
        assert component not in ("", ".", "..")
    for component in sent.replace("\\", "/").split("/"):  # git treats \ as / for .git
        assert not _git_spelling(component), sent
    assert not any(ord(char) < 32 or ord(char) == 127 for char in sent)
    assert normalize_path(sent) == sent  # what is sent passes again, unchanged


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_url_checks_raise_nothing_but_a_reason(url: str) -> None:
    try:
        check_url(url)
    except ValidationError as error:
        reason = str(error)
    else:
        reason = "accepted"
    assert reason


LINES = st.one_of(
    st.text(max_size=60).filter(lambda text: "\n" not in text and "\r" not in text),
    st.builds(
        lambda url, path: json.dumps({"url": url, "path": path}),
        st.text(max_size=20),
        st.one_of(st.none(), st.text(max_size=20), st.integers()),
    ),
    st.just("[" * 5000 + "]" * 5000),
    st.just('{"url": "https://example.org/n", "n": ' + "9" * 5000 + "}"),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=6), st.integers(min_value=0, max_value=6))
def test_a_bad_line_never_changes_what_the_others_give(lines: list[str], at: int) -> None:
    good = "https://example.org/file.bin kept.bin"
    parsed = parse_lines("\n".join([*lines[:at], good, *lines[at:]]))
    ours = [
        r for r in parsed if isinstance(r, InputRecord) and r.url == "https://example.org/file.bin"
    ]
    assert any(r.path == "kept.bin" for r in ours)
    for line in lines:
        for parse in (parse_json, parse_text):
            result = parse(line, "in", 1)
            assert result is None or isinstance(result, InputRecord | Rejection)


def _driver(tmp: Path) -> AddurlDriver:
    queue = DownloadQueue()
    queue.add("https://example.org/a", "a")
    driver = AddurlDriver(queue, tmp, git_annex=GitAnnex(Path("/nonexistent/git-annex")), jobs=1)
    item = queue.take_next()
    assert item is not None
    driver.in_flight[item.input_line] = item
    return driver


STDOUT = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "success",
                        "input",
                        "byte-progress",
                        "total-size",
                        "action",
                        "key",
                        "note",
                        "error-messages",
                        "file",
                        "command",
                    ]
                ),
                children,
                max_size=6,
            )
        ),
        max_leaves=12,
    ).map(json.dumps),
    st.just('{"success": true, "input": ["https://example.org/a a"], "key": 5}'),
    st.just('{"byte-progress": "12", "action": {"input": ["https://example.org/a a"]}}'),
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(STDOUT)
def test_no_stdout_line_of_git_annex_crashes_the_event_parser(tmp_path: Path, line: str) -> None:
    driver = _driver(tmp_path)
    event = driver._parse(line)
    assert event is None or event.kind


def _outcome(check: object, text: str) -> str:
    try:
        return "ok:" + check(text)  # type: ignore[operator]
    except ValidationError as error:
        return "refused:" + str(error)


ASCII_PATHS = st.lists(
    st.one_of(PIECES, st.text(alphabet="ab./:\\~ gitGIT-_x", max_size=8)), max_size=8
).map("/".join)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(PATHS, ASCII_PATHS))
def test_the_quick_path_check_says_exactly_what_the_full_rule_says(path: str) -> None:
    from tui_annex.validation import _normalize_fully

    assert _outcome(normalize_path, path) == _outcome(_normalize_fully, path)


URLS = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "HTTPS", "ftp", "file", "gopher", "h"]),
    st.text(alphabet="abc.-0123456789@:[]", max_size=12),
    st.sampled_from(["", ":80", ":65535", ":65536", ":99999", ":", ":0x1"]),
    st.text(alphabet="/?#ab %", max_size=6),
)


@settings(max_examples=500)
@given(st.one_of(URLS, st.text(max_size=40)))
def test_the_quick_url_check_says_exactly_what_the_full_rule_says(url: str) -> None:
    from tui_annex.validation import _check_url_fully

    assert _outcome(check_url, url) == _outcome(_check_url_fully, url)


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from("ab #\t\u00a0\u3000/:\n"), max_size=20))
def test_a_text_line_splits_at_its_first_blanks_however_they_are_written(line: str) -> None:
    import re

    record = parse_text(line, "in", 1)
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        assert record is None
        return
    match = re.fullmatch(r"(\S+)(?:\s+(.*))?", stripped, re.DOTALL)
    assert match is not None and isinstance(record, InputRecord)
    assert (record.url, record.path) == (match[1], match[2] or None)


_OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "send", "progress", "finish", "fail", "remove", "edit", "update"]),
        st.integers(min_value=0, max_value=40),
    ),
    max_size=120,
)


@given(_OPERATIONS)
def test_the_models_counts_always_match_a_full_count_of_the_queue(
    operations: list[tuple[str, int]],
) -> None:
    from tui_annex.items import ItemState
    from tui_annex.widgets.model import QueueModel

    queue = DownloadQueue()
    model = QueueModel(queue)
    added = 0
    for operation, pick in operations:
        items = list(queue)
        item = items[pick % len(items)] if items else None
        if operation == "add":
            added += 1
            queue.add(f"https://example.org/{added}", f"f{added}.bin")
        elif operation == "send":
            queue.take_next()
        elif item is None:
            continue
        elif operation == "progress" and item.state is ItemState.SENT:
            queue.mark_progress(item, pick * 10, 1000)
        elif operation in ("finish", "fail") and item.state is ItemState.SENT:
            queue.mark_finished(
                item, success=operation == "finish", key=None, errors=("x",), note=None
            )
        elif operation == "remove" and (item.state.editable or item.state.retryable):
            queue.remove([item.id])
        elif operation == "edit" and item.state.editable:
            queue.edit(item.id, path=f"edited/{item.id}-{pick}.bin")
        elif operation == "update":
            model.update()
    model.update()
    totals = model.totals()
    assert totals.counts == queue.counts()
    assert totals.items == len(queue)
    assert totals.bytes_done == sum(i.bytes_done for i in queue)
    assert sorted(model.order) == sorted(i.id for i in queue)
    assert model.longest_path >= max((len(i.path) for i in queue), default=0)


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(max_size=30),
    st.integers(min_value=0, max_value=10**15),
    st.none() | st.integers(min_value=0, max_value=10**15),
    st.booleans(),
)
def test_a_progress_line_in_git_annexs_layout_reads_as_its_json_says(
    tmp_path: Path, path: str, done: int, total: int | None, ascii_only: bool
) -> None:
    driver = _driver(tmp_path)
    line = f"https://example.org/x {path}"
    item = next(iter(driver.in_flight.values()))
    driver.in_flight = {line: item}
    record: dict[str, object] = {
        "action": {"command": "addurl", "file": path, "input": [line]},
        "byte-progress": done,
        "percent-progress": "1%",
    }
    if total is not None:
        record["total-size"] = total
    compact = json.dumps(record, separators=(",", ":"), ensure_ascii=ascii_only)
    spaced = json.dumps(record, ensure_ascii=ascii_only)  # never the quick layout
    if "\\" not in compact:
        assert _PROGRESS.fullmatch(compact), "read without a JSON parse"
    quick, full = driver._parse(compact), driver._parse(spaced)
    assert isinstance(quick, ItemProgress) and quick == full
    assert (quick.bytes_done, quick.total, quick.item_id) == (done, total, item.id)


@pytest.mark.parametrize("number", ["9" * 5000, "007", "-1", "1e3", "١٢"])
def test_a_progress_line_with_an_unusual_number_is_left_to_the_json_parse_without_a_crash(
    tmp_path: Path, number: str
) -> None:
    # A number of thousands of digits (past int()'s limit), with leading zeros, negative,
    # in exponent form or in other scripts' digits: left to the JSON parse, never a crash.
    driver = _driver(tmp_path)
    line = next(iter(driver.in_flight))
    text = (
        f'{{"action":{{"command":"addurl","file":"a","input":["{line}"]}},'
        f'"byte-progress":{number},"percent-progress":"1%","total-size":10}}'
    )
    assert not _PROGRESS.fullmatch(text)
    event = driver._parse(text)  # the JSON path's answer, whatever it is; no exception
    assert event is None or event.kind
