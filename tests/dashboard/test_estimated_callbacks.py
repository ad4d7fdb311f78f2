"""The estimated view's refresh over a real (unstarted) service whose history store holds a day
of BTC candles and open interest: the figure, nothing sent while the result stands, a fixed
colour scale over new data, the reason when there is no result, and the map's profile."""

from __future__ import annotations

import math
import threading

import pytest
from dash import Patch, no_update
from dash.exceptions import PreventUpdate
from helpers import wait_until
from levels.support import refresher_looping

from callbacks.views import OUTPUTS, render_views
from dashboard import theme
from dashboard.state import ViewState
from heatmap_engine.levels.refresher import LevelsRefresher
from heatmap_engine.models import Candle, OpenInterest
from layouts import ids

POSITION = {component: i for i, (component, _) in enumerate(OUTPUTS)}
NOW_MS = 1_769_601_600_000  # the dashboard fixtures' "now" (conftest.NOW_MS)
MINUTE_MS = 60_000
BTC_PRICE = 90_000.0
DAY_START = NOW_MS - NOW_MS % MINUTE_MS - 1440 * MINUTE_MS


def output(values: list, component: str):
    return values[POSITION[component]]


def open_interest(start_ms: int, count: int, scale: float = 1.0) -> list:
    """5-minute readings (contracts), rising and falling gently."""
    return [
        ("5m", OpenInterest("binance", "BTCUSDT", start_ms + i * 300_000,
                            scale * 500.0 * (1 + 0.2 * math.sin(i / 11)), None))
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def service(make_service):
    service = make_service()
    service.history.store.write_batch([], open_interest=open_interest(DAY_START, 276))
    return service


def estimated(service, rendered=None, **fields):
    state = ViewState("BTCUSDT", **fields)
    return render_views(service, state, None, rendered or {})


def test_the_estimated_view_draws_the_model_with_candles_and_keeps_its_scale(service):
    values = estimated(service)
    figure = output(values, ids.ESTIMATED_GRAPH)
    assert [t["type"] for t in figure["data"]] == ["heatmap", "candlestick"]
    result = service.levels.result("BTCUSDT", "24h", "all")
    assert figure["data"][1]["close"][-1] == pytest.approx(result.grid.close[-1])
    assert figure["layout"]["uirevision"] == "estimated:BTCUSDT|24h|all"
    for other in (ids.HEATMAP_GRAPH, ids.TIMELINE_GRAPH, ids.MAP_GRAPH):
        assert output(values, other) is no_update
    rendered = output(values, ids.RENDERED)
    assert rendered["estimated.scale"]["key"] == "BTCUSDT|24h|all"
    assert rendered["estimated.scale"]["zmax"] > 0


def test_nothing_is_sent_while_the_result_stands_and_new_data_patches_on_the_same_scale(
    service,
):
    first = estimated(service)
    rendered = output(first, ids.RENDERED)
    with pytest.raises(PreventUpdate):
        estimated(service, rendered)
    zmax = rendered["estimated.scale"]["zmax"]
    # new data: an hour more of candles and open interest three times larger
    t = DAY_START + 1440 * MINUTE_MS
    more = [Candle("binance", "BTCUSDT", "1m", t + i * MINUTE_MS, t + (i + 1) * MINUTE_MS - 1,
                   BTC_PRICE, BTC_PRICE * 1.001, BTC_PRICE * 0.999, BTC_PRICE, 10.0,
                   10.0 * BTC_PRICE, 5.0, 100) for i in range(60)]  # fmt: skip
    store = service.history.store
    store.write_batch([], candles=more, open_interest=open_interest(t, 13, 3.0))
    again = estimated(service, rendered)
    patch = output(again, ids.ESTIMATED_GRAPH)
    assert isinstance(patch, Patch)  # the same chart: its data, not a new figure
    assert output(again, ids.RENDERED)["estimated.scale"]["zmax"] == zmax
    heat = patch.to_plotly_json()["operations"][0]["params"]["value"][0]
    assert heat["colorbar"]["ticktext"][-1].startswith("≥ $")
    assert heat["zmax"] == 100  # colour steps of the fixed maximum
    # the user picks another preset: a scale of its own
    other = estimated(service, output(again, ids.RENDERED), preset="high")
    assert output(other, ids.RENDERED)["estimated.scale"]["key"] == "BTCUSDT|24h|high"


def test_the_threshold_and_the_overlays_redraw_without_a_new_result(service):
    rendered = output(estimated(service), ids.RENDERED)
    values = estimated(service, rendered, threshold=30.0, overlay="dots,bands")
    ops = output(values, ids.ESTIMATED_GRAPH).to_plotly_json()["operations"]
    data = ops[0]["params"]["value"]
    assert [t["type"] for t in data[:2]] == ["heatmap", "candlestick"]
    dots = [t for t in data if t["type"] == "scatter"]
    stored = service.history.store.window("BTCUSDT", NOW_MS - 86_400_000, NOW_MS)
    assert sum(len(t["x"]) for t in dots) == len(stored) > 0
    shapes = next(op for op in ops if op["location"] == ["layout", "shapes"])["params"]["value"]
    bands = [s for s in shapes if s.get("legendgroup", "").startswith("bands-")]
    assert len(bands) == len(service.snapshot("BTCUSDT").filtered(0.0, 10.0))


def test_without_open_interest_the_view_says_why(make_service):
    service = make_service()
    figure = output(estimated(service), ids.ESTIMATED_GRAPH)
    (note,) = figure["layout"]["annotations"]
    # the service is never started: the feed's state first, then the model's reason
    feed, why = note["text"].split("<br><br>")
    assert feed.startswith("The feed from Binance is not running")
    assert (
        why == "No estimate for BTCUSDT over 24h: no open interest stored for BTCUSDT in the range"
    )
    off = make_service(history=False)
    (note,) = output(estimated(off), ids.ESTIMATED_GRAPH)["layout"]["annotations"]
    assert "HEATMAP_HISTORY" in note["text"]


def test_the_map_shows_the_estimated_profile_by_tier(service):
    figure = output(estimated(service, view="map"), ids.MAP_GRAPH)
    result = service.levels.result("BTCUSDT", "24h", "all")
    tiers = [t for t in figure["data"] if t["type"] == "bar" and t["name"].endswith(" est.")]
    assert {t["legendgroup"] for t in tiers} == {f"tier-{n}" for n in result.profile.tiers}
    realized = [t for t in figure["data"] if t.get("yaxis") == "y3"]
    stored = service.history.store.window("BTCUSDT", NOW_MS - 3_600_000, NOW_MS)
    assert sum(sum(t["y"]) for t in realized) == pytest.approx(sum(x.notional_usd for x in stored))


@pytest.fixture
def refreshing(service):
    """The service's levels with a refresher looping on its own thread, attached as a running
    service attaches it; its loop passes only when a reader asks (the tick is a day)."""
    stop = threading.Event()
    refresher = LevelsRefresher(service.levels, stop, tick_seconds=86_400.0)
    service.levels.refresher = refresher
    with refresher_looping(refresher, stop):
        yield refresher


def _corner_notes(values) -> str:
    return _corner_notes_of(values, ids.ESTIMATED_GRAPH)


def _corner_notes_of(values, graph: str) -> str:
    figure = output(values, graph)
    layout = figure["layout"] if isinstance(figure, dict) else None
    if layout is None:  # a Patch of the same chart
        ops = figure.to_plotly_json()["operations"]
        annotations = next(op for op in ops if op["location"] == ["layout", "annotations"])
        return " ".join(a["text"] for a in annotations["params"]["value"])
    return " ".join(a["text"] for a in layout["annotations"])


def test_a_new_bar_shows_the_previous_result_marked_updating_until_the_new_one_is_there(
    service, refreshing
):
    first = estimated(service)
    assert "updating" not in _corner_notes(first)
    t = DAY_START + 1440 * MINUTE_MS  # the bar after the stored day
    bar = Candle("binance", "BTCUSDT", "1m", t, t + MINUTE_MS - 1, BTC_PRICE, BTC_PRICE * 1.001,
                 BTC_PRICE * 0.999, BTC_PRICE, 10.0, 10.0 * BTC_PRICE, 5.0, 100)  # fmt: skip
    service.history.store.write_batch([], candles=[bar])
    stale = estimated(service, output(first, ids.RENDERED))
    assert "updating · shown up to" in _corner_notes(stale)
    key = output(stale, ids.RENDERED)["estimated"]
    shown_at = output(first, ids.RENDERED)["estimated"].split("|")[6]
    assert "|updating|" in key and key.split("|")[6] == shown_at  # the previous result
    wait_until(lambda: refreshing.runs >= 1, timeout=60)
    fresh = estimated(service, output(stale, ids.RENDERED))
    assert "updating" not in _corner_notes(fresh)
    key = output(fresh, ids.RENDERED)["estimated"]
    assert "updating" not in key and key.split("|")[6] == str(t + MINUTE_MS)


def test_the_pages_first_symbol_counts_as_read_over_the_short_ranges_its_range_first(service):
    from api.settings import ApiSettings
    from app import create_app

    create_app(service.settings, service, start_engine=False, api_settings=ApiSettings.from_env({}))
    refresher = service.levels.refresher  # the service's own (attached, not started)
    default = ViewState("BTCUSDT")  # BTCUSDT is tracked: the page opens on it
    due = refresher.due()
    assert due[0] == ("BTCUSDT", default.levels_range, default.preset)  # the page's own first
    assert sorted(due) == sorted(
        ("BTCUSDT", r, default.preset) for r in ("12h", "24h", "3d", "7d", "30d")
    )
    runs = service.levels.runs
    ran = refresher.refresh_due()
    assert ran >= 1 and service.levels.runs == runs + ran
    assert ran + refresher.no_data == 5  # a range the stored data is too short for is counted
    service.levels.result("BTCUSDT", default.levels_range, default.preset)
    assert service.levels.runs == runs + ran  # the first visitor finds it computed


def _card(values, card: str) -> tuple[str, str]:
    value, sub = output(values, card)
    return value.children, sub.children


def test_the_cards_describe_the_estimate_while_its_view_is_shown(service):
    values = estimated(service)
    result = service.levels.result("BTCUSDT", "24h", "all")
    price = service.snapshot("BTCUSDT").current_price
    profile = result.profile
    rows = [(math.sqrt(lo * hi), lu, su) for lo, hi, lu, su in zip(
        profile.price_low.tolist(), profile.price_high.tolist(), profile.long_usd.tolist(),
        profile.short_usd.tolist(), strict=True)]  # fmt: skip
    longs = [(m, u) for m, u, _ in rows if m <= price]
    shorts = [(m, u) for m, _, u in rows if m > price]
    standing = sum(u for _, u in longs) + sum(u for _, u in shorts)
    assert _card(values, ids.STAT_TOTAL)[0] == theme.fmt_usd(standing)

    def nearest(levels, closest):  # the closest of those holding half the largest within 10 %
        near = [(m, u) for m, u in levels if abs(m / price - 1) <= 0.10]
        largest = max(u for _, u in near)
        return closest((m, u) for m, u in near if u >= 0.5 * largest)

    below = nearest(longs, lambda xs: max(xs))  # the highest large long level below
    above = nearest(shorts, lambda xs: min(xs))  # the lowest large short level above
    assert below[0] < price < above[0]
    assert _card(values, ids.STAT_LONG)[0] == theme.fmt_price(below[0])
    assert _card(values, ids.STAT_LONG)[1].startswith(theme.fmt_usd(below[1]))
    assert _card(values, ids.STAT_SHORT)[0] == theme.fmt_price(above[0])
    assert _card(values, ids.STAT_WINDOW) == ("24h · all", f"to {theme.fmt_clock(result.at_ms)}")
    # another view: the cards are the clusters' again
    other = estimated(service, output(values, ids.RENDERED), view="heatmap")
    shown = service.snapshot("BTCUSDT").filtered(0.0, 10.0)
    assert _card(other, ids.STAT_TOTAL)[0] == str(len(shown))


def test_the_map_says_when_its_estimated_profile_is_the_previous_one(service, refreshing):
    first = estimated(service, view="map")
    notes = " ".join(a["text"] for a in output(first, ids.MAP_GRAPH)["layout"]["annotations"])
    assert "updating" not in notes
    t = DAY_START + 1440 * MINUTE_MS
    bar = Candle("binance", "BTCUSDT", "1m", t, t + MINUTE_MS - 1, BTC_PRICE, BTC_PRICE * 1.001,
                 BTC_PRICE * 0.999, BTC_PRICE, 10.0, 10.0 * BTC_PRICE, 5.0, 100)  # fmt: skip
    service.history.store.write_batch([], candles=[bar])
    stale = estimated(service, output(first, ids.RENDERED), view="map")
    assert "updating · shown up to" in _corner_notes_of(stale, ids.MAP_GRAPH)
