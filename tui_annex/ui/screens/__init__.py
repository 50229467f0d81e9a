"""Modal screens of the app."""

from .add_many import AddManyDialog
from .cancel import CancelDialog
from .details import DetailsScreen
from .help import HelpScreen
from .item_dialog import ItemDialog
from .quit import QuitDialog
from .resume import ResumeDialog
from .summary import SummaryScreen

__all__ = [
    "AddManyDialog",
    "CancelDialog",
    "DetailsScreen",
    "HelpScreen",
    "ItemDialog",
    "QuitDialog",
    "ResumeDialog",
    "SummaryScreen",
]
