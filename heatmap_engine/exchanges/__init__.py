"""Venue adapters: URL building and pure ``parse(frame) -> ParseResult`` functions.

Generic connection and retry code (``heatmap_engine.feed``) knows no exchange names; everything
venue-specific sits in one module per venue and is described by a ``VenueAdapter``.
"""

from heatmap_engine.exchanges.base import ParseResult, VenueAdapter

__all__ = ["ParseResult", "VenueAdapter"]
