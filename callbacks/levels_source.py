"""The estimated levels the dashboard shows: ``service.levels.result`` (the readers' seam,
``heatmap_engine.levels.source``: cached per symbol, range, preset and data version, so a
refresh between new bars costs a few indexed reads).

The answer is ``(result, None)`` or ``(None, why)``: the model's own one-line reason
(``LevelsInputError``: history off, no candles or open interest stored yet ...), in a sentence
that names the symbol and the range.
"""

from __future__ import annotations

from heatmap_engine.levels import LevelsInputError, LevelsResult
from heatmap_engine.service import HeatmapService


def levels_result(
    service: HeatmapService, symbol: str, range_name: str, preset: str
) -> tuple[LevelsResult | None, str | None]:
    """The newest result for the view, or None and why there is none."""
    try:
        return service.levels.result(symbol, range_name, preset), None
    except LevelsInputError as error:
        return None, f"No estimate for {symbol} over {range_name}: {error}"
