"""``tui-annex demo``: a local server, a throwaway repository, and the app on a demo input file.

Everything lives in a temporary folder that is removed on exit (unless ``keep``);
only that repository may download from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from .annex.locate import GitAnnex, find_git_annex
from .demo_server import LocalServer
from .job import Job
from .options import RunOptions
from .ui.app import run_app

__all__ = ["demo_lines", "main", "make_demo_repo", "run_demo"]


def demo_lines(server: LocalServer) -> list[tuple[str, str]]:
    """The demo's ``(url, path)`` pairs: quick small files, throttled big ones, a 404, a 500."""
    lines: list[tuple[str, str]] = []
    for number in range(24):
        size = 2_000 + (number * 37_919) % 400_000
        lines.append((server.file(f"table-{number:02d}", size), f"tables/table-{number:02d}.csv"))
    for number, (size, rate) in enumerate(
        [(3_000_000, 150_000), (4_500_000, 250_000), (2_000_000, 100_000), (6_000_000, 300_000)]
    ):
        name = f"scan-{number}"
        lines.append((server.file(name, size, rate=rate), f"images/{name}.tif"))
    lines.append((server.status(404, "missing"), "tables/missing.csv"))
    lines.append((server.status(500, "broken"), "images/broken.tif"))
    for number in range(12):
        size = 50_000 + number * 120_000
        lines.append((server.file(f"late-{number}", size, rate=400_000), f"late/part-{number}.bin"))
    return lines


def _git(annex: GitAnnex, repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, env=annex.env(), check=True, capture_output=True, text=True
    )


def make_demo_repo(path: Path, annex: GitAnnex) -> Path:
    """A new git-annex repository at ``path`` that (alone) may download from 127.0.0.1."""
    path.mkdir(parents=True)
    _git(annex, path, "init", "--quiet")
    _git(annex, path, "config", "user.name", "tui-annex demo")
    _git(annex, path, "config", "user.email", "demo@tui-annex.invalid")
    subprocess.run(
        annex.argv("init", "--quiet", "tui-annex demo"),
        cwd=path,
        env=annex.annex_env(),
        check=True,
        capture_output=True,
    )
    _git(annex, path, "config", "annex.security.allowed-ip-addresses", "127.0.0.1")
    return path


def run_demo(
    *,
    keep: bool = False,
    jobs: int = 4,
    git_annex: str | None = None,
    console: Console | None = None,
) -> int:
    """Serve demo files, make a temporary repository, run the app on them; clean up after."""
    console = console or Console()
    annex = find_git_annex(git_annex)
    workdir = Path(tempfile.mkdtemp(prefix="tui-annex-demo-"))
    server = LocalServer().start()
    job: Job | None = None
    try:
        repo = make_demo_repo(workdir / "repo", annex)
        urls = workdir / "demo-urls.txt"
        urls.write_text("".join(f"{url} {path}\n" for url, path in demo_lines(server)))
        options = RunOptions(
            repo=repo, inputs=(str(urls),), jobs=jobs, git_annex=git_annex, create=False
        )
        job = Job(options)
        return run_app(job, console=console)
    finally:
        server.close()
        if keep:
            console.print(f"demo repository kept in {workdir / 'repo'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] = ()) -> int:
    """``tui-annex demo [--keep] [-J N] [--git-annex PATH]``."""
    parser = argparse.ArgumentParser(
        prog="tui-annex demo",
        description="Run the app on generated downloads from a local server, in a "
        "temporary repository that is removed afterwards.",
    )
    parser.add_argument("--keep", action="store_true", help="keep the demo repository")
    parser.add_argument("-J", "--jobs", type=int, default=4, help="parallel downloads")
    parser.add_argument("--git-annex", metavar="PATH", help="the git-annex to use")
    args = parser.parse_args(list(argv))
    return run_demo(keep=args.keep, jobs=args.jobs, git_annex=args.git_annex)
