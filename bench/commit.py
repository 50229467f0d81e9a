"""Time to commit N added files while the user has something else staged.

tui-annex commits exactly the files a run added. With other changes staged it
builds the commit in a temporary index; this prints how long that takes for N
paths (plain git repository, small files), and checks the user's change stayed
staged and out of the commit.

    python bench/commit.py [--files 20000 40000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from tui_annex.annex.locate import find_git_annex
from tui_annex.annex.repo import Repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


async def measure(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        git(repo, "init", "-q")
        git(repo, "config", "user.name", "bench")
        git(repo, "config", "user.email", "bench@tui-annex.invalid")
        (repo / "base").write_text("base\n")
        git(repo, "add", "base")
        git(repo, "commit", "-qm", "base")
        paths = [f"d{index % 100}/f{index:06d}" for index in range(count)]
        for path in paths:
            (repo / path).parent.mkdir(exist_ok=True)
            (repo / path).write_text(path)
        (repo / "mine.txt").write_text("the user's\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        started = time.perf_counter()
        await Repo(repo, find_git_annex()).commit(paths, "bench")
        elapsed = time.perf_counter() - started
        committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
        assert len(committed) == count and "mine.txt" not in committed
        assert git(repo, "diff", "--cached", "--name-only").split() == ["mine.txt"]
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[5000, 20000, 40000])
    args = parser.parse_args()
    for count in args.files:
        print(f"{count:7d} paths, another change staged: {asyncio.run(measure(count)):6.2f} s")


if __name__ == "__main__":
    main()
