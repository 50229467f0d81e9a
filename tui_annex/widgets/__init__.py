"""The app's widgets, one per module, over the plain queue model."""

from .downloads import ColumnHeader, DownloadsView
from .filter_bar import FilterBar
from .key_bar import KeyBar
from .log_pane import LogPane
from .message_line import MessageLine
from .model import QueueModel, Totals
from .report import ReportBanner, final_report
from .summary import SummaryLine

__all__ = [
    "ColumnHeader",
    "DownloadsView",
    "FilterBar",
    "KeyBar",
    "LogPane",
    "MessageLine",
    "QueueModel",
    "ReportBanner",
    "SummaryLine",
    "Totals",
    "final_report",
]
