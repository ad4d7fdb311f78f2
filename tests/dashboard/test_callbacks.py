"""The callbacks as plain functions over a real (unstarted) service, and through Dash's own
HTTP route with ``app.server.test_client()``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from api.settings import ApiSettings
from app import create_app
from callbacks import sources
from callbacks.panels import csv_download, details_for, ladder_for, pin_from_click
from callbacks.url_state import from_controls, from_url
from callbacks.views import OUTPUTS, render_views
from dashboard.state import ViewState
from heatmap_engine.models import Candle, Liquidation, OpenInterest
from layouts import ids

POSITION = {component: i for i, (component, _) in enumerate(OUTPUTS)}
HOUR_MS = 3_600_000
ROOT = Path(__file__).resolve().parents[2]


def output(values: list, component: str):
    return values[POSITION[component]]


def test_the_visible_view_and_the_cards_are_rendered_the_rest_is_left(make_service):
    service = make_service()
    values = render_views(service, ViewState("BTCUSDT", view="heatmap"), None, {})
    heatmap = output(values, ids.HEATMAP_GRAPH)
    assert heatmap["layout"]["uirevision"] == "heatmap:BTCUSDT"
    assert sum(len(t["y"]) for t in heatmap["data"] if t["type"] == "bar") == len(
        service.snapshot("BTCUSDT").filtered(0.0, 10.0)
    )
    for other in (ids.TIMELINE_GRAPH, ids.MAP_GRAPH, ids.TABLE_BODY):
        assert output(values, other) is no_update
    assert all(output(values, card) is not no_update for card in ids.STAT_CARDS)
    rendered = output(values, ids.RENDERED)
    assert set(rendered) == {"stats", "heatmap", "heatmap.uirevision"}
    assert rendered["heatmap.uirevision"] == "heatmap:BTCUSDT"


def test_an_unchanged_snapshot_sends_nothing_and_new_data_sends_again(make_service, now_ms):
    service = make_service()
    state = ViewState("BTCUSDT", view="heatmap")
    first = render_views(service, state, None, {})
    rendered = output(first, ids.RENDERED)
    with pytest.raises(PreventUpdate):
        render_views(service, state, None, rendered)
    service.engine.process(
        [Liquidation("binance", "BTCUSDT", "short", 91_000.0, 1.0, 91_000.0, now_ms, now_ms)]
    )
    service.engine.refresh(now_ms)
    again = render_views(service, state, None, rendered)
    assert output(again, ids.RENDERED)["heatmap"] != rendered["heatmap"]
    # the same chart on the page: a patch of data, shapes and annotations; axes left alone
    patch = output(again, ids.HEATMAP_GRAPH).to_plotly_json()
    locations = [op["location"] for op in patch["operations"]]
    assert ["data"] in locations and ["layout", "shapes"] in locations
    assert not [loc for loc in locations if "range" in loc or "autorange" in loc]
    bands = [t for t in patch["operations"][0]["params"]["value"] if t["type"] == "bar"]
    assert sum(len(t["y"]) for t in bands) == len(service.snapshot("BTCUSDT").filtered(0, 10))


def test_another_symbol_gets_a_whole_figure(make_service):
    service = make_service()
    rendered = output(
        render_views(service, ViewState("BTCUSDT", view="heatmap"), None, {}), ids.RENDERED
    )
    values = render_views(service, ViewState("1000PEPEUSDT", view="heatmap"), None, rendered)
    figure = output(values, ids.HEATMAP_GRAPH)
    assert isinstance(figure, dict) and figure["layout"]["uirevision"] == "heatmap:1000PEPEUSDT"
    assert output(values, ids.RENDERED)["heatmap.uirevision"] == "heatmap:1000PEPEUSDT"


def test_switching_view_renders_only_the_new_one(make_service):
    service = make_service()
    first = render_views(service, ViewState("BTCUSDT", view="heatmap"), None, {})
    values = render_views(service, ViewState("BTCUSDT", view="table"), None,
                          output(first, ids.RENDERED))  # fmt: skip
    assert output(values, ids.HEATMAP_GRAPH) is no_update
    assert output(values, ids.STAT_PRICE) is no_update  # same data, cards already right
    rows = output(values, ids.TABLE_BODY)
    assert len(rows) == len(service.snapshot("BTCUSDT").filtered(0.0, 10.0))
    assert output(values, ids.TABLE_CAPTION).startswith("5 clusters of BTCUSDT")


def test_timeline_reads_the_store_and_the_engine(make_service, now_ms):
    service = make_service()
    state = ViewState("BTCUSDT", view="timeline", range="24h")
    figure = output(render_views(service, state, None, {}), ids.TIMELINE_GRAPH)
    candles, longs, shorts, extent = figure["data"]
    assert len(candles["x"]) == 96  # a day of 15-minute candles: 23 h stored + 1 h in memory
    stored = service.history.store.window("BTCUSDT", now_ms - 24 * HOUR_MS, now_ms)
    assert len(longs["x"]) + len(shorts["x"]) == len(stored) == 46
    assert extent["x"] == [now_ms - 24 * HOUR_MS, now_ms]


def test_candles_merge_store_and_memory_without_repeats(make_service, now_ms):
    service = make_service()
    day = sources.candles(service, "BTCUSDT", now_ms - 24 * HOUR_MS, now_ms)
    opens = day["open_time_ms"].tolist()
    assert len(opens) == len(set(opens)) == 1440 and opens == sorted(opens)
    assert len(sources.candles(service, "BTCUSDT", now_ms - HOUR_MS, now_ms)) == 60


def test_a_week_view_takes_the_5m_backfill_before_the_stored_minutes(make_service, now_ms):
    """The store holds a day of 1m candles and (from the 30-day backfill) 5m candles over the
    week: the 7 d view (1 h candles) gets the whole week, the 5m candles only before the first
    stored minute; a 1-minute view never gets 5m candles."""
    service = make_service()
    store = service.history.store
    first_minute = store.candles("BTCUSDT", "1m", 0, now_ms, 1)[0].open_time_ms
    step = 5 * 60_000
    week = now_ms - 7 * 24 * HOUR_MS
    coarse = [Candle("binance", "BTCUSDT", "5m", t, t + step - 1, 90.0, 91.0, 89.0, 90.0, 1.0,
                     90.0, 0.5, 1) for t in range(week, now_ms, step)]  # fmt: skip
    store.write_batch([], candles=coarse)
    got = sources.candles(service, "BTCUSDT", week, now_ms, "1h")
    spans = got["close_time_ms"] - got["open_time_ms"] + 1  # a row's interval
    fives = got["open_time_ms"][spans == step].tolist()
    assert fives and fives[0] == week
    assert fives[-1] + step <= first_minute  # none overlaps the stored minutes
    assert len(fives) == (first_minute - first_minute % step - week) // step
    assert (spans[got["open_time_ms"] >= first_minute] == 60_000).all()
    short = sources.candles(service, "BTCUSDT", week, now_ms, "3m")
    assert (short["close_time_ms"] - short["open_time_ms"] + 1 == 60_000).all()


def test_without_history_the_map_uses_the_clusters(make_service):
    service = make_service(history=False)
    assert sources.liquidations(service, "BTCUSDT", 0, 1) is None
    state = ViewState("BTCUSDT", view="map")
    figure = output(render_views(service, state, None, {}), ids.MAP_GRAPH)
    bars = figure["data"][:2]
    assert sum(sum(t["y"]) for t in bars) == pytest.approx(
        sum(c.total_notional for c in service.snapshot("BTCUSDT").clusters)
    )
    timeline = output(
        render_views(service, ViewState("BTCUSDT", view="timeline"), None, {}), ids.TIMELINE_GRAPH
    )
    assert "HEATMAP_HISTORY=0" in timeline["layout"]["annotations"][-1]["text"]


def test_url_sets_the_controls_and_canonicalises_itself(make_service):
    service = make_service(history=False)
    values = from_url(service, "?symbol=pepe&view=table&refresh=2&preset=high")
    symbol, strength, distance, view, range_, levels_range, preset, threshold, overlays = values[:9]
    interval, search, notice, state = values[9:]
    assert (symbol, strength, distance, view, range_) == ("1000PEPEUSDT", 0.0, 10.0, "table", "1h")
    assert (levels_range, preset, threshold, overlays) == ("24h", "high", 5.0, [])
    assert interval == 2000 and notice == ""
    assert search == "?symbol=1000PEPEUSDT&view=table&refresh=2&preset=high"
    assert ViewState.from_dict(state) == ViewState(
        "1000PEPEUSDT", view="table", refresh=2, preset="high"
    )
    assert from_url(service, search)[10] is no_update  # already canonical: the URL stays
    unknown = from_url(service, "?symbol=zzz")
    assert unknown[0] == "BTCUSDT" and "zzz" in unknown[11]


def test_a_moved_control_writes_the_url_and_leaves_the_controls(make_service):
    current = ViewState("BTCUSDT", refresh=3).to_dict()
    moved = ("ETHUSDT", 0.4, 10.0, "heatmap", "1h", "24h", "all", 5.0, [])
    values = from_controls(current, "BTCUSDT", moved)
    assert values[:10] == [no_update] * 10
    assert values[10] == "?symbol=ETHUSDT&min_strength=0.4&view=heatmap&refresh=3"
    assert ViewState.from_dict(values[12]) == ViewState("ETHUSDT", 0.4, view="heatmap", refresh=3)


def test_a_click_pins_the_band_and_the_panel_follows_the_snapshot(make_service):
    service = make_service(history=False)
    state = ViewState("BTCUSDT", view="heatmap").to_dict()
    strongest = max(service.snapshot("BTCUSDT").clusters, key=lambda c: c.strength)
    pinned = pin_from_click({"points": [{"customdata": strongest.cluster_id}]}, state)
    assert pinned == {"symbol": "BTCUSDT", "cluster_id": strongest.cluster_id}
    text = json.dumps(details_for(service, pinned, state), default=str)
    assert "Liquidations" in text and str(strongest.cluster_id) in text
    other = ViewState("ETHUSDT").to_dict()
    assert "Click a band" in json.dumps(details_for(service, pinned, other), default=str)
    gone = {"symbol": "BTCUSDT", "cluster_id": 1}
    assert "has left the window" in json.dumps(details_for(service, gone, state), default=str)
    with pytest.raises(PreventUpdate):
        pin_from_click({"points": [{"x": 1}]}, state)


def test_the_ladder_puts_the_price_between_the_sides(make_service):
    service = make_service(history=False)
    rows = ladder_for(service, ViewState("BTCUSDT", view="heatmap").to_dict())
    classes = [row.className.split()[0] for row in rows]
    price_at = classes.index("hm-ladder-price")
    assert classes.count("hm-ladder-price") == 1
    shown = service.snapshot("BTCUSDT").filtered(0.0, 10.0)
    assert price_at == sum(1 for c in shown if c.price_level > 90_000.0)


def test_csv_download_is_the_shown_table(make_service):
    service = make_service(history=False)
    state = ViewState("BTCUSDT", min_strength=0.3).to_dict()
    sent = csv_download(service, state, {"column": "strength", "descending": True})
    lines = sent["content"].splitlines()
    assert sent["filename"].startswith("clusters_BTCUSDT_v") and sent["type"] == "text/csv"
    assert len(lines) == 1 + len(service.snapshot("BTCUSDT").filtered(0.3, 10.0))


# -- through Dash's HTTP routes ------------------------------------------------------------------
@pytest.fixture
def dash_app(make_service):
    service = make_service()
    return create_app(service.settings, service, start_engine=False,
                      api_settings=ApiSettings.from_env({}))  # fmt: skip


def test_both_paths_serve_the_page_with_local_assets_only(dash_app):
    client = dash_app.server.test_client()
    for path in ("/", "/liquidation-heatmap", "/liquidation-heatmap?symbol=ETHUSDT"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        response.close()
        assert response.status_code == 200 and "/assets/dashboard.css" in html
        assert "https://" not in html.replace("https://dash-version.plotly.com", "")
    assert dash_app.config.suppress_callback_exceptions is False


def component_ids(node) -> set[str]:
    """Every component id in a serialised Dash layout."""
    if isinstance(node, list):
        return set().union(*map(component_ids, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["props"]["id"]} if "id" in node.get("props", {}) else set()
    return found | set().union(*(component_ids(v) for v in node.get("props", {}).values()))


def test_every_callback_refers_to_components_of_the_layout(dash_app):
    client = dash_app.server.test_client()
    known = component_ids(client.get("/_dash-layout").get_json())
    named = {v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str)}
    assert named - {ids.SORT_PREFIX} <= known
    for dependency in client.get("/_dash-dependencies").get_json():
        for item in dependency["inputs"] + dependency["state"]:
            assert item["id"] in known, item


def _post(client, dash_app, output_contains: str, values: dict):
    key = next(k for k in dash_app.callback_map if output_contains in k)
    spec = dash_app.callback_map[key]
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in key.strip(".").split("...")]  # fmt: skip

    def fill(items):
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    body = {"output": key, "outputs": outputs, "inputs": fill(spec["inputs"]),
            "state": fill(spec["state"]), "changedPropIds": [f"{ids.STATE}.data"]}  # fmt: skip
    return client.post("/_dash-update-component", json=body)


def test_the_refresh_over_http_answers_204_when_nothing_changed(dash_app):
    client = dash_app.server.test_client()
    values = {
        f"{ids.STATE}.data": ViewState("BTCUSDT", view="heatmap").to_dict(),
        f"{ids.RENDERED}.data": {},
    }
    first = _post(client, dash_app, f"{ids.HEATMAP_GRAPH}.figure", values)
    assert first.status_code == 200
    response = first.get_json()["response"]
    assert response[ids.HEATMAP_GRAPH]["figure"]["layout"]["uirevision"] == "heatmap:BTCUSDT"
    values[f"{ids.RENDERED}.data"] = response[ids.RENDERED]["data"]
    again = _post(client, dash_app, f"{ids.HEATMAP_GRAPH}.figure", values)
    assert again.status_code == 204 and again.get_data() == b""


def bundled_trace_types() -> set[str]:
    """The trace modules registered in assets/vendor's plotly.js build, read from the file."""
    (bundle,) = (ROOT / "assets" / "vendor").glob("plotly-*.min.js")
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle.read_text()))


