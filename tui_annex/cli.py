"""Command line: parse options, pick a front end (the app, ``--no-ui``, or the demo)."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_log_dir

from . import __version__
from .annex.locate import GitAnnexNotFound, VersionCheck, find_git_annex
from .config import CONFIG_ENV, Config, ConfigError, default_config_path, load_config
from .defaults import (
    DEFAULT_GRACE,
    DEFAULT_MESSAGE,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_WAIT,
    DEFAULT_STALL_TIMEOUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    FORMATS,
)
from .options import RunOptions
from .validation import DEFAULT_SCHEMES, SCHEME

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .job import Job

__all__ = ["build_parser", "main", "options_from_args"]

EPILOG = """\
inputs:
  text   URL [PATH] per line; # comments and blank lines are skipped; PATH may hold spaces
  jsonl  {"url": ..., "path": ..., "metadata": {"field": ["value"]}, "extra_urls": [...]}
  csv/tsv  a header naming the url and path columns (--url-column, --path-column)
  A record without a path is saved under the last segment of its URL.

more commands:
  tui-annex history [-C DIR]   the runs in this repository: when, counts, outcome, commit
  tui-annex status [-C DIR]    the run in progress (from another terminal), or the last one

exit status: 0 all added, 1 some failed, 2 bad usage, no valid input or an unusable
  repository, 130 interrupted, 141 the output's reader went away.
