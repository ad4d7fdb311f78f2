"""The page: header, statistics cards, toolbar, the five views and the stores behind them.

Every component a callback uses is in this tree from the start (views are hidden, not
removed), so no callback ever refers to a missing component.
"""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from dashboard.state import LAYERS, ViewState, default_symbol
from dashboard.summary import Stat
from dashboard.table import COLUMNS, DEFAULT_SORT, PHONE_COLUMNS, cell_class, header_classes
from dashboard.theme import placeholder_figure
from layouts import controls, ids
from layouts.fragments import cluster_details, feed_badge, stat_body

STAT_TITLES = {
    ids.STAT_PRICE: "Current price",
    ids.STAT_TOTAL: "Clusters shown",
    ids.STAT_LONG: "Long clusters",
    ids.STAT_SHORT: "Short clusters",
    ids.STAT_BEST: "Best cluster",
    ids.STAT_WINDOW: "In the window",
}
# the same cards while the estimated view is shown (dashboard.summary.estimated_stats)
ESTIMATED_STAT_TITLES = {
    ids.STAT_PRICE: "Current price",
    ids.STAT_TOTAL: "Standing (est.)",
    ids.STAT_LONG: "Long level below (est.)",
    ids.STAT_SHORT: "Short level above (est.)",
    ids.STAT_BEST: "At unknown levels (est.)",
    ids.STAT_WINDOW: "Estimate",
}
PIN_HINT = "Click a band to pin its details here."
GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "scrollZoom": False,
    "modeBarButtonsToRemove": [
        "select2d",
        "lasso2d",
        "autoScale2d",
        "toggleSpikelines",
        "hoverClosestCartesian",
        "hoverCompareCartesian",
    ],
}


def _stores(state: ViewState) -> list:
    return [
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.STATE),
        dcc.Store(id=ids.RENDERED, data={}),
        dcc.Store(id=ids.PINNED),
        dcc.Store(id=ids.SORT, data=DEFAULT_SORT),
        dcc.Interval(id=ids.REFRESH, interval=state.refresh * 1000),
        dcc.Download(id=ids.CSV_DOWNLOAD),
    ]


def _header(symbols: Sequence[str], state: ViewState) -> html.Header:
    brand = html.Div(
        [
            html.Span(className="hm-logo"),
            html.Span("Liquidation heatmap", className="hm-title"),
            html.Span("Binance USD-M perpetuals", className="hm-venue"),
        ],
        className="hm-brand",
    )
    status = html.Div(
        [
            html.Div(feed_badge(Stat("…", "")), id=ids.FEED, className="hm-feed"),
            html.Span(id=ids.AS_OF, className="hm-asof"),
            controls.auto_refresh_switch(),
        ],
        className="hm-status",
    )
    search = html.Div(
        [controls.symbol_search(symbols, state), html.Div(id=ids.NOTICE, className="hm-notice")],
        className="hm-search",
    )
    return html.Header([brand, search, status], className="hm-header")


def _stats() -> html.Section:
    waiting = Stat("—", "loading")
    cards = [
        html.Div(
            [
                html.Div(
                    [
                        html.Span(title, className="hm-title-realized"),
                        html.Span(ESTIMATED_STAT_TITLES[card_id], className="hm-title-estimated"),
                    ],
                    className="hm-stat-title",
                ),
                html.Div(stat_body(waiting), id=card_id, className="hm-stat-body"),
            ],
            className="hm-stat",
        )
        for card_id, title in STAT_TITLES.items()
    ]
    return html.Section(cards, className="hm-stats")


def _toolbar(state: ViewState, history: bool) -> html.Section:
    """The view selector; the realized views' filters and range; the estimated view's range,
    preset, threshold and overlays (CSS shows the controls of the view shown)."""
    return html.Section(
        [
            controls.view_selector(state),
            html.Div(
                [
                    controls.strength_slider(state),
                    controls.distance_slider(state),
                    controls.range_selector(state, history),
                ],
                className="hm-controls hm-realized-controls",
            ),
            html.Div(
                [
                    controls.levels_range_selector(state),
                    controls.preset_selector(state),
                    controls.threshold_slider(state),
                    controls.overlay_switches(state),
                ],
                className="hm-controls hm-estimated-controls",
            ),
        ],
        className="hm-toolbar",
    )


