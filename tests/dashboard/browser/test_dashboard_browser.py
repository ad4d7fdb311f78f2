"""The dashboard in real headless Chromium against ``python app.py`` on the fake Binance.

One app and one browser serve the module; each test opens its own page, and fails on any console
error, page error, failed request or request that leaves the app's own origin. Screenshots of
every view (laptop and phone widths) go to ``.artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import time
from pathlib import Path

import pytest

from dashboard.table import COLUMN_KEYS
from layouts import ids

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
GRAPH = f"#{ids.HEATMAP_GRAPH} .js-plotly-plot"
BANDS_JS = f"""() => {{
    const g = document.querySelector('{GRAPH}');
    const bars = g && g.data ? g.data.filter(t => t.type === 'bar') : [];
    return bars.length === 2 ? bars[0].y.length + bars[1].y.length : null;
}}"""


def wait_for_figure(page, graph_id: str = ids.HEATMAP_GRAPH) -> None:
    """Until the graph holds a figure built from data (not the loading placeholder)."""
    page.wait_for_function(
        f"""() => {{
            const g = document.querySelector('#{graph_id} .js-plotly-plot');
            const revision = g && g.layout && g.layout.uirevision;
            return revision && !String(revision).startsWith('placeholder');
        }}""",
        timeout=15_000,
    )


def open_dashboard(page, app, query: str = "", path: str = "/", graph=ids.HEATMAP_GRAPH):
    """The page at ``query``; the realized clusters' view unless the query names a view (the
    estimated view is the default: its browser tests are test_estimated_browser.py)."""
    if "view=" not in query:
        query += ("&" if query else "?") + "view=heatmap"
    page.goto(app.base + path + query)
    page.wait_for_function(
        f"() => /v\\d+/.test(document.getElementById('{ids.AS_OF}')?.innerText || '')",
        timeout=15_000,
    )
    if graph:
        wait_for_figure(page, graph)


def bands(page) -> int:
    return page.evaluate(BANDS_JS)


def figure_revision(page, graph_id: str = ids.HEATMAP_GRAPH) -> str | None:
    return page.evaluate(
        f"() => document.querySelector('#{graph_id} .js-plotly-plot')?.layout?.uirevision"
    )


def as_of_version(page) -> int | None:
    match = re.search(r"v(\d+)", page.inner_text(f"#{ids.AS_OF}"))
    return int(match.group(1)) if match else None


def stat(page, card: str) -> str:
    return page.inner_text(f"#{card} .hm-stat-value")


def show_view(page, label: str, view: str, graph_id: str | None) -> None:
    page.click(f"#{ids.VIEW} label:has-text('{label}')")
    if view == "estimated":  # the default view: the URL names no view
        page.wait_for_function("() => !location.search.includes('view=')")
    else:
        page.wait_for_function(f"() => location.search.includes('view={view}')")
    if graph_id:
        wait_for_figure(page, graph_id)
        page.wait_for_timeout(300)  # let the resize after becoming visible settle


def hover_band(page, side_index: int, index: int) -> tuple[float, float]:
    """Moves the mouse over a band (Plotly's drag layer takes the events, so by position)."""
    box = (
        page.locator(f"{GRAPH} .barlayer .trace").nth(side_index).locator(".point").nth(index)
    ).bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    return x, y


def test_every_view_draws_without_errors_at_laptop_and_phone_width(page, live_app, screenshot):
    body = live_app.api("/api/heatmap/BTCUSDT")
    for width_name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        open_dashboard(page, live_app)
        assert bands(page) == body["total_clusters"] > 0
        screenshot(page, f"{width_name}-heatmap")
        for label, view, graph in (
            ("Realized time × price", "timeline", ids.TIMELINE_GRAPH),
            ("Liquidation map", "map", ids.MAP_GRAPH),
            ("Table", "table", None),
            ("Heatmap (estimated)", "estimated", ids.ESTIMATED_GRAPH),
        ):
            show_view(page, label, view, graph)
            screenshot(page, f"{width_name}-{view}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    # the page's own plotly.js build from assets/vendor (only the traces it draws, heatmap
    # included), not the 4.8 MB full bundle, and loaded once
    traces = page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces).sort()")
    assert traces == ["bar", "candlestick", "heatmap", "scatter"]
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")
    assert len([url for url in loaded if url.endswith("/plotly.min.js")]) == 1


def test_heatmap_bands_colours_and_price_line(page, live_app):
    open_dashboard(page, live_app)
    figure = page.evaluate(
        f"() => {{ const g = document.querySelector('{GRAPH}');"
        " return {data: g.data, layout: g.layout}; }"
    )
    long_trace, short_trace = figure["data"][:2]
    assert (
        long_trace["marker"]["color"] == "#ef5350" and short_trace["marker"]["color"] == "#26b38a"
    )
    price = live_app.api("/api/heatmap/BTCUSDT")["current_price"]
    lines = [s for s in figure["layout"]["shapes"] if s["type"] == "line"]
    assert [(s["y0"], s["line"]["color"]) for s in lines] == [(price, "#3d8bfd")]
    assert all(y < price for y in long_trace["y"]) and all(y > price for y in short_trace["y"])


def test_url_state_on_the_second_path_survives_a_reload(page, live_app):
    open_dashboard(page, live_app, "?symbol=pepe&min_strength=0.4", "/liquidation-heatmap")
    page.wait_for_function("() => location.search.includes('1000PEPEUSDT')")
    assert page.url.endswith(
        "/liquidation-heatmap?symbol=1000PEPEUSDT&min_strength=0.4&view=heatmap"
    )
    page.reload()
    page.wait_for_function(f"() => ({BANDS_JS})() !== null")
    assert page.inner_text(f"#{ids.MIN_STRENGTH_LABEL}") == "0.40"
    assert figure_revision(page) == "heatmap:1000PEPEUSDT"


def test_typing_a_symbol_changes_the_chart_and_the_url(page, live_app):
    open_dashboard(page, live_app)
    assert figure_revision(page) == "heatmap:BTCUSDT"
    page.click(f"#{ids.SYMBOL}")
    page.keyboard.type("pepe")  # the page sends typing to the list's search box
    page.wait_for_selector(".dash-dropdown-options >> text=1000PEPEUSDT")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('symbol=1000PEPEUSDT')")
    page.wait_for_function(
        f"() => document.querySelector('{GRAPH}').layout.uirevision === 'heatmap:1000PEPEUSDT'"
    )
    assert bands(page) == live_app.api("/api/heatmap/1000PEPEUSDT")["total_clusters"] == 1
    assert stat(page, ids.STAT_PRICE) == "0.0100000"


def test_strength_slider_removes_weak_bands(page, live_app):
    open_dashboard(page, live_app)
    before = bands(page)
    page.focus(f"#{ids.MIN_STRENGTH} [role=slider]")
    for _ in range(6):  # 6 steps of 0.05
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('min_strength=0.3')")
    strong = live_app.api("/api/heatmap/BTCUSDT?min_strength=0.3")["total_clusters"]
    page.wait_for_function(f"() => ({BANDS_JS})() === {strong}")
    assert 0 < strong < before
    assert stat(page, ids.STAT_TOTAL) == str(strong)


def test_hover_shows_every_field_and_click_pins_them(page, live_app, screenshot):
    open_dashboard(page, live_app)
    clusters = live_app.api("/api/heatmap/BTCUSDT")["clusters"]
    strongest = max(clusters, key=lambda c: c["strength"])
    index = [c["cluster_id"] for c in clusters if c["side"] == "long"].index(
        strongest["cluster_id"]
    )
    x, y = hover_band(page, 0, index)
    hover = page.wait_for_selector(f"{GRAPH} .hoverlayer .hovertext").text_content()
    for field in (
        "Long liquidations",
        "Price level",
        "Liquidations: 12",
        "Notional",
        "Strength: 1.00",
        "Distance",
        "Last update",
        str(strongest["cluster_id"]),
    ):
        assert field in hover, (field, hover)
    page.mouse.click(x, y)
    page.wait_for_function(
        f"() => document.getElementById('{ids.DETAILS}').innerText.includes('Liquidations')"
    )
    x, y = hover_band(page, 0, index)
    page.wait_for_selector(f"{GRAPH} .hoverlayer .hovertext")
    screenshot(page, "laptop-heatmap-hover-and-pinned")
    details = page.inner_text(f"#{ids.DETAILS}")
    assert "Long liquidations" in details and str(strongest["cluster_id"]) in details
    page.click(f"#{ids.UNPIN}")
    page.wait_for_function(
        f"() => document.getElementById('{ids.DETAILS}').innerText.includes('Click a band')"
    )


def test_stats_cards_match_the_api_at_the_same_moment(page, live_app):
    open_dashboard(page, live_app, "?min_strength=0.2&max_distance=8&refresh=1")
    for _ in range(40):
        page_version = as_of_version(page)
        body = live_app.api("/api/heatmap/BTCUSDT?min_strength=0.2&max_distance=8")
        if body["version"] == page_version:
            break
        page.wait_for_timeout(500)
    else:
        pytest.fail("the page never showed the API's snapshot version")
    longs = sum(1 for c in body["clusters"] if c["side"] == "long")
    assert stat(page, ids.STAT_PRICE) == f"{body['current_price']:,.1f}"
    assert stat(page, ids.STAT_TOTAL) == str(body["total_clusters"])
    assert stat(page, ids.STAT_LONG) == str(longs)
    assert stat(page, ids.STAT_SHORT) == str(body["total_clusters"] - longs)
    assert page.inner_text(f"#{ids.FEED} .hm-feed-state") == "Live"


def test_a_refresh_with_an_unchanged_version_sends_nothing(page, live_app):
    statuses: list[int] = []

    def record(response) -> None:
        request = response.request
        if "/_dash-update-component" in request.url and ids.HEATMAP_GRAPH in (
            request.post_data or ""
        ):
            statuses.append(response.status)

    page.on("response", record)
    # DOGEUSDT had no liquidation: its snapshot version stays (clusters elsewhere decay, so their
    # versions move on every engine refresh)
    open_dashboard(page, live_app, "?symbol=DOGEUSDT&refresh=1")
    for _ in range(40):  # the first answer and three refresh ticks (one a second)
        if len(statuses) >= 4:
            break
        page.wait_for_timeout(250)
    assert statuses[0] == 200 and statuses[-3:] == [204, 204, 204]


def test_table_sorts_and_downloads_what_it_shows(page, live_app):
    open_dashboard(page, live_app, "?view=table&min_strength=0.1", graph=None)
    page.wait_for_selector(f"#{ids.TABLE_BODY} tr.side-long")
    page.click(f"#{ids.sort_button('strength')}")
    page.wait_for_selector(f"#{ids.TABLE_CAPTION}:has-text('sorted by Strength ↓')")
    column = COLUMN_KEYS.index("strength")
    cells = page.locator(f"#{ids.TABLE_BODY} tr td:nth-child({column + 1})").all_inner_texts()
    assert cells == sorted(cells, key=float, reverse=True)
    with page.expect_download() as download:
        page.click(f"#{ids.CSV_BUTTON}")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    api = live_app.api("/api/heatmap/BTCUSDT?min_strength=0.1")["clusters"]
    assert [float(r["strength"]) for r in rows] == sorted(
        (c["strength"] for c in api), reverse=True
    )
    assert {r["symbol"] for r in rows} == {"BTCUSDT"}


def test_time_price_and_map_show_what_happened(page, live_app):
    body = live_app.api("/api/heatmap/BTCUSDT")
    open_dashboard(page, live_app, "?view=timeline", graph=ids.TIMELINE_GRAPH)
    data = page.evaluate(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')"
        ".data.map(t => ({type: t.type, n: (t.x || []).length}))"
    )
    assert data[0]["type"] == "candlestick" and data[0]["n"] >= 30
    assert data[1]["n"] + data[2]["n"] == body["events_in_window"]
    show_view(page, "Liquidation map", "map", ids.MAP_GRAPH)
    bars = page.evaluate(  # the realized bars (this market has no candles: no estimate)
        f"() => document.querySelector('#{ids.MAP_GRAPH} .js-plotly-plot')"
        ".data.filter(t => t.type === 'bar' && !t.name.endsWith(' est.'))"
        ".map(t => t.y.reduce((a, b) => a + b, 0))"
    )
    assert sum(bars) == pytest.approx(body["notional_in_window"], rel=1e-9)


def test_zoom_survives_refreshes(page, live_app):
    open_dashboard(page, live_app, "?refresh=1")
    y_range = f"() => document.querySelector('{GRAPH}').layout.yaxis.range.map(Number)"
    before = page.evaluate(y_range)
    box = page.locator(f"{GRAPH} .nsewdrag").first.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.3)  # drag a box: a price-only zoom
    page.mouse.down()
    page.mouse.move(x + 40, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    page.wait_for_function(f"() => ({y_range})()[1] < {before[1]}")
    zoomed = page.evaluate(y_range)
    shown = as_of_version(page)
    page.wait_for_function(  # decay makes a new BTC snapshot, and a new figure, every refresh
        f"() => Number((document.getElementById('{ids.AS_OF}').innerText.match(/v(\\d+)/)"
        f" || [0, 0])[1]) >= {shown + 2}",
        timeout=15_000,
    )
    assert page.evaluate(y_range) == zoomed


def test_auto_refresh_switch_stops_updates(page, live_app, publish_burst):
    """Last in the module: it publishes new liquidations."""
    open_dashboard(page, live_app, "?refresh=1")
    switch = f"label[for={ids.AUTO_REFRESH}]"
    page.click(switch)
    assert not page.is_checked(f"#{ids.AUTO_REFRESH}")
    page.wait_for_timeout(1500)  # a tick already on its way may still land
    shown = as_of_version(page)
    publish_burst("BTCUSDT", "short", 92_300.0, 0.8, 6)
    deadline = time.monotonic() + 15
    while live_app.api("/api/heatmap/BTCUSDT")["version"] == shown:
        assert time.monotonic() < deadline, "the engine never took the new liquidations"
        time.sleep(0.2)
    page.wait_for_timeout(3000)  # three refresh periods
    assert as_of_version(page) == shown
    page.click(switch)
    newest = live_app.api("/api/heatmap/BTCUSDT")["version"]
    page.wait_for_function(  # the engine keeps refreshing: at least the version seen now
        f"() => Number((document.getElementById('{ids.AS_OF}').innerText.match(/v(\\d+)/)"
        f" || [0, 0])[1]) >= {newest}",
        timeout=10_000,
    )


def plotted(page, graph_id: str, expression: str):
    """``expression`` over the drawn chart ``g`` (its ``_fullLayout`` is what Plotly drew)."""
    return page.evaluate(
        f"() => {{ const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        f" return {expression}; }}"
    )


