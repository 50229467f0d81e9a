"""``tui-annex history`` and ``tui-annex status``: the journal, read-only, from any terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .journal import Journal, JournalError, RunRecord, git_dir_of, journal_path
from .redact import redact

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2


def _parser(command: str) -> argparse.ArgumentParser:
    what = {
        "history": "The runs of tui-annex in a repository, newest first.",
        "status": "The run in progress in a repository (read from its journal), "
        "or how the last one ended.",
    }[command]
    parser = argparse.ArgumentParser(prog=f"tui-annex {command}", description=what)
    parser.add_argument("-C", "--chdir", metavar="DIR", default=".", help="the repository")
    parser.add_argument("--json", action="store_true", help="one JSON object (per run)")
    if command == "history":
        parser.add_argument(
            "-n", "--limit", type=int, default=20, help="how many runs (default: %(default)s)"
        )
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """Run ``tui-annex history`` or ``tui-annex status``; return the exit status."""
    args = _parser(command).parse_args(list(argv))
    repo = Path(args.chdir).expanduser()
    git_dir = git_dir_of(repo)
    if git_dir is None:
        print(f"tui-annex: {repo} is not the top of a git repository", file=sys.stderr)
        return EXIT_USAGE
    if not journal_path(git_dir).exists():
        print(json.dumps({"run": None}) if args.json else "no runs of tui-annex here yet")
        return EXIT_OK
    try:
        journal = Journal.open_read_only(journal_path(git_dir))
    except JournalError as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if command == "history":
            runs = journal.runs(limit=max(args.limit, 1))
            if args.json:
                for run in runs:
                    print(json.dumps(_run_json(run)))
            else:
                print("\n".join(history_lines(runs)))
        else:
            print("\n".join(status_lines(journal)) if not args.json else _status_json(journal))
    except JournalError as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        journal.close()
    return EXIT_OK


def outcome_of(run: RunRecord) -> str:
    """The run's outcome in words (``running``, ``died``, or how it ended)."""
    if run.alive:
        return "running"
    if run.died:
        return "died"
    return run.outcome or "?"


def history_lines(runs: Sequence[RunRecord]) -> list[str]:
    """One line per run: id, start, length, outcome, counts, commits."""
    if not runs:
        return ["no runs yet"]
    lines = []
    for run in runs:
        took = "?" if run.died else _duration((run.ended or time.time()) - run.started)
        counts = f"{run.done} done, {run.failed} failed"
        if run.interrupted:
            counts += f", {run.interrupted} interrupted"
        if run.unsent:
            counts += f", {run.unsent} not sent"
        if run.rejected:
            counts += f", {run.rejected} rejected"
        if run.ended is None:
            counts = "counts in `tui-annex status`" if run.alive else "never finished"
        commits = f" commit {', '.join(c[:12] for c in run.commits)}" if run.commits else ""
        links = []
        if run.resumed_from:
            links.append(f"resumes run {run.resumed_from}")
        if run.resumed_by:
            links.append(f"resumed by run {run.resumed_by}")
        link = f" ({'; '.join(links)})" if links else ""
        lines.append(
            f"run {run.id}  {_when(run.started)}  {took:>8}  {outcome_of(run):<8}  "
            f"{counts}{commits}{link}"
        )
    return lines


def status_lines(journal: Journal) -> list[str]:
    """The newest run: live counts, bytes, speed and the items in flight; or its outcome."""
    runs = journal.runs(limit=1)
    if not runs:
        return ["no runs yet"]
    run = runs[0]
    counts = journal.state_counts(run.id)
    total = sum(count for state, count in counts.items() if state != "removed")
    head = f"run {run.id} started {_when(run.started)} (pid {run.pid}): {outcome_of(run)}"
    parts = [f"{counts.get(state, 0)} {state}" for state in ("done", "failed", "sent", "queued")]
    if counts.get("interrupted"):
        parts.append(f"{counts['interrupted']} interrupted")
    lines = [head, f"{total} items: " + ", ".join(parts)]
    flying = list(journal.items(run.id, ("sent",)))
    if run.alive:
        done_bytes = sum(item.bytes_done for item in flying)
        speed = sum(item.rate for item in flying)
        lines.append(f"in flight: {len(flying)} · {_size(done_bytes)} so far · {_size(speed)}/s")
        for item in flying[:20]:
            size = f"{_size(item.bytes_done)} / {_size(item.total) if item.total else '?'}"
            lines.append(f"  {item.path}  {size}")
        if len(flying) > 20:
            lines.append(f"  ... and {len(flying) - 20} more")
    else:
        lines.extend(
            [f"ended {_when(run.ended)}, exit status {run.exit_code}"]
            if run.ended is not None
            else ["it died before it ended: the next run in this repository resumes it"]
        )
        if run.commits:
            lines.append(f"commits: {', '.join(run.commits)}")
    return lines


def _status_json(journal: Journal) -> str:
    runs = journal.runs(limit=1)
    if not runs:
        return json.dumps({"run": None})
    run = runs[0]
    record = _run_json(run)
    record["items"] = journal.state_counts(run.id)
    record["in_flight"] = [
        {"path": item.path, "url": redact(item.url), "bytes": item.bytes_done, "total": item.total}
        for item in journal.items(run.id, ("sent",))
    ]
    return json.dumps(record)


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "run": run.id,
        "started": run.started,
        "ended": run.ended,
        "outcome": outcome_of(run),
        "exit_code": run.exit_code,
        "done": run.done,
        "failed": run.failed,
        "interrupted": run.interrupted,
        "unsent": run.unsent,
        "rejected": run.rejected,
        "commits": run.commits,
        "inputs": run.inputs,
        "resumed_from": run.resumed_from,
        "resumed_by": run.resumed_by,
    }


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _size(value: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
