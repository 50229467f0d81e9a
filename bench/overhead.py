"""Whole-command cost against plain git-annex and gamdam, interleaved, as ratios.

Serves N generated files from a local server (its own process) on 127.0.0.1 and
adds them to a fresh repository, one round at a time, with each contender in
turn (the order rotates each round):

- plain: every line piped into ``git annex addurl --batch --with-files --json
  -J J``, then ``git commit`` (what a careful script does);
- tui-annex --no-ui: the whole command (input file, journal, commit, plain output);
- tui-annex --no-ui in a pseudo-terminal (its live progress bars), to its last line;
- the app: ``tui-annex`` in a pseudo-terminal, until its finished report shows;
- gamdam, when installed (``--gamdam PATH`` or on PATH): its JSON input, commit.

Prints the median wall time of each and the median of the per-round ratios.

    python bench/overhead.py [--files 300] [--size 2000] [--jobs 4] [--rounds 7]
    python bench/overhead.py --files 20 --size 20000000 --rounds 5   # bandwidth-bound
    python bench/overhead.py --first-commit   # repositories with a commit already

Without ``--first-commit`` the repositories have no commit, as a new one has:
git-annex then looks the current branch up three times for each file (it keeps
only a branch that exists), which makes every contender slower.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_server import fresh_repo, server_process
from tui_annex.annex.locate import GitAnnex, find_git_annex


def plain(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        annex.argv("addurl", "--batch", "--with-files", "--json", "-J", str(jobs)),
        input="".join(line + "\n" for line in lines),
        cwd=repo,
        env=annex.annex_env(),
        text=True,
        capture_output=True,
        check=True,
    )
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "Add files"], cwd=repo, env=annex.env(), check=True
    )
    return time.perf_counter() - started


def command(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
    listing = repo.parent / "urls.txt"
    listing.write_text("".join(line + "\n" for line in lines))
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "tui_annex", "--no-ui", "-J", str(jobs), "-C", str(repo)),
            *("--log-file", str(repo.parent / "run.log"), str(listing)),
        ],
        env=annex.env(),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def in_pty(repo: Path, annex: GitAnnex, lines: list[str], jobs: int, *, headless: bool) -> float:
    listing = repo.parent / "urls.txt"
    listing.write_text("".join(line + "\n" for line in lines))
    env = {**annex.env(), "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(repo.parent)}
    started = time.perf_counter()
    child = pexpect.spawn(
        sys.executable,
        [
            *("-m", "tui_annex", "-J", str(jobs), "-C", str(repo)),
            *(["--no-ui"] if headless else []),
            *("--log-file", str(repo.parent / "run.log"), str(listing)),
        ],
        env=env,
        dimensions=(35, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=600,
        # Read as a terminal does, in large chunks, at a cost linear in what is drawn:
        # pexpect's default search copies all the output so far at every read (0.1 to
        # 0.3 s of CPU in a 300-file run of the app, taken from the cores it measures).
        maxread=1 << 16,
    )
    child.expect_exact("finished:" if headless else "Finished:")
    elapsed = time.perf_counter() - started
    if not headless:
        child.send("q")
    child.expect_exact(pexpect.EOF)
    child.close()
    return elapsed


def app(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
    """The app in a pseudo-terminal, until its finished report shows."""
    return in_pty(repo, annex, lines, jobs, headless=False)


def headless_in_a_terminal(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
    """``--no-ui`` in a pseudo-terminal: its live progress bars, until its last line."""
    return in_pty(repo, annex, lines, jobs, headless=True)


def gamdam_runner(executable: str) -> Callable[[Path, GitAnnex, list[str], int], float]:
    def gamdam(repo: Path, annex: GitAnnex, lines: list[str], jobs: int) -> float:
        listing = repo.parent / "urls.jsonl"
        with listing.open("w") as out:
            for line in lines:
                url, path = line.split(" ", 1)
                out.write(json.dumps({"url": url, "path": path}) + "\n")
        started = time.perf_counter()
        subprocess.run(
            [executable, "-J", str(jobs), "-C", str(repo), str(listing)],
            env=annex.env(),
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    return gamdam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--gamdam", help="the gamdam executable (default: on PATH, if any)")
    parser.add_argument("--no-app", action="store_true", help="leave the app out")
    parser.add_argument(
        "--first-commit",
        action="store_true",
        help="give each fresh repository a first (empty) commit before the run",
    )
    parser.add_argument(
        "--rate", type=int, help="bytes a second per download (a slower network), default: none"
    )
    args = parser.parse_args()
    annex = find_git_annex()
    contenders: dict[str, Callable[[Path, GitAnnex, list[str], int], float]] = {
        "plain addurl + commit": plain,
        "tui-annex --no-ui": command,
    }
    if not args.no_app:
        contenders["tui-annex --no-ui (pty)"] = headless_in_a_terminal
        contenders["tui-annex app (pty)"] = app
    gamdam = args.gamdam or shutil.which("gamdam")
    if gamdam:
        contenders["gamdam"] = gamdam_runner(gamdam)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with server_process() as origin, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = list(contenders)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                rate = f"&rate={args.rate}" if args.rate else ""
                lines = [
                    f"{origin}/file/{name[:5]}{round_}-{i}?size={args.size}{rate}"
                    f" d{i % 10}/f{i:05d}.bin"
                    for i in range(args.files)
                ]
                repo = fresh_repo(root, annex)
                if args.first_commit:
                    subprocess.run(
                        ["git", "commit", "--quiet", "--allow-empty", "-m", "First"],
                        cwd=repo,
                        env=annex.env(),
                        check=True,
                    )
                times[name].append(contenders[name](repo, annex, lines, args.jobs))
                shutil.rmtree(repo.parent, ignore_errors=True)
    limit = f" at {args.rate:,} bytes/s each" if args.rate else ""
    first = " (with a first commit)" if args.first_commit else ""
    print(
        f"{args.files} files of {args.size:,} bytes from 127.0.0.1{limit}, -J{args.jobs}, fresh"
        f" repository each{first}, commit included, {args.rounds} interleaved rounds,"
        f" {os.cpu_count()} CPUs"
    )
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"  {name:24} {median:7.2f} s  {args.files / median:8.1f} files/s")
    base = times["plain addurl + commit"]

    def ratio(name: str, against: list[float]) -> str:
        ratios = [a / b for a, b in zip(times[name], against, strict=True)]
        return f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})"

    for name in names[1:]:
        print(f"  ratio {name} / plain: {ratio(name, base)}")
    if gamdam:
        print(f"  ratio tui-annex --no-ui / gamdam: {ratio('tui-annex --no-ui', times['gamdam'])}")


if __name__ == "__main__":
    main()
