"""The dashboard's component trees (no callbacks, no data): ``page()`` is the whole page and
``ids`` names every component."""

from layouts.page import page

__all__ = ["page"]
