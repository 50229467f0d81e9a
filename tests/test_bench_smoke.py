"""Every benchmark runs, CI-sized, and prints its figures (no figure is judged here:
speed is measured by the scripts in bench/, never asserted by a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import cli_env

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "app_memory": (["--items", "2000", "--seconds", "3", "--rate", "50"], r"growth .* MB/min"),
    "commit": (["--files", "50"], r"50"),
    "journal": (["--files", "10", "--items", "500", "--pairs", "1"], r"ratio|per item"),
    "latency": (["--presses", "2", "--seconds", "1", "--items", "50"], r"p to screen"),
    "overhead": (["--files", "6", "--rounds", "1"], r"ratio tui-annex --no-ui / plain"),
    "pipeline": (["--items", "300"], r"events/s"),
    "scale": (["--items", "2000"], r"to the full count"),
    "throughput": (["--files", "6", "--rounds", "1"], r"time ratio"),
    "ui_tick": (["--items", "2000", "--rounds", "6"], r"tick after progress"),
    "window": (["--files", "12", "--rounds", "1", "--windows", "2,0"], r"files/s"),
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(tmp_path: Path, name: str) -> None:
    import re

    arguments, expected = RUNS[name]
    env = cli_env(tmp_path)
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert re.search(expected, result.stdout), result.stdout