def round_step(step: float) -> bool:
    """1, 2, 2.5 or 5 times a power of ten."""
    magnitude = 10 ** math.floor(math.log10(step))
    return any(math.isclose(step, f * magnitude, rel_tol=1e-9) for f in (1, 2, 2.5, 5, 10))


def test_the_map_right_axis_ticks_are_round(page, live_app):
    open_dashboard(page, live_app, "?view=map", graph=ids.MAP_GRAPH)
    ticks = plotted(page, ids.MAP_GRAPH, "g._fullLayout.yaxis2._vals.map(v => v.x)")
    labels = plotted(page, ids.MAP_GRAPH, "g._fullLayout.yaxis2._vals.map(v => v.text)")
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(ticks) >= 3 and len(steps) == 1, (ticks, labels)
    (step,) = steps
    assert round_step(step), labels
    assert all(math.isclose(t / step, round(t / step), abs_tol=1e-9) for t in ticks), labels
    curves = plotted(page, ids.MAP_GRAPH, "g.data.filter(t => t.yaxis === 'y2').length")
    assert curves == 2


@pytest.mark.parametrize(
    ("view", "graph"), [("timeline", ids.TIMELINE_GRAPH), ("map", ids.MAP_GRAPH)]
)
def test_on_a_phone_the_chart_toolbar_never_covers_the_legend(page, live_app, view, graph):
    page.set_viewport_size(PHONE)
    open_dashboard(page, live_app, f"?view={view}", graph=graph)
    page.wait_for_timeout(300)  # the chart settles at its box's size
    box = page.locator(f"#{graph} .js-plotly-plot").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # shows the toolbar
    legend = page.locator(f"#{graph} .legend").bounding_box()
    toolbar = page.locator(f"#{graph} .modebar").bounding_box()
    assert legend and toolbar and toolbar["width"] > 0
    apart = (
        toolbar["y"] + toolbar["height"] <= legend["y"]
        or legend["y"] + legend["height"] <= toolbar["y"]
        or toolbar["x"] + toolbar["width"] <= legend["x"]
        or legend["x"] + legend["width"] <= toolbar["x"]
    )
    assert apart, (legend, toolbar)


