"""The heatmap figure from real engine snapshots: bands, colours, sizes, the price line, hover,
and the empty states; every figure also passes Plotly's own validation."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import pytest

from dashboard import theme
from dashboard.heatmap import (
    band_height,
    band_opacity,
    cluster_hover,
    empty_reason,
    heatmap_figure,
    price_range,
)
from heatmap_engine.models import Snapshot


def bands(figure: dict) -> dict[str, dict]:
    return {t["name"].split()[0].lower(): t for t in figure["data"] if t["type"] == "bar"}


def shown_range(figure: dict) -> list[float]:
    """The price range the figure asks autorange to show (its invisible extent points)."""
    (extent,) = [t for t in figure["data"] if t["name"] == "extent"]
    return extent["y"]


def test_one_band_per_cluster_red_long_green_short(btc: Snapshot):
    figure = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0)
    go.Figure(figure)  # raises on any property Plotly does not know
    shown = btc.filtered(0.0, 10.0)
    traces = bands(figure)
    assert traces["long"]["marker"]["color"] == theme.LONG == "#ef5350"
    assert traces["short"]["marker"]["color"] == theme.SHORT
    for side, trace in traces.items():
        expected = [c for c in shown if c.side == side]
        assert trace["y"] == [c.price_level for c in expected]
        assert trace["customdata"] == [c.cluster_id for c in expected]
        assert trace["orientation"] == "h" and set(trace["x"]) == {1.0}


def test_height_and_opacity_grow_with_strength(btc: Snapshot):
    figure = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0)
    low, high = shown_range(figure)
    span = high - low
    for trace in bands(figure).values():
        by_strength = sorted(
            zip(
                [c.strength for c in btc.clusters if c.cluster_id in trace["customdata"]],
                trace["width"],
                trace["marker"]["opacity"],
                strict=True,
            )
        )
        widths = [w for _, w, _ in by_strength]
        opacities = [o for _, _, o in by_strength]
        assert widths == sorted(widths) and opacities == sorted(opacities)
        assert max(widths) <= span * 0.06 + 1e-9  # never more than 6 % of the visible range
    strongest = max(btc.clusters, key=lambda c: c.strength)
    assert band_opacity(strongest) == 1.0
    weak = dataclasses.replace(strongest, strength=0.0)
    assert band_height(weak, 1e9) == pytest.approx((weak.price_high - weak.price_low) * 0.25)


def test_the_blue_price_line_and_its_tag(btc: Snapshot):
    figure = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0)
    layout = figure["layout"]
    (line,) = layout["shapes"]
    assert (line["y0"], line["y1"], line["line"]["color"]) == (
        btc.current_price,
        btc.current_price,
        theme.PRICE,
    )
    assert layout["annotations"][0]["text"] == "<b>90,000.0</b>"
    low, high = shown_range(figure)
    assert low < btc.current_price < high


def test_hover_names_every_cluster_field(btc: Snapshot, market_liquidations):
    cluster = max(btc.clusters, key=lambda c: c.strength)
    text = cluster_hover(cluster, btc.current_price)
    for field in ("Long liquidations", "Price level: 84,10", "Cell: ", "Liquidations: 12",
                  "Notional: $", "Weighted notional: $", "Strength: 1.00", "% below",
                  "Last update: 2026-01-28 ", f"Cluster id: {cluster.cluster_id}"):  # fmt: skip
        assert field in text, field
    # strength is relative to the symbol's strongest cluster: its USD size stands beside it
    usd = sum(
        x.notional_usd
        for x in market_liquidations
        if x.symbol == "BTCUSDT" and x.liquidated_side == "long"
        and cluster.price_low <= x.price < cluster.price_high
    )  # fmt: skip
    assert f"Strength: 1.00 · {theme.fmt_usd(usd)}" in text


def test_filters_remove_bands(btc: Snapshot):
    every = heatmap_figure(btc, "BTCUSDT", 0.0, 30.0)
    strong = heatmap_figure(btc, "BTCUSDT", 0.3, 30.0)
    near = heatmap_figure(btc, "BTCUSDT", 0.0, 1.0)

    def count(figure: dict) -> int:
        return sum(len(trace["y"]) for trace in bands(figure).values())

    assert count(every) == len(btc.clusters) == 6
    assert count(strong) == sum(1 for c in btc.clusters if c.strength >= 0.3) < count(every)
    assert count(near) == sum(1 for c in btc.clusters if c.distance_from_price <= 1.0)


def test_no_axis_range_is_set_so_a_zoom_survives_refreshes(btc: Snapshot):
    figure = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0)
    layout = figure["layout"]
    assert "range" not in layout["yaxis"] and layout["xaxis"]["fixedrange"] is True
    low, high = shown_range(figure)
    assert layout["yaxis"]["autorangeoptions"] == {"clipmin": low, "clipmax": high}


def test_uirevision_keeps_zoom_per_symbol(btc: Snapshot):
    first = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0)["layout"]["uirevision"]
    filtered = heatmap_figure(btc, "BTCUSDT", 0.5, 3.0)["layout"]["uirevision"]
    other = heatmap_figure(None, "ETHUSDT", 0.0, 10.0)["layout"]["uirevision"]
    assert first == filtered != other


def test_empty_states_explain_themselves(engine):
    def note(snapshot, symbol, low=0.0, far=10.0) -> str:
        figure = heatmap_figure(snapshot, symbol, low, far)
        go.Figure(figure)
        return figure["layout"]["annotations"][-1]["text"]

    assert "Waiting for the first refresh of SOLUSDT" in note(None, "SOLUSDT")
    doge = note(engine.snapshot("DOGEUSDT"), "DOGEUSDT")
    assert doge.startswith("No liquidations for DOGEUSDT in the last 60 min")
    assert "clusters need at least 5" in doge
    eth = note(engine.snapshot("ETHUSDT"), "ETHUSDT")
    assert eth.startswith("3 liquidations of ETHUSDT in the last 60 min, no cluster yet")
    hidden = note(engine.snapshot("BTCUSDT"), "BTCUSDT", 1.0, 0.5)
    assert "hidden by the filters" in hidden and "strength ≥ 1" in hidden
    assert empty_reason(engine.snapshot("BTCUSDT"), "BTCUSDT", 3, 0.0, 10.0) is None


def test_the_empty_chart_still_shows_the_price(engine):
    figure = heatmap_figure(engine.snapshot("DOGEUSDT"), "DOGEUSDT", 0.0, 10.0)
    assert figure["layout"]["shapes"][0]["y0"] == 0.18
    low, high = shown_range(figure)
    assert low < 0.18 < high and (high - low) >= 0.18 * 0.01


def test_price_range_without_a_price_holds_the_clusters(btc: Snapshot):
    no_price = dataclasses.replace(btc, current_price=None)
    low, high = price_range(no_price.clusters, None)
    assert low < min(c.price_level for c in btc.clusters)
    assert high > max(c.price_level for c in btc.clusters)
    assert price_range((), None) is None
    figure = heatmap_figure(dataclasses.replace(no_price, clusters=()), "BTCUSDT", 0.0, 10.0)
    assert figure["layout"]["yaxis"]["visible"] is False