def test_every_trace_type_drawn_is_in_the_vendored_plotly_bundle(make_service):
    """dcc.Graph uses assets/vendor's plotly.js build (window.Plotly) instead of the 4.8 MB full
    bundle: every trace type a view draws must be in it (the estimated view draws a heatmap
    under the candles)."""
    service = make_service()
    types = set()
    service.history.store.write_batch([], open_interest=day_of_open_interest())
    graphs = {"estimated": ids.ESTIMATED_GRAPH, "heatmap": ids.HEATMAP_GRAPH,
              "timeline": ids.TIMELINE_GRAPH, "map": ids.MAP_GRAPH}  # fmt: skip
    for view, graph in graphs.items():
        state = ViewState("BTCUSDT", view=view, overlay="dots,bands")
        values = render_views(service, state, None, {})
        types |= {trace["type"] for trace in output(values, graph)["data"]}
    bundled = bundled_trace_types()
    assert types == {"bar", "candlestick", "scatter", "heatmap"} and types <= bundled


def day_of_open_interest() -> list:
    """A day of 5-minute open-interest readings (contracts) of BTC up to the fixtures' now."""
    start = 1_769_601_600_000 - 1440 * 60_000
    return [("5m", OpenInterest("binance", "BTCUSDT", start + i * 300_000, 500.0 + i, None))
            for i in range(289)]  # fmt: skip


