"""Input parsing: one bad record never costs another, whatever it holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_cli
from tui_annex.demo_server import LocalServer
from tui_annex.inputs import InputRecord, Rejection, parse_json, parse_lines


def test_json_nested_too_deeply_is_refused_alone() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    records = parse_lines(
        '{"url": "https://example.org/a", "path": "a"}\n'
        f'{{"url": "https://example.org/b", "path": "b", "x": {deep}}}\n'
        '{"url": "https://example.org/c", "path": "c"}\n'
    )
    assert [type(r) for r in records] == [InputRecord, Rejection, InputRecord]
    rejected = records[1]
    assert isinstance(rejected, Rejection) and rejected.line == 2
    assert "nested too deeply" in rejected.reason


def test_a_number_too_long_to_read_is_refused_alone() -> None:
    huge = json.dumps({"url": "https://example.org/n", "path": "n"})[:-1] + ', "n": '
    huge += "9" * 5000 + "}"
    record = parse_json(huge, "in.jsonl", 7)
    assert isinstance(record, Rejection) and record.line == 7
    assert "cannot be read" in record.reason
    good = parse_json('{"url": "https://example.org/m"}', "in.jsonl", 8)
    assert isinstance(good, InputRecord)


def test_every_good_record_around_an_unreadable_one_is_added(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:
    records = tmp_path / "in.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    records.write_text(
        json.dumps({"url": server.file("a", 10), "path": "a"})
        + "\n"
        + f'{{"url": "{server.file("b", 10)}", "path": "b", "x": {deep}}}\n'
        + json.dumps({"url": server.file("c", 10), "path": "c", "n": 1})[:-1]
        + ', "big": '
        + "9" * 5000
        + "}\n"
        + json.dumps({"url": server.file("d", 10), "path": "d"})
        + "\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert result.returncode == 1
    assert "in.jsonl:2: the JSON is nested too deeply to read" in result.stderr
    assert "in.jsonl:3: the JSON cannot be read" in result.stderr
    assert "finished: 2 done, 0 failed, 2 rejected" in result.stdout
