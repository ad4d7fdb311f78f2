"""The estimated view's part of the refresh: its data key and its figure.

The key holds what the figure depends on: the view's choices, the levels result's version (the
end of its last bar and the candles and readings it used), the feed's outage text, and the
snapshot version while a realized overlay is on. An unchanged key answers nothing (204). The
colour scale is kept in the page's rendered-keys store (``estimated.scale``), so it stays fixed
across refreshes until the symbol, range or preset change.
"""

from __future__ import annotations

from typing import Any

from callbacks import sources
from callbacks.levels_source import Levels
from dashboard.estimated import EstimatedOptions, estimated_figure, estimated_message
from dashboard.levels_grid import colour_scale, screen_cells
from dashboard.outage import Outage
from dashboard.state import ViewState
from heatmap_engine.models import Snapshot
from heatmap_engine.service import HeatmapService
from layouts import ids

KEEP = "_keep"  # a renderer's entries for the rendered-keys store
SCALE = "estimated.scale"


def options_for(state: ViewState) -> EstimatedOptions:
    overlays = state.overlays
    return EstimatedOptions(
        state.symbol,
        state.levels_range,
        state.preset,
        state.threshold,
        "dots" in overlays,
        "bands" in overlays,
    )


def levels_version(levels: Levels) -> str:
    """Changes whenever the result does (a new bar, a new reading, the previous result
    replaced by the new one), or why there is none."""
    result = levels.result
    if result is None:
        return f"none:{levels.why}"
    used = result.assumptions
    updating = "|updating" if levels.updating else ""
    return f"{result.at_ms}|{used.candles_used}|{used.readings_used}{updating}"


def estimated_key(
    service: HeatmapService, state: ViewState, version: int, down: Outage | None, levels: Levels
) -> str:
    options = options_for(state)
    key = f"estimated|{options.scale_key}|{state.threshold}|{state.overlay}"
    key += f"|{levels_version(levels)}|{down.text if down else ''}"
    if options.show_bands or options.show_dots:
        key += f"|v{version}|{state.min_strength}|{state.max_distance}"
    return key


def _no_result_text(why: str | None, down: Outage | None) -> str:
    """Why there is nothing to draw: the feed first (when it is down), then the model's
    reason; never a quiet market."""
    why = why or "No estimate yet."
    return f"{down.chart_text}<br><br>{why}" if down else why


def render_estimated(
    service: HeatmapService,
    snap: Snapshot | None,
    state: ViewState,
    sort,
    down: Outage | None,
    levels: Levels,
    rendered: dict,
    **_,
) -> dict[str, Any]:
    options = options_for(state)
    result = levels.result
    if result is None:
        figure = estimated_message(options, _no_result_text(levels.why, down))
        return {ids.ESTIMATED_GRAPH: figure}
    cells = screen_cells(result.grid)
    scale = colour_scale(rendered.get(SCALE), options.scale_key, cells.total_usd)
    realized = None
    if options.show_dots:
        start = result.at_ms - result.range_ms
        realized = sources.liquidations(service, state.symbol, start, sources.now_ms(service))
    clusters = snap.filtered(state.min_strength, state.max_distance) if snap else []
    figure = estimated_figure(
        result,
        options,
        scale,
        price=snap.current_price if snap else None,
        realized=realized,
        clusters=clusters,
        window_minutes=snap.window_minutes if snap else 60.0,
        cells=cells,
        updating=levels.updating,
    )
    if down is not None:
        figure["layout"]["annotations"].append(_stale(down))
    return {ids.ESTIMATED_GRAPH: figure, KEEP: {SCALE: scale.to_dict()}}


def _stale(down: Outage) -> dict[str, Any]:
    return {
        "text": f"Not live: {down.headline}", "xref": "paper", "yref": "paper", "x": 0.005,
        "y": 0.78, "xanchor": "left", "yanchor": "top", "showarrow": False,
        "font": {"color": "#f0b429", "size": 11}, "bgcolor": "rgba(13,17,23,0.75)",
    }  # fmt: skip