Run `tui-annex demo` to see the app on generated downloads from a local server.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tui-annex``."""
    parser = argparse.ArgumentParser(
        prog="tui-annex",
        description="Add URLs to a git-annex repository, with live progress.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="input files; '-' or none: standard input (read as a stream)",
    )
    parser.add_argument("--version", action="version", version=f"tui-annex {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help=f"configuration file (default: ${CONFIG_ENV} or {default_config_path()})",
    )
    where = parser.add_argument_group("repository")
    where.add_argument(
        "-C",
        "--chdir",
        metavar="DIR",
        default=".",
        help="the repository (created with git init + git annex init when missing)",
    )
    where.add_argument(
        "-J",
        "--jobs",
        type=_jobs,
        default=os.cpu_count() or 1,
        help="parallel downloads (default: number of CPUs, %(default)s here)",
    )
    where.add_argument(
        "--retries",
        type=_retries,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="try a transient failure (5xx, 408, 429, a dropped or refused connection, a "
        "stall) again up to N times, after --retry-wait, then twice as long each time "
        "(jittered); a 404 or 403 is not "
        "retried (default: %(default)s)",
    )
    where.add_argument(
        "--retry-wait",
        type=_seconds,
        default=DEFAULT_RETRY_WAIT,
        metavar="SECONDS",
        help="pause before the first retry; it doubles for each next one (default: %(default)g)",
    )
    where.add_argument(
        "--stall-timeout",
        type=_timeout,
        default=DEFAULT_STALL_TIMEOUT,
        metavar="SECONDS",
        help="a download that gets no data for this long (from its start, when git-annex "
        "has a free job for it) fails as stalled and is retried; git-annex is restarted and "
        "the others resume (0: never; default: %(default)g)",
    )
    where.add_argument(
        "--addurl-opts",
        metavar="OPTS",
        default="",
        help="options passed to git annex addurl, e.g. '--fast' or '--raw --backend SHA1'",
    )
    where.add_argument(
        "--git-annex",
        metavar="PATH",
        help="the git-annex executable (default: $TUI_ANNEX_GIT_ANNEX, PATH, beside python)",
    )
    where.add_argument(
        "--allow-scheme",
        metavar="SCHEME",
        action="append",
        default=[],
        help="accept URLs with this scheme too (repeatable; http and https always)",
    )
    inputs = parser.add_argument_group("input")
    inputs.add_argument(
        "-f", "--format", choices=FORMATS, help="input format (default: by extension)"
    )
    inputs.add_argument("--url-column", default="url", help="CSV/TSV column of the URL")
    inputs.add_argument("--path-column", default="path", help="CSV/TSV column of the path")
    inputs.add_argument(
        "--metadata-columns",
        metavar="COLS",
        default="",
        help="comma-separated CSV/TSV columns to record as metadata; '*' for all others",
    )
    ending = parser.add_argument_group("commit and report")
    ending.add_argument(
        "-m",
        "--message",
        default=DEFAULT_MESSAGE,
        help="commit message; {count} is the number of files (default: %(default)r)",
    )
    ending.add_argument("--no-commit", action="store_true", help="stage only; do not commit")
    ending.add_argument(
        "--no-commit-on-failure",
        action="store_true",
        help="do not commit when anything failed or was not sent",
    )
    ending.add_argument(
        "-F",
        "--failures",
        metavar="FILE",
        type=Path,
        help="write failed and unsent items here as JSON Lines (an input you can feed back)",
    )
    ending.add_argument(
        "--log-file",
        metavar="FILE",
        type=Path,
        help="log file (default: a new file in the user log folder)",
    )
    ending.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="take only share K of N of the input (by destination path, the same share "
        "whatever the input order): run K=1..N in N clones to split a download over machines",
    )
    resuming = parser.add_argument_group(
        "resuming (a journal in the repository's git folder records every item)"
    )
    resuming.add_argument(
        "--resume",
        action="store_true",
        help="finish the last unfinished run in this repository (no input needed); "
        "without it, an unfinished run's items are merged with the input",
    )
    resuming.add_argument(
        "--fresh",
        action="store_true",
        help="set the journal aside (kept, dated) and start over",
    )
    resuming.add_argument(
        "--from-run",
        type=_positive_int,
        metavar="N",
        help="queue run N's failed and unfinished items again (see `tui-annex history`)",
    )
    resuming.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no journal: nothing to resume from after a crash",
    )
    ending.add_argument(
        "--grace",
        type=_seconds,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="forced stop: SIGKILL this long after SIGTERM (default: %(default)s)",
    )
    mode = parser.add_argument_group("front end")
    mode.add_argument(
        "--no-ui", action="store_true", help="no Textual app: progress or plain lines"
    )
    mode.add_argument(
        "--json", action="store_true", help="one JSON object per event (implies --no-ui)"
    )
    mode.add_argument(
        "--theme",
        metavar="NAME",
        help="the app's colour theme: a Textual theme such as nord, gruvbox, "
        "textual-light (default: textual-dark)",
    )
    return parser


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", text)  # ASCII digits only, nothing around
    k, n = (int(match[1]), int(match[2])) if match else (0, 0)
    if not 1 <= k <= n or n > MAX_SHARDS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 2/4 for the second of four"
        )
    return k, n


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def _timeout(text: str) -> float:
    value = _seconds(text)
    if 0 < value < 1:
        raise argparse.ArgumentTypeError("must be 0 (never) or at least 1 second")
    return value


def _jobs(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_JOBS:
        raise argparse.ArgumentTypeError(f"at most {MAX_JOBS} parallel downloads")
    return value


def _retries(text: str) -> int:
    value = _count(text)
    if value > MAX_RETRIES:
        raise argparse.ArgumentTypeError(f"at most {MAX_RETRIES}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


#: Bounds of -J and --retries: beyond them git-annex eats memory, or a run never ends.
MAX_JOBS = 256
MAX_RETRIES = 100
MAX_SHARDS = 10_000

#: How many log files of earlier runs are kept in the user log folder.
KEEP_LOGS = 50


def default_log_file() -> Path:
    """A new log file in the platform's user log folder; the oldest beyond KEEP_LOGS go."""
    folder = Path(user_log_dir("tui-annex", appauthor=False))
    with contextlib.suppress(OSError):
        old = sorted(folder.glob("tui-annex-*.log"))
        for stale in old[: max(len(old) - KEEP_LOGS + 1, 0)]:
            stale.unlink()
    return folder / time.strftime(f"tui-annex-%Y%m%d-%H%M%S-{os.getpid()}.log")


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """Turn parsed arguments into :class:`RunOptions`."""
    if args.resume and args.fresh:
        raise ValueError("--resume and --fresh contradict each other")
    if args.no_journal and (args.resume or args.from_run):
        raise ValueError("--resume and --from-run need the journal (drop --no-journal)")
    for scheme in args.allow_scheme:
        if not SCHEME.fullmatch(scheme):
            raise ValueError(
                f"--allow-scheme {scheme!r} is not a URL scheme "
                "(a letter, then letters, digits, '+', '-' or '.')"
            )
    # --resume and --from-run need no input: then standard input is not read.
    no_input = () if (args.resume or args.from_run) else ("-",)
    return RunOptions(
        repo=Path(args.chdir),
        inputs=tuple(args.inputs) or no_input,
        input_format=args.format,
        url_column=args.url_column,
        path_column=args.path_column,
        metadata_columns=tuple(c.strip() for c in args.metadata_columns.split(",") if c.strip()),
        jobs=args.jobs,
        addurl_options=tuple(shlex.split(args.addurl_opts)),
        git_annex=args.git_annex,
        schemes=frozenset(DEFAULT_SCHEMES | {s.lower() for s in args.allow_scheme}),
        message=args.message,
        commit=not args.no_commit,
        commit_on_failure=not args.no_commit_on_failure,
        failures=args.failures,
        retries=args.retries,
        retry_wait=args.retry_wait,
        stall_timeout=args.stall_timeout or None,
        grace=args.grace,
        log_file=args.log_file if args.log_file is not None else default_log_file(),
        journal=not args.no_journal,
        resume="resume" if args.resume else "fresh" if args.fresh else "auto",
        from_run=args.from_run,
        shard=args.shard,
    )