def _layer_note() -> html.Div:
    """One line saying which layer the current view shows (CSS picks the view's line)."""
    return html.Div(
        [html.Span(text, className=f"hm-layer hm-layer-{view}") for view, text in LAYERS.items()],
        id=ids.LAYER_NOTE,
        className="hm-layer-note",
    )


def _graph(graph_id: str) -> html.Div:
    """A chart in a box the stylesheet sizes; the graph fills its box and follows its size."""
    graph = dcc.Graph(
        id=graph_id,
        figure=placeholder_figure("Loading…"),
        config=GRAPH_CONFIG,
        style={"height": "100%", "width": "100%"},
    )
    return html.Div(graph, className="hm-graph")


def _table_view() -> html.Div:
    head = html.Tr(
        [
            html.Th(
                html.Button(c.label, id=ids.sort_button(c.key), className=classes),
                className=cell_class(c),
            )
            for c, classes in zip(COLUMNS, header_classes(DEFAULT_SORT), strict=True)
        ]
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Span(id=ids.TABLE_CAPTION, className="hm-table-caption"),
                    html.Span(
                        f"{len(PHONE_COLUMNS)} of {len(COLUMNS)} columns here: a wider screen "
                        "and the CSV have all",
                        className="hm-table-hint",
                    ),
                    html.Button("Download CSV", id=ids.CSV_BUTTON, className="hm-btn"),
                ],
                className="hm-table-bar",
            ),
            html.Div(
                html.Table(
                    [html.Thead(head), html.Tbody(id=ids.TABLE_BODY)], className="table hm-table"
                ),
                className="hm-table-scroll",
            ),
        ],
        id=ids.TABLE_VIEW,
        className="hm-view hm-view-table",
    )


def _views(state: ViewState) -> html.Main:
    details = html.Aside(
        [
            html.Div(
                [
                    html.Span("Pinned cluster"),
                    html.Button("×", id=ids.UNPIN, className="hm-unpin", title="Unpin"),
                ],
                className="hm-details-head",
            ),
            html.Div(cluster_details(None, None, PIN_HINT), id=ids.DETAILS),
            html.Div("Clusters by price", className="hm-details-head hm-ladder-head"),
            html.Div(id=ids.LADDER, className="hm-ladder"),
        ],
        className="hm-details",
    )
    return html.Main(
        [
            html.Div(_graph(ids.ESTIMATED_GRAPH), id=ids.ESTIMATED_VIEW, className="hm-view"),
            html.Div(
                [_graph(ids.HEATMAP_GRAPH), details],
                id=ids.HEATMAP_VIEW,
                className="hm-view hm-view-heatmap",
            ),
            html.Div(_graph(ids.TIMELINE_GRAPH), id=ids.TIMELINE_VIEW, className="hm-view"),
            html.Div(_graph(ids.MAP_GRAPH), id=ids.MAP_VIEW, className="hm-view"),
            _table_view(),
        ],
        className="hm-main",
    )


def _footer() -> html.Footer:
    return html.Footer(
        [
            html.Span(
                "Realized: liquidations from Binance's public stream, which sends at most one per "
                "symbol per second (a lower bound). Estimated: a model of candles and open "
                "interest (its assumptions are in the API)."
            ),
            html.Span(
                [html.A("API docs", href="/docs/"), " · ", html.A("Stats", href="/api/stats")],
                className="hm-links",
            ),
        ],
        className="hm-footer",
    )


def page(symbols: Sequence[str], history: bool = True) -> html.Div:
    """The whole page. The URL's parameters are applied by a callback on load."""
    state = ViewState(default_symbol(symbols))
    return html.Div(
        [
            *_stores(state),
            _header(symbols, state),
            html.Div(id=ids.OUTAGE, className="hm-outage", role="status"),
            _stats(),
            _toolbar(state, history),
            _layer_note(),
            _views(state),
            _footer(),
        ],
        id=ids.APP,
        className=f"hm-app show-{state.view}",
    )
