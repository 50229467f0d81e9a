"""Modal screens of the app."""

from .add_many import AddManyDialog
from .details import DetailsScreen
from .item_dialog import ItemDialog

__all__ = ["AddManyDialog", "DetailsScreen", "ItemDialog"]