def _config_argument(arguments: list[str]) -> Path | None:
    """The --config value, read before the full parse so the file can set defaults."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(arguments)
    config: Path | None = known.config
    return config


def _parser_defaults(config: Config) -> dict[str, Any]:
    """The configuration file's defaults, checked as the same options on the command line."""
    defaults = dict(config.defaults)
    checks = {
        "jobs": _jobs,
        "retries": _retries,
        "grace": _seconds,
        "stall_timeout": _timeout,
        "retry_wait": _seconds,
    }
    for name, check in checks.items():
        if name in defaults:
            try:
                defaults[name] = check(str(defaults[name]))
            except argparse.ArgumentTypeError as error:
                option = name.replace("_", "-")
                raise ConfigError(f"{config.path}: [defaults] {option}: {error}") from error
    for name in ("failures", "log_file"):
        if name in defaults:
            defaults[name] = Path(defaults[name]).expanduser()
    if "allow_scheme" in defaults:
        defaults["allow_scheme"] = [str(s) for s in defaults["allow_scheme"]]
    return defaults


#: Options whose value is itself a command line, so it may start with a dash.
_COMMAND_LINE_VALUES = ("--addurl-opts",)


def _join_option_values(arguments: list[str]) -> list[str]:
    """``--addurl-opts --fast`` as ``--addurl-opts=--fast``: argparse would take the value
    for an option of its own."""
    joined: list[str] = []
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word in _COMMAND_LINE_VALUES and index + 1 < len(arguments):
            joined.append(f"{word}={arguments[index + 1]}")
            index += 2
            continue
        if word == "--":
            joined.extend(arguments[index:])
            break
        joined.append(word)
        index += 1
    return joined


