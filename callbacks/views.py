"""The refresh: stats cards and the visible view, only when their data changed.

Each part shown has a data key (symbol, filters, snapshot version, ...). A tick whose keys all
match what the page already shows answers nothing (``PreventUpdate``: an empty 204); otherwise
only the parts whose key changed are sent, the rest are ``no_update``.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, Patch, State, html, no_update
from dash.exceptions import PreventUpdate

from callbacks import sources
from callbacks.estimated import KEEP, estimated_key, levels_version, render_estimated
from callbacks.levels_source import Levels, levels_result, warm_default_view
from dashboard.estimated import updating_note
from dashboard.heatmap import heatmap_figure
from dashboard.liqmap import liquidation_map_figure
from dashboard.outage import Outage, empty_text, outage
from dashboard.points import Points
from dashboard.profile import profile_bars, profile_note
from dashboard.state import ViewState
from dashboard.summary import as_of, estimated_stats, stats
from dashboard.table import DEFAULT_SORT, sort_clusters, table_caption
from dashboard.timeline import timeline_figure
from heatmap_engine.models import Snapshot
from heatmap_engine.service import HeatmapService
from layouts import ids
from layouts.fragments import stat_body, table_rows

NO_LEVELS = Levels(None)  # a view that shows no estimate
STAT_OUTPUTS = dict(
    zip(("price", "total", "long", "short", "best", "window"), ids.STAT_CARDS, strict=True)
)
OUTPUTS: tuple[tuple[str, str], ...] = (
    (ids.ESTIMATED_GRAPH, "figure"),
    (ids.HEATMAP_GRAPH, "figure"),
    (ids.TIMELINE_GRAPH, "figure"),
    (ids.MAP_GRAPH, "figure"),
    (ids.TABLE_BODY, "children"),
    (ids.TABLE_CAPTION, "children"),
    *((card, "children") for card in ids.STAT_CARDS),
    (ids.AS_OF, "children"),
    (ids.RENDERED, "data"),
)


def view_key(
    service: HeatmapService,
    state: ViewState,
    sort: dict,
    version: int,
    down: Outage | None,
    levels: Levels = NO_LEVELS,
) -> str:
    """What the visible view depends on; equal keys mean an identical view."""
    filters = f"{state.symbol}|{state.min_strength}|{state.max_distance}|v{version}"
    if down is not None:
        filters += f"|{down.text}"
    if state.view == "estimated":
        return estimated_key(service, state, version, down, levels)
    if state.view == "timeline":
        return f"timeline|{filters}|{state.range}|{sources.candle_key(service, state.symbol)}"
    if state.view == "map":
        estimate = f"{state.levels_range}|{state.preset}|{levels_version(levels)}"
        return f"map|{state.symbol}|{state.range}|v{version}|{down.text if down else ''}|{estimate}"
    if state.view == "table":
        return f"table|{filters}|{sort.get('column')}|{sort.get('descending')}"
    return f"heatmap|{filters}"


def _chart_text(down: Outage | None) -> str | None:
    return down.chart_text if down else None


def _heatmap(service, snap: Snapshot | None, state: ViewState, sort, down, **_) -> dict[str, Any]:
    figure = heatmap_figure(
        snap, state.symbol, state.min_strength, state.max_distance, _chart_text(down)
    )
    return {ids.HEATMAP_GRAPH: figure}


def _timeline(service, snap: Snapshot | None, state: ViewState, sort, down, **_) -> dict:
    end = sources.now_ms(service)
    start = end - state.range_ms
    candles = sources.candles(service, state.symbol, start, end, state.interval)
    liqs = sources.liquidations(service, state.symbol, start, end)
    points = Points.empty() if liqs is None else liqs
    figure = timeline_figure(
        candles, points, snap, state, start, end, liqs is not None, _chart_text(down)
    )
    return {ids.TIMELINE_GRAPH: figure}


def _map(service, snap: Snapshot | None, state: ViewState, sort, down, levels, **_) -> dict:
    end = sources.now_ms(service)
    liqs = sources.liquidations(service, state.symbol, end - state.range_ms, end)
    if liqs is None:  # no history: the clusters are all that is known
        points = Points.from_clusters(snap.clusters if snap else ())
        label = "in the current clusters (history is off)"
    else:
        points, label = liqs, f"in the last {state.range}"
    price = snap.current_price if snap else None
    uirevision = f"map:{state.symbol}:{state.range}"
    result = levels.result
    estimated = profile_bars(result.profile) if result is not None else None
    # without an estimate, the reason; while the feed is down its message says it all
    note = profile_note(estimated) if estimated is not None else (None if down else levels.why)
    if result is not None and levels.updating:  # the previous profile, while the new one runs
        note = f"{note}<br>{updating_note(result.at_ms)}" if note else updating_note(result.at_ms)
    figure = liquidation_map_figure(
        points, price, state.symbol, label, uirevision, _chart_text(down), estimated, note
    )
    return {ids.MAP_GRAPH: figure}


def _table(service, snap: Snapshot | None, state: ViewState, sort, down, **_) -> dict[str, Any]:
    shown = snap.filtered(state.min_strength, state.max_distance) if snap else []
    ordered = sort_clusters(shown, sort.get("column"), bool(sort.get("descending")))
    caption = table_caption(len(ordered), state.symbol, sort)
    return {ids.TABLE_BODY: table_rows(ordered, empty_text(snap, down)), ids.TABLE_CAPTION: caption}


RENDERERS = {
    "estimated": render_estimated,
    "heatmap": _heatmap,
    "timeline": _timeline,
    "map": _map,
    "table": _table,
}


def as_of_children(snap: Snapshot | None, down: Outage | None) -> list:
    """ "updated 20:16:45 UTC · v12", marked "not live" (the reason as its tooltip) while the
    feed is not."""
    if down is None:
        return [as_of(snap)]
    return [as_of(snap), html.Span(" · not live", className="hm-stale", title=down.text)]


def _stats(
    snap: Snapshot | None, state: ViewState, down: Outage | None, levels: Levels
) -> dict[str, Any]:
    """The cards: of the estimate while the estimated view is shown, else of the clusters."""
    if state.view == "estimated":
        cards = estimated_stats(snap, levels.result, levels.updating)
    else:
        cards = stats(snap, state.min_strength, state.max_distance)
    out: dict[str, Any] = {STAT_OUTPUTS[name]: stat_body(stat) for name, stat in cards.items()}
    out[ids.AS_OF] = as_of_children(snap, down)
    return out


GRAPHS = {
    "estimated": ids.ESTIMATED_GRAPH,
    "heatmap": ids.HEATMAP_GRAPH,
    "timeline": ids.TIMELINE_GRAPH,
    "map": ids.MAP_GRAPH,
}


def figure_update(figure: dict[str, Any], shown_revision: str | None) -> dict[str, Any] | Patch:
    """The whole figure when the chart shows another symbol or range (or nothing yet); else a
    ``Patch`` of what data changes (traces, shapes, annotations, axis visibility) that leaves the
    axes alone. Dash 4 writes a user's zoom and pan back into the graph's ``figure``, so a
    whole new figure would undo them; the patch keeps them."""
    if shown_revision != figure["layout"]["uirevision"]:
        return figure
    patch = Patch()
    patch["data"] = figure["data"]
    for key in ("shapes", "annotations"):
        patch["layout"][key] = figure["layout"].get(key, [])
    for axis in ("xaxis", "yaxis"):
        patch["layout"][axis]["visible"] = figure["layout"][axis].get("visible", True)
        if "autorangeoptions" in figure["layout"][axis]:
            patch["layout"][axis]["autorangeoptions"] = figure["layout"][axis]["autorangeoptions"]
    return patch


def _render_view(
    service, snap, state: ViewState, sort: dict, rendered: dict, down: Outage | None, levels
) -> dict[str, Any]:
    """The visible view's outputs; a chart's figure as ``figure_update`` says."""
    values = RENDERERS[state.view](
        service, snap, state, sort, down, levels=levels, rendered=rendered
    )
    kept = values.pop(KEEP, {})
    graph = GRAPHS.get(state.view)
    if graph is not None:
        figure = values[graph]
        values[graph] = figure_update(figure, rendered.get(f"{state.view}.uirevision"))
        kept[f"{state.view}.uirevision"] = figure["layout"]["uirevision"]
    values[ids.RENDERED] = kept
    return values


def _levels(service: HeatmapService, state: ViewState) -> Levels:
    """The estimated levels the view needs (once per tick), else (None, None)."""
    if state.view not in ("estimated", "map"):
        return NO_LEVELS
    return levels_result(service, state.symbol, state.levels_range, state.preset)


def render_views(
    service: HeatmapService, state: ViewState, sort: dict | None, rendered: dict | None
) -> list[Any]:
    """Values for ``OUTPUTS``; raises ``PreventUpdate`` when nothing changed."""
    sort = sort or DEFAULT_SORT
    rendered = dict(rendered or {})
    snap = sources.snapshot(service, state.symbol)
    down = outage(sources.feed_facts(service))
    version = snap.version if snap else 0
    levels = _levels(service, state)
    stats_key = f"{state.symbol}|{state.min_strength}|{state.max_distance}|v{version}"
    stats_key += f"|{down.text}" if down else ""
    if state.view == "estimated":
        stats_key = f"estimated|{stats_key}|{levels_version(levels)}"
    keys = {"stats": stats_key, state.view: view_key(service, state, sort, version, down, levels)}
    changed = {part for part, key in keys.items() if rendered.get(part) != key}
    if not changed:
        raise PreventUpdate
    values: dict[str, Any] = {}
    if "stats" in changed:
        values.update(_stats(snap, state, down, levels))
    if state.view in changed:
        values.update(_render_view(service, snap, state, sort, rendered, down, levels))
    values[ids.RENDERED] = {**rendered, **keys, **values.get(ids.RENDERED, {})}
    return [values.get(component, no_update) for component, _ in OUTPUTS]


def register(app: Dash, service: HeatmapService) -> None:
    warm_default_view(service)

    @app.callback(
        output=[Output(component, prop) for component, prop in OUTPUTS],
        inputs=[
            Input(ids.REFRESH, "n_intervals"),
            Input(ids.STATE, "data"),
            Input(ids.SORT, "data"),
        ],
        state=[State(ids.RENDERED, "data")],
        prevent_initial_call=True,
    )
    def refresh_views(_tick, state_data, sort, rendered):
        if not state_data:
            raise PreventUpdate
        return render_views(service, ViewState.from_dict(state_data), sort, rendered)
