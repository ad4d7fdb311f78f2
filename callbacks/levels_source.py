"""The estimated levels the dashboard shows: ``service.levels.current`` (the readers' seam,
``heatmap_engine.levels.source``: cached per symbol, range, preset and data version, so a
refresh between new bars costs a few indexed reads; while the service's refresher runs, the
view's previous result at once when the data just changed, marked ``updating``).

The answer is a ``Levels``: the result, or None and why (the model's own one-line reason,
``LevelsInputError``: history off, no candles or open interest stored yet ...), in a sentence
that names the symbol and the range.
"""

from __future__ import annotations

from typing import NamedTuple

from dashboard.state import ViewState, default_symbol
from heatmap_engine.levels import LevelsInputError, LevelsResult
from heatmap_engine.service import HeatmapService


class Levels(NamedTuple):
    result: LevelsResult | None
    why: str | None = None  # why there is no result
    updating: bool = False  # the previous result, shown while the refresher computes the new one


def levels_result(service: HeatmapService, symbol: str, range_name: str, preset: str) -> Levels:
    """The newest result for the view (or the previous one while it is computed), or None and
    why there is none."""
    try:
        result, fresh = service.levels.current(symbol, range_name, preset)
    except LevelsInputError as error:
        return Levels(None, f"No estimate for {symbol} over {range_name}: {error}")
    return Levels(result, None, not fresh)


def warm_default_view(service: HeatmapService) -> None:
    """The page's first view (the default symbol, range and preset) counts as read, so the
    service's refresher computes it as soon as it starts, before the first visitor asks."""
    refresher = service.levels.refresher
    if refresher is not None:
        state = ViewState(default_symbol(s for s in service.symbols if s != "all"))
        refresher.read((state.symbol, state.levels_range, state.preset))