def _stand_in_for_closed_streams() -> None:
    """``>&-`` or ``2>&-`` leave Python without a stream: output goes nowhere, never to the
    wrong stream (``print`` to a missing stderr would write to stdout)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    """Run tui-annex; return the exit status."""
    _stand_in_for_closed_streams()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["demo"]:
        from .demo import main as demo_main

        return demo_main(arguments[1:])
    if arguments[:1] in (["history"], ["status"]):
        from .history import main as history_main

        return history_main(arguments[0], arguments[1:])
    parser = build_parser()
    try:
        config = load_config(_config_argument(arguments))
    except ConfigError as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        parser.set_defaults(**_parser_defaults(config))
    except ConfigError as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(_join_option_values(arguments))
    try:
        options = options_from_args(args)
        # git-annex tells its version while the engine and the front end are imported.
        version = VersionCheck(find_git_annex(options.git_annex))
    except (GitAnnexNotFound, ValueError) as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with version:
            started = _start(version, options, args)
    except KeyboardInterrupt:  # Ctrl-C while it starts: nothing has been sent
        return _interrupted_before_the_run()
    if isinstance(started, int):
        return started
    job, importing = started
    if importing is None:
        from .headless import run_headless

        return run_headless(job, json_mode=args.json)
    return _run_app(job, importing, config.keys, args.theme)


def _run_app(job: Job, importing: Future[None], keys: dict[str, str], theme: str | None) -> int:
    """Run the app on ``job``: started at once, while Textual still imports, unless
    something must be asked or checked first (an unfinished run to offer, a theme) or
    the run is better off waiting (:func:`~tui_annex.ui.launch.may_start_early`)."""
    from .ui.launch import may_start_early

    started: list[bool] = []
    try:
        if theme is None and may_start_early(job) and job.pending_resume() is None:
            import asyncio

            # Ctrl-C is the job's to act on from its first step (EarlyStart), not before.
            return asyncio.run(_run_app_early(job, importing, keys, started))
        importing.result()
    except KeyboardInterrupt:
        if started:
            raise
        job.close_early()
        return _interrupted_before_the_run()
    except Exception as error:  # a broken installation (the early start says so itself)
        if started:
            raise
        job.close_early()
        print(f"tui-annex: {_cannot_start(error)}; nothing was sent", file=sys.stderr)
        return EXIT_FAILED
    from .ui.app import run_app

    return run_app(job, keys=keys, theme=theme)


def _interrupted_before_the_run() -> int:
    """Say that a Ctrl-C stopped the command before its run started; exit status 130."""
    # A KeyboardInterrupt that left code run by exec() of a string (a dataclass being
    # made while the engine imports) marks the interpreter to end by SIGINT once it
    # exits, caught or not (CPython); an exec() of a string that ends well unmarks it.
    exec("")
    print("tui-annex: interrupted before the run started", file=sys.stderr)
    return EXIT_INTERRUPTED


def _cannot_start(error: Exception) -> str:
    return f"the app cannot start ({type(error).__name__}: {error}); --no-ui runs without it"


async def _run_app_early(
    job: Job, importing: Future[None], keys: dict[str, str], started: list[bool]
) -> int:
    import asyncio

    from .ui.launch import EarlyStart

    started.append(True)
    early = EarlyStart(job)
    try:
        await asyncio.wrap_future(importing)
    except Exception as error:  # a broken installation: the run stops as a forced stop
        await early.close()
        job.close()
        print(
            f"tui-annex: {_cannot_start(error)}; the run was stopped, what it finished is "
            "committed",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except BaseException:
        await early.close()
        job.close()
        raise
    from .ui.app import run_app_started

    return await run_app_started(job, early, keys=keys)


def _start(
    version: VersionCheck, options: RunOptions, args: argparse.Namespace
) -> tuple[Job, Future[None] | None] | int:
    """The job, its large inputs already being read, and its front end imported while
    git-annex tells its version (the app's in a thread: it may start the job before the
    import ends); or the exit status of a run refused before it starts."""
    from .job import Job

    try:
        job = Job(options)
        job.read_early()
    except ValueError as error:
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    importing: Future[None] | None = None
    if args.json or args.no_ui:
        from . import headless  # noqa: F401  (imported now, while git-annex starts)
    elif "-" in options.inputs and (sys.stdin is None or not sys.stdin.isatty()):
        job.close_early()
        print(
            "tui-annex: the app reads keys from the terminal; give the input as a file, "
            "or use --no-ui to read it from standard input",
            file=sys.stderr,
        )
        return EXIT_USAGE
    else:
        from .ui.launch import import_in_background

        importing = import_in_background("tui_annex.ui.app")
    try:
        version.result()
    except (GitAnnexNotFound, KeyboardInterrupt) as error:
        job.close_early()
        if isinstance(error, KeyboardInterrupt):
            raise
        print(f"tui-annex: {error}", file=sys.stderr)
        return EXIT_USAGE
    return job, importing
