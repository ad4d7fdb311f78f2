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

from dashboard.state import LEVELS_RANGES, ViewState, default_symbol
from heatmap_engine.levels import LevelsInputError, LevelsResult
from heatmap_engine.service import HeatmapService

WARMED_RANGES = LEVELS_RANGES[:5]  # 12h, 24h, 3d, 7d, 30d: what stored data covers on day 1


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
    """The page's first symbol and preset count as read over Coinglass's ranges (12h … 30d,
    ``WARMED_RANGES``), the default range last, so the service's refresher computes them as
    soon as it starts (the page's own range first): the first visitor, and one who switches
    range, find them computed. Like any view no one reads, they stop costing anything after
    the refresher's read window."""
    refresher = service.levels.refresher
    if refresher is not None:
        state = ViewState(default_symbol(s for s in service.symbols if s != "all"))
        ranges = [r for r in WARMED_RANGES if r != state.levels_range]
        for range_name in [*ranges, state.levels_range]:
            refresher.read((state.symbol, range_name, state.preset))
