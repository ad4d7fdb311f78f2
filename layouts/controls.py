"""The controls: symbol search, sliders, auto-refresh switch, view and range selectors."""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.state import (
    DISTANCE_BOUNDS,
    HISTORY_ONLY_RANGES,
    LEVELS_RANGES,
    OVERLAYS,
    RANGES,
    STRENGTH_BOUNDS,
    THRESHOLD_BOUNDS,
    VIEWS,
    ViewState,
    symbol_options,
)
from heatmap_engine.levels.settings import PRESETS
from layouts import ids

PRESET_LABELS = {"all": "All tiers", "high": "High leverage", "low": "Low leverage"}


def symbol_search(symbols: Sequence[str], state: ViewState) -> dcc.Dropdown:
    """Type or pick: each option also matches its coin (``pepe`` finds ``1000PEPEUSDT``)."""
    return dcc.Dropdown(
        id=ids.SYMBOL,
        options=symbol_options(symbols),
        value=state.symbol,
        clearable=False,
        searchable=True,
        placeholder="Symbol…",
        maxHeight=360,
        className="hm-symbol",
        labels={"search": "Search: btc, pepe, 1000pepeusdt…", "no_options_found": "No contract"},
    )


def _slider(
    control_id: str, label_id: str, title: str, bounds: tuple, value: float, marks: dict
) -> html.Div:
    low, high, step = bounds
    return html.Div(
        [
            html.Div(
                [html.Span(title), html.Span(id=label_id, className="hm-slider-value")],
                className="hm-slider-label",
            ),
            dcc.Slider(
                id=control_id,
                min=low,
                max=high,
                step=step,
                value=value,
                marks=marks,
                updatemode="mouseup",
                allow_direct_input=False,
                className="hm-slider",
            ),
        ],
        className="hm-control",
    )


def strength_slider(state: ViewState) -> html.Div:
    marks = {v: f"{v:g}" for v in (0, 0.25, 0.5, 0.75, 1)}
    return _slider(
        ids.MIN_STRENGTH,
        ids.MIN_STRENGTH_LABEL,
        "Min strength",
        STRENGTH_BOUNDS,
        state.min_strength,
        marks,
    )


def distance_slider(state: ViewState) -> html.Div:
    marks = {v: f"{v:g}%" for v in (1, 5, 10, 20, 30)}
    return _slider(
        ids.MAX_DISTANCE,
        ids.MAX_DISTANCE_LABEL,
        "Max distance",
        DISTANCE_BOUNDS,
        state.max_distance,
        marks,
    )


def _segmented(control_id: str, options: list[dict], value: str) -> dbc.RadioItems:
    return dbc.RadioItems(
        id=control_id,
        options=options,
        value=value,
        inline=True,
        className="hm-segmented",
        inputClassName="btn-check",
        labelClassName="hm-seg-btn",
        labelCheckedClassName="active",
    )


def view_selector(state: ViewState) -> dbc.RadioItems:
    options = [{"label": label, "value": key} for key, label in VIEWS.items()]
    return _segmented(ids.VIEW, options, state.view)


def range_selector(state: ViewState, history: bool) -> html.Div:
    options = [
        {"label": key, "value": key, "disabled": key in HISTORY_ONLY_RANGES and not history}
        for key in RANGES
    ]
    return html.Div(
        [
            html.Span("Range", className="hm-control-title"),
            _segmented(ids.RANGE, options, state.range),
        ],
        id=ids.RANGE_GROUP,
        className="hm-range",
    )


def auto_refresh_switch() -> dbc.Switch:
    return dbc.Switch(
        id=ids.AUTO_REFRESH,
        label="Auto-refresh",
        value=True,
        className="hm-switch",
        persistence=False,
    )


def levels_range_selector(state: ViewState) -> html.Div:
    options = [{"label": key, "value": key} for key in LEVELS_RANGES]
    return html.Div(
        [
            html.Span("Range", className="hm-control-title"),
            _segmented(ids.LEVELS_RANGE, options, state.levels_range),
        ],
        className="hm-levels-range",
    )


def preset_selector(state: ViewState) -> html.Div:
    options = [{"label": PRESET_LABELS.get(p, p), "value": p} for p in PRESETS]
    return html.Div(
        [
            html.Span("Leverage", className="hm-control-title"),
            _segmented(ids.PRESET, options, state.preset),
        ],
        className="hm-preset",
        title="Which leverage tiers the model assumes (the tiers and weights are in the API's "
        "assumptions block)",
    )


def threshold_slider(state: ViewState) -> html.Div:
    marks = {v: f"{v:g}%" for v in (0, 10, 25, 50)}
    return _slider(
        ids.THRESHOLD,
        ids.THRESHOLD_LABEL,
        "Hide cells under",
        THRESHOLD_BOUNDS,
        state.threshold,
        marks,
    )


def overlay_switches(state: ViewState) -> dbc.Checklist:
    return dbc.Checklist(
        id=ids.OVERLAY,
        options=[{"label": label, "value": key} for key, label in OVERLAYS.items()],
        value=state.overlays,
        inline=True,
        switch=True,
        className="hm-overlay",
    )
