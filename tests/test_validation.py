"""Every item is checked before it may reach git-annex."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tui_annex.demo_server import LocalServer
from tui_annex.validation import ValidationError, check_field_name, check_url, normalize_path


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("http://host/a b", "whitespace"),
        ("http://host/a\tb", "whitespace"),
        ("http://host/a\x07b", "control character"),
        ("http://host/a\u200bb", "control character"),
        ("ftp://host/file", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("host/file", "no scheme"),
        ("http:///path", "no host"),
    ],
)
def test_bad_url_is_rejected_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        check_url(url)


def test_other_schemes_pass_when_asked_for() -> None:
    assert check_url("ftp://host/file", {"http", "https", "ftp"}) == "ftp://host/file"


def test_good_urls_pass_unchanged() -> None:
    for url in ("http://127.0.0.1:8000/a?b=c&d", "https://example.org/%20x#frag"):
        assert check_url(url) == url


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("a\nb", "newline"),
        ("a\rb", "carriage return"),
        ("a\0b", "NUL"),
        ("/etc/passwd", "absolute"),
        ("../outside", r"'\.\.'"),
        ("a/../../b", r"'\.\.'"),
        (".git/config", r"\.git"),
        ("sub/.git/x", r"\.git"),
        ("folder/", "ends with a slash"),
        (".", "repository itself"),
        ("x" * 256, "longer than 255 bytes"),
        ("a\x1b[2Jb", r"control character \(U\+001B\)"),
        ("bell\x07", r"control character \(U\+0007\)"),
        ("evil\u202etxt.exe", r"control character \(U\+202E\)"),
        (".git./x", "git refuses to track"),
        ("a/.GIT ../b", "git refuses to track"),
        ("git~1/x", "git refuses to track"),
        (".git::$INDEX_ALLOCATION/x", "NTFS stream"),
        ("a\\.git\\hooks", "git refuses to track"),
        (".g\u200cit/x", "git refuses to track"),
    ],
)
def test_bad_path_is_rejected_with_its_reason(path: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        normalize_path(path)


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("a.bin", "a.bin"),
        ("./a.bin", "a.bin"),
        ("sub//dir/./file name.txt", "sub/dir/file name.txt"),
        ("..hidden/x..y", "..hidden/x..y"),
        ("a:b.txt", "a:b.txt"),
        ("c:/x", "c:/x"),
        (".github/x", ".github/x"),
        (".gitignore.d/git~2", ".gitignore.d/git~2"),
        ("\u0646\u0627\u0645\u200c\u0647\u0627.txt", "\u0646\u0627\u0645\u200c\u0647\u0627.txt"),
    ],
)
def test_good_path_is_normalized(path: str, sent: str) -> None:
    assert normalize_path(path) == sent


def test_an_internationalized_host_is_sent_in_its_ascii_form() -> None:
    assert check_url("https://user:pw@B\u00fccher.example:8080/\u00fc?q=1") == (
        "https://user:pw@xn--bcher-kva.example:8080/\u00fc?q=1"
    )


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


def test_an_internationalized_host_keeps_its_letters_and_its_port() -> None:
    # IDNA 2003 would send faß.de to fass.de, another domain.
    assert check_url("http://fa\u00df.de/x") == "http://xn--fa-hia.de/x"
    assert check_url("https://u:p@\u0130stanbul.example:8080/a").endswith("example:8080/a")


def test_a_port_out_of_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="port"):
        check_url("http://host:99999/x")


@pytest.mark.parametrize(
    ("allowed", "url"), [("x|y", "x|y://a/f"), ("", "://a/f"), ("1http", "1http://a/f")]
)
def test_a_url_without_a_valid_scheme_is_refused_whatever_names_are_allowed(
    allowed: str, url: str
) -> None:
    with pytest.raises(ValidationError, match="no scheme"):
        check_url(url, frozenset({"http", allowed}))


def test_allow_scheme_refuses_a_name_that_is_not_a_url_scheme(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--allow-scheme", "x|y", "--no-ui", "-", stdin="")
    assert result.returncode == 2
    assert "--allow-scheme 'x|y' is not a URL scheme" in result.stderr
    assert "Traceback" not in result.stderr
