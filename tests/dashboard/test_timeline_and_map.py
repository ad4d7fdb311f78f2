"""The time × price view and the liquidation map, from the made-up market's liquidations."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest

from dashboard import theme
from dashboard.liqmap import buckets, cumulative, liquidation_map_figure, nice_step
from dashboard.points import Points, at_most, merge
from dashboard.state import ViewState
from dashboard.timeline import MAX_MARKERS, marker_sizes, timeline_figure
from heatmap_engine.models import Candle, Liquidation

HOUR_MS = 3_600_000


def minute_candles(now_ms: int, minutes: int, price: float = 90_000.0) -> list[Candle]:
    start = now_ms - now_ms % 60_000 - minutes * 60_000
    out = []
    for i in range(minutes):
        t = start + i * 60_000
        o = price * (1 + math.sin(i / 9) * 0.004)
        c = price * (1 + math.sin((i + 1) / 9) * 0.004)
        out.append(Candle("binance", "BTCUSDT", "1m", t, t + 59_999, o, max(o, c) * 1.0005,
                          min(o, c) * 0.9995, c, 10.0, 10.0 * c, 5.0, 100))  # fmt: skip
    return out


def btc_liquidations(market_liquidations) -> list[Liquidation]:
    return [x for x in market_liquidations if x.symbol == "BTCUSDT"]


def btc_points(market_liquidations) -> Points:
    return Points.from_liquidations(btc_liquidations(market_liquidations))


def test_timeline_has_candles_dots_bands_and_the_price(btc, market_liquidations, now_ms):
    liqs = btc_liquidations(market_liquidations)
    state = ViewState("BTCUSDT", range="1h")
    figure = timeline_figure(
        minute_candles(now_ms, 60), Points.from_liquidations(liqs), btc, state,
        now_ms - HOUR_MS, now_ms,
    )  # fmt: skip
    go.Figure(figure)
    candles, longs, shorts, extent = figure["data"]
    assert candles["type"] == "candlestick" and len(candles["x"]) == 60
    assert len(longs["x"]) == sum(1 for x in liqs if x.liquidated_side == "long")
    assert len(shorts["x"]) == sum(1 for x in liqs if x.liquidated_side == "short")
    assert longs["marker"]["line"]["color"] == theme.LONG
    assert extent["x"] == [now_ms - HOUR_MS, now_ms] and "range" not in figure["layout"]["xaxis"]
    shapes = figure["layout"]["shapes"]
    bands = [s for s in shapes if s["line"]["color"] != theme.PRICE]
    assert sorted(s["y0"] for s in bands) == sorted(c.price_level for c in btc.filtered(0.0, 10.0))
    assert [s["y0"] for s in shapes if s["line"]["color"] == theme.PRICE] == [90_000.0]
    assert not [a for a in figure["layout"]["annotations"] if "No " in a["text"]]
    biggest = max(liqs, key=lambda x: x.notional_usd)
    trace = longs if biggest.liquidated_side == "long" else shorts
    at = trace["x"].index(biggest.event_time_ms)
    assert trace["marker"]["size"][at] == 30.0
    assert trace["customdata"][at][:2] == [round(biggest.notional_usd), biggest.quantity]
    assert "×" not in trace["hovertemplate"] and "%{x|%Y-%m-%d %H:%M:%S}" in trace["hovertemplate"]


def test_candles_are_merged_to_the_range_interval(btc, now_ms):
    state = ViewState("BTCUSDT", range="4h")  # 3-minute candles
    figure = timeline_figure(minute_candles(now_ms, 240), Points.empty(), btc, state,
                             now_ms - 4 * HOUR_MS, now_ms)  # fmt: skip
    x = figure["data"][0]["x"]
    assert 80 <= len(x) <= 81 and all(t % 180_000 == 0 for t in x)


def test_dots_grow_with_notional():
    sizes = marker_sizes([1_000.0, 4_000.0, 16_000.0, 0.0], 16_000.0)
    assert sizes[0] < sizes[1] < sizes[2] == 30.0 and sizes[3] == 5.0
    assert marker_sizes([], 1.0) == [] and marker_sizes([0.0], 0.0) == [5.0]


def crowd(now_ms: int, count: int) -> Points:
    return Points.from_liquidations([
        Liquidation("binance", "BTCUSDT", "long" if i % 3 else "short", 90_000 * (1 + i % 97 / 500),
                    0.01, 900.0 + i % 7, now_ms - i * 1_000, now_ms - i * 1_000)
        for i in range(count)
    ])  # fmt: skip


def test_too_many_liquidations_are_merged_without_losing_anything(now_ms):
    many = crowd(now_ms, 20_000)
    merged = at_most(many, MAX_MARKERS, 60_000)
    assert len(merged) <= MAX_MARKERS
    assert merged.notionals.sum() == pytest.approx(many.notionals.sum())
    assert merged.quantities.sum() == pytest.approx(many.quantities.sum())
    assert merged.counts.sum() == len(many)
    for side in ("long", "short"):
        assert merged.of_side(side).counts.sum() == len(many.of_side(side))
    few = crowd(now_ms, 10)
    assert at_most(few, MAX_MARKERS, 60_000) is few


def test_a_merged_point_sits_at_its_notional_weighted_price_and_bucket_middle(now_ms):
    liqs = [
        Liquidation("binance", "X", "long", 100.0, 1.0, 100.0, now_ms, now_ms),
        Liquidation("binance", "X", "long", 100.05, 3.0, 300.15, now_ms + 10, now_ms + 10),
    ]
    merged = merge(Points.from_liquidations(liqs), 60_000, 0.01)
    assert len(merged) == 1 and merged.counts.tolist() == [2]
    assert merged.prices[0] == pytest.approx((100.0 * 100.0 + 100.05 * 300.15) / 400.15)
    assert merged.times[0] == now_ms - now_ms % 60_000 + 30_000


def test_store_rows_become_points_up_to_the_end(now_ms):
    rows = [(now_ms - 10, 90_000.0, 900.0, 0, 0.01, "binance"),
            (now_ms + 10, 91_000.0, 910.0, 1, 0.01, "binance")]  # fmt: skip
    points = Points.from_rows(rows, now_ms)
    assert points.times.tolist() == [now_ms - 10] and points.sides.tolist() == [0]
    assert len(Points.from_rows([], now_ms)) == 0


def test_timeline_empty_states(btc, now_ms):
    state = ViewState("BTCUSDT")
    window = (now_ms - HOUR_MS, now_ms)

    def notes(candles, liqs, history=True) -> list[str]:
        figure = timeline_figure(candles, liqs, btc, state, *window, history=history)
        go.Figure(figure)
        return [a["text"] for a in figure["layout"]["annotations"] if "<b>" not in a["text"]]

    none = Points.empty()
    assert notes([], none)[0].startswith("No candles or liquidations for BTCUSDT in the last 1h")
    assert notes(minute_candles(now_ms, 60), none) == ["No liquidations of BTCUSDT in the last 1h"]
    assert "HEATMAP_HISTORY=0" in notes(minute_candles(now_ms, 60), none, history=False)[0]


def test_map_buckets_sum_every_liquidation(market_liquidations):
    liqs = btc_liquidations(market_liquidations)
    rows = buckets(Points.from_liquidations(liqs), 90_000.0)
    for side in ("long", "short"):
        total = sum(x.notional_usd for x in liqs if x.liquidated_side == side)
        assert sum(getattr(b, f"{side}_usd") for b in rows) == pytest.approx(total)
        count = sum(1 for x in liqs if x.liquidated_side == side)
        assert sum(getattr(b, f"{side}_count") for b in rows) == count
    widths = {round(b.high - b.low, 6) for b in rows}
    assert len(widths) == 1 and rows == sorted(rows, key=lambda b: b.low)


def test_cumulative_curves_run_outward_from_the_price(market_liquidations):
    rows = buckets(btc_points(market_liquidations), 90_000.0)
    (long_x, long_y), (short_x, short_y) = cumulative(rows, 90_000.0)
    assert long_x[0] == short_x[0] == 90_000.0 and long_y[0] == short_y[0] == 0.0
    assert long_x == sorted(long_x, reverse=True) and long_y == sorted(long_y)
    assert short_x == sorted(short_x) and short_y == sorted(short_y)
    below = sum(b.long_usd for b in rows if b.centre <= 90_000.0)
    above = sum(b.short_usd for b in rows if b.centre > 90_000.0)
    assert long_y[-1] == pytest.approx(below) and short_y[-1] == pytest.approx(above)


def test_map_figure_traces_and_price_line(btc, market_liquidations):
    points = btc_points(market_liquidations)
    figure = liquidation_map_figure(points, 90_000.0, "BTCUSDT", "in the last 1h", "map:BTC")
    go.Figure(figure)
    names = [t["name"] for t in figure["data"]]
    assert names == ["Longs liquidated", "Shorts liquidated", "Cumulative long", "Cumulative short"]
    assert figure["layout"]["barmode"] == "stack"
    assert figure["layout"]["shapes"][0]["x0"] == 90_000.0
    assert figure["layout"]["shapes"][0]["line"]["color"] == theme.PRICE
    from_clusters = liquidation_map_figure(
        Points.from_clusters(btc.clusters), 90_000.0, "BTCUSDT", "in clusters", "map:BTC"
    )
    assert sum(sum(t["y"]) for t in from_clusters["data"][:2]) == pytest.approx(
        sum(c.total_notional for c in btc.clusters)
    )


def test_map_empty_state_and_no_price():
    empty = liquidation_map_figure(Points.empty(), None, "DOGEUSDT", "in the last 4h", "m")
    go.Figure(empty)
    assert (
        empty["layout"]["annotations"][-1]["text"] == "No liquidations of DOGEUSDT in the last 4h"
    )
    one = Points.build([0], [1.0], [10.0], [0], [10.0])
    no_price = liquidation_map_figure(one, None, "X", "in the last 1h", "m")
    assert [t["name"] for t in no_price["data"]] == ["Longs liquidated", "Shorts liquidated"]


@pytest.mark.parametrize(
    ("span", "step"), [(17_000, 500), (60, 1), (0.0007, 0.00002), (150, 2.5), (1, 0.02)]
)
def test_bucket_widths_are_round(span, step):
    assert nice_step(span) == pytest.approx(step)


def test_only_bands_near_the_chart_are_drawn(btc, now_ms):
    """A band far from the candles would stretch the price axis (autorange takes shapes in)."""
    candles = minute_candles(now_ms, 60)
    figure = timeline_figure(candles, Points.empty(), btc, ViewState("BTCUSDT"),
                             now_ms - HOUR_MS, now_ms)  # fmt: skip
    low = min(c.low for c in candles)
    high = max(c.high for c in candles)
    margin = (high - low) * 0.1
    drawn = [s["y0"] for s in figure["layout"]["shapes"] if s["line"]["color"] != theme.PRICE]
    expected = [c.price_level for c in btc.filtered(0.0, 10.0)
                if low - margin <= c.price_level <= high + margin]  # fmt: skip
    assert sorted(drawn) == sorted(expected) and len(expected) < len(btc.filtered(0.0, 10.0))


def test_the_map_right_axis_has_its_own_round_ticks(market_liquidations):
    figure = liquidation_map_figure(
        btc_points(market_liquidations), 90_000.0, "BTCUSDT", "in the last 1h", "m"
    )
    # Plotly's default for an overlaying axis is "sync": ticks at the left grid's heights
    assert figure["layout"]["yaxis2"]["tickmode"] == "auto"
    assert figure["layout"]["yaxis2"]["overlaying"] == "y"


def test_the_map_says_what_the_curves_leave_out():
    """Longs liquidated above the price (it fell further after them) and shorts below it are
    not on the curves, which add up from the price outward: the chart says how much."""
    points = Points.build(
        [0] * 4, [88_000.0, 91_000.0, 89_000.0, 92_000.0], [5_000.0, 1_250_000.0, 300_000.0, 7.0],
        [0, 0, 1, 1], [0.1] * 4,
    )  # fmt: skip
    figure = liquidation_map_figure(points, 90_000.0, "BTCUSDT", "in the last 1h", "m")
    go.Figure(figure)
    (note,) = [
        a["text"] for a in figure["layout"]["annotations"] if "Not on the curves" in a["text"]
    ]
    assert "$1.25M of longs above the price" in note and "$300.0k of shorts below it" in note
    (_, long_y), (_, short_y) = cumulative(buckets(points, 90_000.0), 90_000.0)
    assert long_y[-1] == pytest.approx(5_000.0) and short_y[-1] == pytest.approx(7.0)
    on_side = Points.build([0, 0], [88_000.0, 92_000.0], [5.0, 7.0], [0, 1], [0.1, 0.1])
    plain = liquidation_map_figure(on_side, 90_000.0, "BTCUSDT", "in the last 1h", "m")
    assert not [a for a in plain["layout"]["annotations"] if "Not on the curves" in a["text"]]


@pytest.mark.parametrize(("range_", "step_ms"), [("1h", 60_000), ("24h", 900_000), ("7d", HOUR_MS)])
def test_time_price_ends_one_candle_after_now(now_ms, range_, step_ms):
    """Plotly's autorange pads 5 % into the future (1 h 12 min at 24 h): it is clipped to one
    candle interval after now, and as much before the range's start."""
    state = ViewState("BTCUSDT", range=range_)
    start = now_ms - state.range_ms
    figure = timeline_figure(minute_candles(now_ms, 60), Points.empty(), None, state, start, now_ms)
    clip = figure["layout"]["xaxis"]["autorangeoptions"]
    assert clip == {"clipmin": start - step_ms, "clipmax": now_ms + step_ms}
    assert "range" not in figure["layout"]["xaxis"]  # zoom and pan survive refreshes
