"""Modal screens of the app."""

from .add_many import AddManyDialog
from .details import DetailsScreen
from .help import HelpScreen
from .item_dialog import ItemDialog
from .quit import QuitDialog
from .resume import ResumeDialog

__all__ = [
    "AddManyDialog",
    "DetailsScreen",
    "HelpScreen",
    "ItemDialog",
    "QuitDialog",
    "ResumeDialog",
]
