"""--shard K/N: disjoint shares of one input, stable across runs and input order, that N
clones download on N machines and git-annex's own sync brings together."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env, run_cli
from tests.conftest import git, init_repo
from tui_annex.annex.locate import GitAnnex
from tui_annex.demo_server import LocalServer
from tui_annex.inputs import InputRecord, shard_of


def record(url: str, path: str | None) -> InputRecord:
    return InputRecord(url=url, path=path, source="in", line=1)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_record_falls_in_exactly_one_share_whatever_the_input_order(count: int) -> None:
    records = [record(f"https://example.org/{n}", f"d{n % 5}/f{n}.bin") for n in range(500)]
    shares = {r.path: shard_of(r, count) for r in records}
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    assert {r.path: shard_of(r, count) for r in shuffled} == shares
    assert set(shares.values()) == set(range(1, count + 1)), "no share is left empty"
    if count > 1:
        sizes = [list(shares.values()).count(k) for k in range(1, count + 1)]
        assert min(sizes) > 500 / count / 2, sizes  # spread, not lumped


def test_a_share_follows_the_path_as_sent_not_how_it_is_spelled() -> None:
    for count in (2, 5, 11):
        sent = shard_of(record("https://example.org/x", "a/b.bin"), count)
        assert shard_of(record("https://example.org/x", "./a//b.bin"), count) == sent
        # A path derived from the URL is the same destination as that path given.
        assert shard_of(record("https://example.org/dir/b.bin", None), count) == shard_of(
            record("https://example.org/other", "b.bin"), count
        )


def test_the_share_of_a_path_is_fixed_for_good() -> None:
    # Machines running different versions must agree: these values may never change.
    assert [shard_of(record("u", p), 3) for p in ("a.bin", "b.bin", "c/d.bin")] == [1, 2, 3]
    assert [shard_of(record("u", f"f{n}.bin"), 4) for n in range(8)] == [3, 4, 1, 1, 3, 1, 4, 1]


@pytest.mark.parametrize(
    "given",
    [
        "0/2",
        "3/2",
        "2",
        "a/b",
        "1/0",
        "1/10001",
        "-1/2",
        " 1/2",
        "+1/2",
        "1_0/20",
        "\u0661/\u0662",
        "1/2 ",
    ],
)
def test_a_bad_shard_is_refused_in_one_sentence(tmp_path: Path, given: str) -> None:
    result = run_cli(tmp_path, "--no-ui", "--shard", given, "-C", str(tmp_path), "x.txt")
    assert result.returncode == 2
    assert "--shard" in result.stderr and "K/N" in result.stderr
    assert "Traceback" not in result.stderr


def annex_in(repo: Path, annex: GitAnnex, *args: str) -> str:
    return subprocess.run(
        annex.argv(*args),
        cwd=repo,
        env=annex.annex_env(cli_env(repo.parent)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def clone(origin: Path, target: Path, annex: GitAnnex) -> Path:
    subprocess.run(
        ["git", "clone", "--quiet", str(origin), str(target)],
        check=True,
        env=cli_env(target.parent),
        capture_output=True,
    )
    git(target, "config", "user.name", "shard")
    git(target, "config", "user.email", "shard@tui-annex.invalid")
    annex_in(target, annex, "init", "--quiet", target.name)
    git(target, "config", "annex.security.allowed-ip-addresses", "127.0.0.1")
    return target


@pytest.mark.timeout(300)
def test_two_shards_in_two_clones_sync_into_an_origin_that_holds_every_file_once(
    tmp_path: Path, server: LocalServer, git_annex: GitAnnex
) -> None:
    # The README's recipe: a bare origin with a first commit; both hosts clone it before
    # either has synced (they run at the same time), download their share, and sync.
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    annex_in(origin, git_annex, "init", "--quiet", "server")
    seed = clone(origin, tmp_path / "seed", git_annex)
    git(seed, "commit", "--quiet", "--allow-empty", "-m", "Start")
    git(seed, "push", "--quiet", "origin", "HEAD")
    annex_in(seed, git_annex, "sync", "--quiet")
    paths = [f"data/d{n % 3}/f{n}.bin" for n in range(12)]
    lines = [f"{server.file(f'f{n}', 300 + n)} {path}" for n, path in enumerate(paths)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(lines) + "\n")
    hosts = [clone(origin, tmp_path / f"host{share}", git_annex) for share in (1, 2)]

    taken: list[set[str]] = []
    for share, repo in enumerate(hosts, start=1):
        result = run_cli(tmp_path, "--no-ui", "--shard", f"{share}/2", "-C", str(repo), str(source))
        assert result.returncode == 0, result.stdout + result.stderr
        taken.append(set(git(repo, "ls-files", "data").split()))
        assert "belong to the other shares (--shard" in result.stdout + result.stderr
    for repo in hosts:
        annex_in(repo, git_annex, "sync", "--quiet", "--content")
    assert taken[0] and taken[1] and not taken[0] & taken[1], "disjoint shares"
    assert taken[0] | taken[1] == set(paths), "together, the whole input"
    assert len(server.gets()) == len(paths), "each file downloaded once, by one host"

    check = clone(origin, tmp_path / "check", git_annex)
    files = git(check, "ls-files").split()
    assert sorted(f for f in files if f.startswith("data/")) == sorted(paths)
    assert not [f for f in files if "variant" in f or "~" in f], "no conflict copies"
    present = annex_in(check, git_annex, "find", "--in", "origin", "data").split()
    assert sorted(present) == sorted(paths), "the origin holds every file's content"


def test_a_file_and_a_folder_of_it_in_two_shares_are_refused_as_one_run_would(
    tmp_path: Path, server: LocalServer, git_annex: GitAnnex
) -> None:
    first, second = record("u", "data"), record("u", "data/f.bin")
    assert shard_of(first, 2) != shard_of(second, 2), "the case: they fall in two shares"
    source = tmp_path / "urls.txt"
    source.write_text(f"{server.file('a', 100)} data\n{server.file('b', 100)} data/f.bin\n")
    outcomes = {}
    for share in (1, 2):
        repo = init_repo(tmp_path / f"host{share}", git_annex)
        result = run_cli(tmp_path, "--no-ui", "--shard", f"{share}/2", "-C", str(repo), str(source))
        said = result.stdout + result.stderr
        outcomes[share] = (result.returncode, git(repo, "ls-files").split(), said)
    owner = shard_of(first, 2)
    code, files, _said = outcomes[owner]
    assert (code, files) == (0, ["data"])
    code, files, said = outcomes[3 - owner]
    # Line 2 is refused, as a single run refuses it; this share has nothing else: status 2.
    assert code == 2 and files == []
    assert "another share" in said, said
