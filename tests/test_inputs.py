"""Input parsing: one bad record never costs another, whatever it holds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.conftest import git
from tui_annex.demo_server import LocalServer
from tui_annex.inputs import InputRecord, Rejection, parse_json, parse_lines, read_records


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


def test_a_repeated_csv_column_is_refused_with_the_reason(tmp_path: Path) -> None:

    from tui_annex.inputs import read_records

    table = tmp_path / "t.csv"
    table.write_text("url,path,species,Species\nhttps://example.org/a,a,cat,dog\n")

    async def read() -> list[InputRecord | Rejection]:
        return [r async for r in read_records(str(table), metadata_columns=("*",))]

    header, row = asyncio.run(read())
    assert isinstance(header, Rejection) and header.line == 1
    assert "'species' and 'Species'" in header.reason and "folds" in header.reason
    assert isinstance(row, Rejection) and "header is unusable" in row.reason


def test_json_metadata_fields_git_annex_would_fold_together_are_refused() -> None:
    record = parse_json(
        json.dumps({"url": "https://example.org/a", "metadata": {"Tag": "x", "tag": "y"}}),
        "in.jsonl",
        1,
    )
    assert isinstance(record, Rejection)
    assert "'Tag' and 'tag' are one field to git-annex" in record.reason


def test_metadata_of_a_file_git_annex_put_in_git_is_an_error_per_item(
    tmp_path: Path, repo: Path, server: LocalServer
) -> None:

    git(repo, "config", "annex.largefiles", "nothing")
    records = tmp_path / "m.jsonl"
    records.write_text(
        json.dumps({"url": server.file("small", 50), "path": "small.txt", "metadata": {"k": "v"}})
        + "\n"
        + json.dumps({"url": server.file("plain", 50), "path": "plain.txt"})
        + "\n"
    )
    result = run_cli(tmp_path, "--no-ui", "-C", str(repo), str(records))
    assert result.returncode == 1
    assert "small.txt: git-annex put the file in git, not in the annex" in result.stderr
    assert "plain.txt" not in result.stderr


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


def test_a_quote_never_closed_costs_only_its_own_csv_row(tmp_path: Path) -> None:
    import asyncio

    from tui_annex.inputs import read_records

    table = tmp_path / "q.csv"
    table.write_text(
        'url,path\nhttps://e.org/a,a.bin\nhttps://e.org/b,"b.bin\nhttps://e.org/c,c.bin\n'
        "https://e.org/d,d.bin\n"
    )

    async def read() -> list[InputRecord | Rejection]:
        return [r async for r in read_records(str(table))]

    records = asyncio.run(read())
    assert [r.path for r in records if isinstance(r, InputRecord)] == ["a.bin", "c.bin", "d.bin"]
    [refused] = [r for r in records if isinstance(r, Rejection)]
    assert refused.line == 3 and "never closed" in refused.reason
