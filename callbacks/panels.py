"""The feed badge, the pinned cluster panel and the table's sorting and CSV download."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate

from callbacks import sources
from dashboard.outage import empty_text, outage
from dashboard.state import ViewState
from dashboard.summary import feed_status
from dashboard.table import (
    COLUMN_KEYS,
    DEFAULT_SORT,
    clusters_csv,
    header_classes,
    next_sort,
    sort_clusters,
)
from heatmap_engine.service import HeatmapService
from layouts import ids
from layouts.fragments import cluster_details, feed_badge, ladder, outage_banner
from layouts.page import PIN_HINT


def pin_from_click(click: dict | None, state: dict | None) -> dict | None:
    """The band a click landed on, as {"symbol", "cluster_id"}; None when it hit no band."""
    points = (click or {}).get("points") or []
    cluster_id = points[0].get("customdata") if points else None
    if cluster_id is None or not state:
        raise PreventUpdate
    return {"symbol": state["symbol"], "cluster_id": int(cluster_id)}


def ladder_for(service: HeatmapService, state: dict | None) -> list:
    """The clusters the filters keep, by price, beside the heatmap."""
    down = outage(sources.feed_facts(service))
    if not state:
        return ladder([], None, empty_text(None, down))
    view = ViewState.from_dict(state)
    snap = sources.snapshot(service, view.symbol)
    shown = snap.filtered(view.min_strength, view.max_distance) if snap else []
    return ladder(shown, snap.current_price if snap else None, empty_text(snap, down))


def details_for(service: HeatmapService, pinned: dict | None, state: dict | None) -> list:
    """The pinned cluster as it stands in the newest snapshot, or why it cannot be shown."""
    if not pinned or not state or pinned.get("symbol") != state.get("symbol"):
        return cluster_details(None, None, PIN_HINT)
    snap = sources.snapshot(service, pinned["symbol"])
    match = [c for c in (snap.clusters if snap else ()) if c.cluster_id == pinned["cluster_id"]]
    if not match:
        note = f"Cluster {pinned['cluster_id']} has left the window (its liquidations aged out)."
        return cluster_details(None, None, note)
    return cluster_details(match[0], snap.current_price, "")


def feed_status_views(service: HeatmapService) -> tuple[list, list]:
    """The header's feed badge and the page's banner while the feed is not live."""
    badge = feed_badge(feed_status(*sources.feed(service)))
    return badge, outage_banner(outage(sources.feed_facts(service)))


def csv_download(service: HeatmapService, state_data: dict, sort: dict | None) -> dict[str, Any]:
    """The table as shown (filters and order) as a CSV file."""
    state = ViewState.from_dict(state_data)
    snap = sources.snapshot(service, state.symbol)
    shown = snap.filtered(state.min_strength, state.max_distance) if snap else []
    sort = sort or DEFAULT_SORT
    ordered = sort_clusters(shown, sort["column"], sort["descending"])
    version = snap.version if snap else 0
    filename = f"clusters_{state.symbol}_v{version}.csv"
    return dcc.send_string(clusters_csv(state.symbol, ordered), filename, type="text/csv")


def register(app: Dash, service: HeatmapService) -> None:
    _register_panels(app, service)
    _register_table(app, service)


def _register_panels(app: Dash, service: HeatmapService) -> None:
    @app.callback(
        Output(ids.FEED, "children"),
        Output(ids.OUTAGE, "children"),
        Input(ids.REFRESH, "n_intervals"),
    )
    def show_feed(_tick):
        return feed_status_views(service)

    @app.callback(
        Output(ids.PINNED, "data"),
        Input(ids.HEATMAP_GRAPH, "clickData"),
        Input(ids.UNPIN, "n_clicks"),
        State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def pin(click, _unpin, state):
        return None if ctx.triggered_id == ids.UNPIN else pin_from_click(click, state)

    @app.callback(
        Output(ids.DETAILS, "children"),
        Output(ids.LADDER, "children"),
        Input(ids.PINNED, "data"),
        Input(ids.RENDERED, "data"),
        State(ids.STATE, "data"),
    )
    def show_details(pinned, _rendered, state):
        return details_for(service, pinned, state), ladder_for(service, state)


def _register_table(app: Dash, service: HeatmapService) -> None:
    @app.callback(
        Output(ids.SORT, "data"),
        *(Output(ids.sort_button(key), "className") for key in COLUMN_KEYS),
        *(Input(ids.sort_button(key), "n_clicks") for key in COLUMN_KEYS),
        State(ids.SORT, "data"),
        prevent_initial_call=True,
    )
    def sort_table(*args):
        sort = next_sort(args[-1], ctx.triggered_id.removeprefix(ids.SORT_PREFIX))
        return [sort, *header_classes(sort)]

    @app.callback(
        Output(ids.CSV_DOWNLOAD, "data"),
        Input(ids.CSV_BUTTON, "n_clicks"),
        State(ids.STATE, "data"),
        State(ids.SORT, "data"),
        prevent_initial_call=True,
    )
    def download_csv(_clicks, state, sort):
        if not state:
            raise PreventUpdate
        return csv_download(service, state, sort)