def test_time_price_at_24h_ends_at_now(page, live_app):
    open_dashboard(page, live_app, "?view=timeline&range=24h", graph=ids.TIMELINE_GRAPH)
    page.wait_for_timeout(300)
    end_ms = plotted(
        page, ids.TIMELINE_GRAPH, "Date.parse(g._fullLayout.xaxis.range[1].replace(' ', 'T') + 'Z')"
    )
    now_ms = time.time() * 1000
    assert now_ms - 60_000 <= end_ms <= now_ms + 15 * 60_000 + 60_000  # one 15-minute candle


def test_the_laptop_page_fits_a_900_px_window_in_every_view(page, live_app):
    open_dashboard(page, live_app)
    for label, view, graph in (
        (None, "heatmap", ids.HEATMAP_GRAPH),
        ("Heatmap (estimated)", "estimated", ids.ESTIMATED_GRAPH),
        ("Realized time × price", "timeline", ids.TIMELINE_GRAPH),
        ("Liquidation map", "map", ids.MAP_GRAPH),
        ("Table", "table", None),
    ):
        if label:
            show_view(page, label, view, graph)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert height == LAPTOP["height"], (view, height)
        chart = page.locator(f"#{graph} .js-plotly-plot").bounding_box() if graph else None
        assert chart is None or chart["height"] > 500  # the view takes the room that is left
    assert page.inner_text(f"#{ids.OUTAGE}") == ""  # the feed is live: no banner


def test_one_cluster_is_one_cluster(page, live_app):
    open_dashboard(page, live_app, "?view=table&symbol=1000PEPEUSDT", graph=None)
    page.wait_for_selector(f"#{ids.TABLE_CAPTION}:has-text('1 cluster of 1000PEPEUSDT ·')")
