"""A STAND-IN git-annex for the benchmarks: the real one for every command but
``addurl --batch``, which it answers as ``STANDIN_MODE`` says.

- ``hold``: reads every line and never answers (a queue that stays queued, for
  launch and memory figures); exits at the end of its input.
- ``fast``: answers each line at once with ``STANDIN_PROGRESS`` progress
  records (default 2) and a success (the pipeline's ceiling).
- ``trickle``: never answers, but reports progress on the lines it holds,
  ``STANDIN_RATE`` records a second in all (default 1000): a busy screen.

``STANDIN_REAL`` is the real git-annex executable. Made executable by
:func:`install`.
"""

import json
import os
import stat
import sys
from pathlib import Path


def install(folder: Path, real: Path, mode: str) -> Path:
    """Write an executable stand-in into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "git-annex"
    script.write_text(
        f"#!{sys.executable}\nimport os\nos.environ.setdefault('STANDIN_REAL', {str(real)!r})\n"
        f"os.environ.setdefault('STANDIN_MODE', {mode!r})\n" + Path(__file__).read_text()
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def progress_line(line: str, done: int, total: int) -> str:
    """A progress record laid out as git-annex writes it."""
    _url, _, path = line.partition(" ")
    action = {"command": "addurl", "file": path, "input": [line]}
    record = {
        "action": action,
        "byte-progress": done,
        "percent-progress": f"{100 * done / total:.2f}%",
        "total-size": total,
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def trickle(rate: float) -> int:
    import select
    import time

    held: list[str] = []
    pending = b""
    done = 0
    step = 1 / rate
    next_at = time.monotonic()
    stdin = sys.stdin.fileno()
    while True:
        wait = max(next_at - time.monotonic(), 0)
        ready, _, _ = select.select([stdin], [], [], wait)
        if ready:
            chunk = os.read(stdin, 1 << 16)
            if not chunk:
                return 0
            pending += chunk
            *lines, pending = pending.split(b"\n")
            held += [line.decode() for line in lines]
        if held and time.monotonic() >= next_at:
            done += 1
            line = held[done % len(held)]
            sys.stdout.write(progress_line(line, done * 100, 10**12))
            sys.stdout.flush()
            next_at += step
            if next_at < time.monotonic() - 1:
                next_at = time.monotonic()


def main() -> int:
    args = sys.argv[1:]
    if not (args[:1] == ["addurl"] and "--batch" in args):
        real = os.environ["STANDIN_REAL"]
        os.execv(real, [real, *args])
    mode = os.environ.get("STANDIN_MODE", "fast")
    if mode == "trickle":
        return trickle(float(os.environ.get("STANDIN_RATE", "1000")))
    progress = int(os.environ.get("STANDIN_PROGRESS", "2"))
    out = sys.stdout
    for raw in sys.stdin:
        if mode == "hold":
            continue
        line = raw.rstrip("\n")
        _url, _, path = line.partition(" ")
        action = {"command": "addurl", "file": path, "input": [line]}
        for step in range(1, progress + 1):
            out.write(progress_line(line, step * 1000, progress * 1000))
        done = {**action, "success": True, "key": f"SHA256E-s{progress * 1000}--x", "note": ""}
        out.write(json.dumps({**done, "error-messages": []}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
