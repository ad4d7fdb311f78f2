"""The URL and the controls kept in step, both ways, by one callback.

On load (and on back/forward) the query string sets the controls; when a control moves, the
query string follows. Either way the canonical ``ViewState`` goes to the state store, which is
what the views listen to, so a view is drawn once per change and never for a half-applied URL.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update

from dashboard.state import ViewState, default_symbol, parse_query, to_query, with_controls
from heatmap_engine.service import HeatmapService
from layouts import ids

CONTROLS = (
    ids.SYMBOL,
    ids.MIN_STRENGTH,
    ids.MAX_DISTANCE,
    ids.VIEW,
    ids.RANGE,
    ids.LEVELS_RANGE,
    ids.PRESET,
    ids.THRESHOLD,
    ids.OVERLAY,
)


def from_url(service: HeatmapService, search: str | None) -> list[Any]:
    """Controls, interval, canonical query, notice and state for the URL's query string."""
    fallback = default_symbol(service.symbols)
    state, notice = parse_query(search, service.resolver.resolve, fallback)
    query = to_query(state)
    return [
        state.symbol,
        state.min_strength,
        state.max_distance,
        state.view,
        state.range,
        state.levels_range,
        state.preset,
        state.threshold,
        state.overlays,
        state.refresh * 1000,
        query if query != (search or "") else no_update,
        notice or "",
        state.to_dict(),
    ]


def from_controls(current: dict | None, fallback: str, values: tuple) -> list[Any]:
    """The query string and state after a control moved; the controls themselves stay."""
    state = ViewState.from_dict(current) if current else ViewState(fallback)
    state = with_controls(state, *values)
    return [*(no_update,) * (len(CONTROLS) + 1), to_query(state), "", state.to_dict()]


def register(app: Dash, service: HeatmapService) -> None:
    @app.callback(
        output=[
            *(Output(c, "value") for c in CONTROLS),
            Output(ids.REFRESH, "interval"),
            Output(ids.URL, "search"),
            Output(ids.NOTICE, "children"),
            Output(ids.STATE, "data"),
        ],
        inputs=[Input(ids.URL, "search"), *(Input(c, "value") for c in CONTROLS)],
        state=[State(ids.STATE, "data")],
    )
    def sync_url_and_controls(search, *args):
        *values, current = args
        if ctx.triggered_id in (None, ids.URL):
            return from_url(service, search)
        return from_controls(current, default_symbol(service.symbols), tuple(values))
