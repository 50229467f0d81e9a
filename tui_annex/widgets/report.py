"""What became of every item, as a banner in the app and as text printed after it closed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from ..events import InputRejected
from ..items import DownloadItem, StopReport
from ..redact import redact
from .format import as_style, theme_palette
from .styles import KeepsStyles

__all__ = ["ReportBanner", "final_report", "report_headline"]


#: Rich styles of the report's roles, for the text printed after the app closed
#: (the banner takes them from the Textual theme instead).
PLAIN_PALETTE: dict[str, Style | str] = {
    "good": "green",
    "warn": "yellow",
    "bad": "red",
    "muted": "dim",
}


def report_headline(
    report: StopReport,
    *,
    stopped: bool,
    end: str = ".",
    palette: Mapping[str, Style | str] = PLAIN_PALETTE,
) -> Text:
    """``Stopped: 3 added, 1 failed, 2 interrupted, 10 never sent.``"""
    text = Text("Stopped: " if stopped else "Finished: ", "bold")
    text.append(f"{len(report.done)} added", palette["good"])
    text.append(", ")
    text.append(f"{len(report.failed)} failed", palette["bad"] if report.failed else "")
    text.append(", ")
    text.append(
        f"{len(report.interrupted)} interrupted", palette["warn"] if report.interrupted else ""
    )
    text.append(", ")
    text.append(f"{len(report.unsent)} never sent", palette["warn"] if report.unsent else "")
    text.append(end)
    return text


def _section(title: str, items: Sequence[DownloadItem], style: str, limit: int) -> list[Text]:
    if not items:
        return []
    lines = [Text(f"{title} ({len(items)}):", f"bold {style}")]
    for item in items[:limit]:
        line = Text(f"  {item.path}  ")
        line.append(redact(item.url), "dim")
        if item.errors:
            line.append("  " + redact(" ".join(item.errors[-1].split())), style)
        lines.append(line)
    if len(items) > limit:
        lines.append(Text(f"  … and {len(items) - limit} more", "dim"))
    return lines


def final_report(
    report: StopReport,
    rejected: Sequence[InputRejected] = (),
    *,
    stopped: bool,
    limit: int = 20,
    error: str | None = None,
    commits: Sequence[str] = (),
    committed_files: int | None = None,
    commit_error: str | None = None,
    stats: str | None = None,
    next_step: str | None = None,
) -> RenderableType:
    """The report printed to the terminal after the app closed: headline, then the lists."""
    lines: list[Text] = []
    if error:
        lines.append(Text(f"error: {error}", "bold red"))
    lines.append(report_headline(report, stopped=stopped))
    if stats:
        lines.append(Text(stats, "dim"))
    if commits:
        held = f" ({committed_files} file(s))" if committed_files is not None else ""
        shas = ", ".join(commit[:12] for commit in commits)
        lines.append(Text(f"committed: {shas}{held}", "green"))
    if commit_error:
        lines.append(Text(f"commit failed, files left staged: {commit_error}", "bold red"))
    lines += _section("failed", report.failed, "red", limit)
    lines += _section("interrupted (outcome unknown)", report.interrupted, "yellow", limit)
    lines += _section("never sent", report.unsent, "yellow", limit)
    if rejected:
        lines.append(Text(f"rejected input ({len(rejected)}):", "bold yellow"))
        lines += [Text(redact(f"  {r.location}: {r.reason}")) for r in rejected[:limit]]
        if len(rejected) > limit:
            lines.append(Text(f"  … and {len(rejected) - limit} more", "dim"))
    if next_step and (report.failed or report.interrupted or report.unsent):
        lines.append(Text(f"next: {next_step}", "bold"))
    return Group(*lines)


class ReportBanner(Static, KeepsStyles):
    """Shown once the run is over (or stopped): what finished, failed, was never sent; next keys."""

    COMPONENT_CLASSES = {f"report--{role}" for role in PLAIN_PALETTE}
    DEFAULT_CSS = """
    ReportBanner { height: auto; padding: 0 1; background: $boost; display: none; }
    ReportBanner.-shown { display: block; }
    ReportBanner > .report--good { color: $success; }
    ReportBanner > .report--warn { color: $warning; }
    ReportBanner > .report--bad { color: $error; }
    ReportBanner > .report--muted { text-style: dim; }
    """

    def palette(self) -> Mapping[str, Style | str]:
        """The report's colours from the theme (plain ones until its styles apply)."""
        return theme_palette(
            lambda name: self._styles.component(name, partial=True), "report", PLAIN_PALETTE
        )

    def show_report(self, report: StopReport, *, stopped: bool, hint: str) -> None:
        """Show the headline of ``report`` and the keys that apply now."""
        palette = self.palette()
        # The gap ends the headline's span: SVG renderers squeeze a span's leading spaces.
        text = report_headline(report, stopped=stopped, end=".  ", palette=palette)
        text.append(hint, palette["muted"])
        self.update(text)
        self.add_class("-shown")

    def show_stopping(self, in_flight: int | None, *, quitting: bool = False) -> None:
        """Show that the run is stopping: draining ``in_flight`` downloads, or (None) by force;
        ``quitting``: the app quits once it has stopped."""
        palette = self.palette()
        bold = Style(bold=True)
        text = Text()
        if in_flight is None:
            text.append("Stopping now", bold + as_style(palette["bad"]))
            text.append(": git-annex is being terminated; finished files are kept and staged.")
        else:
            text.append("Quitting" if quitting else "Stopping", bold + as_style(palette["warn"]))
            text.append(f": no new downloads; waiting for {in_flight} in flight.  ")
            again = "ctrl+q" if quitting else "ctrl+c"
            keys = f"{again} again: stop them now" + ("" if quitting else "; p: carry on")
            text.append(keys, palette["muted"])
        self.update(text)
        self.add_class("-shown")