def test_the_estimated_view_over_http_answers_204_while_its_result_stands(make_service):
    """The default view (no view in the state): its figure, then an empty 204 on the next tick."""
    service = make_service()
    service.history.store.write_batch([], open_interest=day_of_open_interest())
    app = create_app(service.settings, service, start_engine=False,
                     api_settings=ApiSettings.from_env({}))  # fmt: skip
    client = app.server.test_client()
    values = {f"{ids.STATE}.data": ViewState("BTCUSDT").to_dict(), f"{ids.RENDERED}.data": {}}
    first = _post(client, app, f"{ids.ESTIMATED_GRAPH}.figure", values)
    response = first.get_json()["response"]
    figure = response[ids.ESTIMATED_GRAPH]["figure"]
    assert [t["type"] for t in figure["data"]] == ["heatmap", "candlestick"]
    values[f"{ids.RENDERED}.data"] = response[ids.RENDERED]["data"]
    again = _post(client, app, f"{ids.ESTIMATED_GRAPH}.figure", values)
    assert again.status_code == 204 and again.get_data() == b""


def test_stored_hours_read_once_give_what_the_store_holds(make_service, now_ms, monkeypatch):
    """The 24 h view after a 4 h one (some hours cached, the rest read in one query, with a
    cached hour in between) shows exactly the store's liquidations of the range."""
    service = make_service()
    store = service.history.store
    monkeypatch.setattr(sources.time, "time_ns", lambda: (now_ms + HOUR_MS) * 1_000_000)
    sources._HOURS.get(
        store, "BTCUSDT", range(now_ms - 10 * HOUR_MS, now_ms - 9 * HOUR_MS, HOUR_MS)
    )
    sources.liquidations(service, "BTCUSDT", now_ms - 4 * HOUR_MS, now_ms)
    start = now_ms - 24 * HOUR_MS
    points = sources.liquidations(service, "BTCUSDT", start, now_ms)
    direct = [r[0] for r in store.window_rows("BTCUSDT", start, now_ms + 1)]
    assert direct and sorted(points.times.tolist()) == direct
