"""Modal screens of the app."""

from .details import DetailsScreen

__all__ = ["DetailsScreen"]
