"""The estimated heatmap and the map's estimated profile as pure functions, over results of the
real model (``run_levels``) on simple series; every expected value is computed here from the
result's own arrays, not by the code under test."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from levels.support import FIVE_MINUTES, T0, random_market

from dashboard.estimated import EstimatedOptions, estimated_figure, estimated_message
from dashboard.levels_grid import (
    LEVELS,
    cell_levels,
    colour_scale,
    nice_ceiling,
    screen_cells,
    tier_names,
)
from dashboard.liqmap import liquidation_map_figure
from dashboard.points import Points
from dashboard.profile import cumulative, profile_bars
from heatmap_engine.levels import Bars, LevelsSettings, Readings, run_levels

SETTINGS = LevelsSettings.from_env({})


@pytest.fixture(scope="module")
def result():
    bars, readings = random_market(11, 12 * 24 * 4)  # four days of 5-minute bars
    return run_levels(bars, readings, SETTINGS, symbol="BTCUSDT", range_name="24h")


def test_screen_cells_sum_rows_and_keep_the_book_at_the_end_of_each_column_group(result):
    grid = result.grid
    cells = screen_cells(grid, max_columns=50, max_rows=40)
    columns, rows = grid.long_usd.shape
    c_size, r_size = math.ceil(columns / 50), math.ceil(rows / 40)
    assert cells.long_usd.shape == (math.ceil(columns / c_size), math.ceil(rows / r_size))
    # cell (1, 2): the last model column of the second group, rows 2·r … 3·r − 1 summed
    last = min(2 * c_size, columns) - 1
    expected = float(grid.long_usd[last, 2 * r_size : 3 * r_size].astype(np.float64).sum())
    assert cells.long_usd[1, 2] == pytest.approx(expected, rel=1e-6)
    assert cells.high[0] == grid.high[:c_size].max() and cells.low[0] == grid.low[:c_size].min()
    assert cells.open[0] == grid.open[0] and cells.close[0] == grid.close[c_size - 1]
    assert cells.price_low[0] == grid.price_low[0] and cells.price_high[-1] == grid.price_high[-1]


def test_nice_ceiling_is_one_two_or_five_times_a_power_of_ten():
    assert [nice_ceiling(v) for v in (0.7, 1.0, 1.01, 3.2, 7.7, 41_000, 999_999)] == [
        1.0, 1.0, 2.0, 5.0, 10.0, 50_000.0, 1_000_000.0]  # fmt: skip
    assert nice_ceiling(0.0) == 1.0


def test_a_cell_below_the_threshold_is_hidden_and_the_top_saturates():
    totals = np.array([[0.0, 40.0, 50.0, 99.0, 1000.0, 3000.0]])
    levels = cell_levels(totals, zmax=1000.0, threshold_pct=5.0)  # hide under $50
    assert np.isnan(levels[0, 0]) and np.isnan(levels[0, 1])
    assert levels[0, 2:].tolist() == [5.0, 10.0, LEVELS, LEVELS]  # $50 of $1000 is step 5


def test_the_figure_hides_the_cells_under_the_threshold(result):
    cells = screen_cells(result.grid)
    scale = colour_scale(None, "k", cells.total_usd)
    options = EstimatedOptions("BTCUSDT", threshold_pct=20.0)
    heat = estimated_figure(result, options, scale, cells=cells)["data"][0]
    z = np.asarray(heat["z"], dtype=np.float64)  # rows × cols, NaN where hidden
    weak = cells.total_usd.T < 0.2 * scale.zmax  # noqa: SIM300
    assert weak.any() and (~weak).any()
    assert np.isnan(z[weak]).all() and not np.isnan(z[~weak & (cells.total_usd.T > 0)]).any()
    assert heat["zmin"] == 0 and heat["zmax"] == LEVELS and heat["hoverongaps"] is False


def test_the_colour_scale_stays_fixed_over_refreshes_until_the_choice_changes(result):
    bars, readings = random_market(11, 12 * 24 * 4)
    cells = screen_cells(result.grid)
    first = colour_scale(None, "BTCUSDT|24h|all", cells.total_usd)
    top = np.percentile(cells.total_usd[cells.total_usd > 0], 99)
    assert top <= first.zmax < top * 5  # a round number above the 99th percentile
    # a refresh with new data: the market doubled its open interest
    doubled = Readings.build(readings.time_ms, readings.contracts * 2)
    newer = run_levels(bars, doubled, SETTINGS, symbol="BTCUSDT", range_name="24h")
    totals = screen_cells(newer.grid).total_usd
    assert np.percentile(totals[totals > 0], 99) > first.zmax  # the data alone would rescale
    kept = colour_scale(first.to_dict(), "BTCUSDT|24h|all", totals)
    assert kept.zmax == first.zmax
    options = EstimatedOptions("BTCUSDT")
    figure = estimated_figure(newer, options, kept)
    ticks = figure["data"][0]["colorbar"]["ticktext"]
    assert first.zmax >= 1e6  # the market's book is tens of millions of dollars
    assert ticks[0] == "$0" and ticks[-1] == f"≥ ${first.zmax / 1e6:g}M"
    assert "fixed scale" in figure["data"][0]["colorbar"]["title"]["text"]
    # another preset (the user's choice) picks a new scale
    assert colour_scale(first.to_dict(), "BTCUSDT|24h|high", totals).zmax != first.zmax


def test_hover_names_time_price_long_short_and_the_tiers(result):
    figure = estimated_figure(result, EstimatedOptions("BTCUSDT"), colour_scale(None, "k",
                              screen_cells(result.grid).total_usd))  # fmt: skip
    heat = figure["data"][0]
    for part in ("%{x|", "%{y:", "customdata[0]", "customdata[1]", "Tiers: %{text}"):
        assert part in heat["hovertemplate"]
    shown = ~np.isnan(np.asarray(heat["z"], dtype=np.float64))
    names = np.asarray(heat["text"])
    labels = {t.label for t in result.assumptions.tiers}
    assert shown.any() and (names[shown] != "").all() and (names[~shown] == "").all()
    assert {w for n in names[shown] for w in re.findall(r"\d+x", n)} <= labels
    # long and short of a shown cell: the cell's notional to two significant digits
    cells = screen_cells(result.grid)
    r, c = np.argwhere(shown)[len(np.argwhere(shown)) // 2]
    long_usd, short_usd = heat["customdata"][r, c]
    for got, usd in ((long_usd, cells.long_usd[c, r]), (short_usd, cells.short_usd[c, r])):
        assert got == pytest.approx(usd, rel=0.05, abs=1)
    assert "estimate" in figure["layout"]["annotations"][1]["text"].lower()
    assert [t["type"] for t in figure["data"][:2]] == ["heatmap", "candlestick"]


def test_the_hover_names_the_tiers_that_make_up_a_cell():
    """A flat market at 100 (0.05 % bars): a long level of tier L stands at about
    100·(1 + d_L), so the cell at the 25x level is all 25x; and over a random market every
    shown cell's tier notional adds up to the cell's long plus short notional."""
    count = 12 * 30
    opens = T0 + FIVE_MINUTES * np.arange(count)
    price = np.full(count, 100.0)
    bars = Bars.build(opens, price, price * 1.0005, price * 0.9995, price, np.full(count, 10.0),
                      np.full(count, 5.0), FIVE_MINUTES)  # fmt: skip
    readings = Readings.build(np.r_[T0, opens + FIVE_MINUTES], np.linspace(10, 100, count + 1))
    result = run_levels(bars, readings, SETTINGS, symbol="BTCUSDT", range_name="12h")
    cells = screen_cells(result.grid)
    names = tier_names(cells, result.assumptions.tiers)
    tiers = {t.label: t for t in result.assumptions.tiers}
    level_25 = 100.0 * (1 + tiers["25x"].long_distance_pct / 100)
    row = int(np.argmin(np.abs(cells.price_mid - level_25)))
    col = len(cells.time_ms) - 1
    assert cells.long_usd[col, row] > 0
    assert names[col, row] == "25x 100%"
    assert names[cells.total_usd == 0].tolist() == [""] * int((cells.total_usd == 0).sum())


def test_tier_notional_adds_up_to_each_cell(result):
    cells = screen_cells(result.grid)
    by_tier = cells.tier_usd.sum(axis=1)
    assert np.allclose(by_tier, cells.total_usd, rtol=0.02, atol=1.0)
    names = tier_names(cells, result.assumptions.tiers)
    col, row = np.unravel_index(np.argmax(cells.total_usd), cells.total_usd.shape)
    shares = [int(p) for p in re.findall(r"(\d+)%", names[col, row])]
    assert shares and abs(sum(shares) - 100) <= 5 * len(shares) and all(s % 5 == 0 for s in shares)


def test_overlays_add_the_realized_dots_and_bands(result):
    start = result.at_ms - result.range_ms
    points = Points.build([start + 60_000, start + 120_000], [50_000.0, 51_000.0],
                          [1e5, 2e5], [0, 1], [2.0, 4.0])  # fmt: skip
    scale = colour_scale(None, "k", screen_cells(result.grid).total_usd)
    plain = estimated_figure(result, EstimatedOptions("BTCUSDT"), scale, realized=points)
    assert [t["type"] for t in plain["data"]] == ["heatmap", "candlestick"]
    dotted = estimated_figure(result, EstimatedOptions("BTCUSDT", show_dots=True), scale,
                              realized=points)  # fmt: skip
    dots = [t for t in dotted["data"] if t["type"] == "scatter"]
    assert sum(len(t["x"]) for t in dots) == 2


def test_without_a_result_the_view_says_why():
    figure = estimated_message(EstimatedOptions("BTCUSDT"), "No estimate for BTCUSDT: why")
    assert figure["data"] == [] and figure["layout"]["annotations"][0]["text"].endswith("why")


def test_tier_stacks_sum_to_the_bucket_totals_of_the_profile(result):
    profile = result.profile
    bars = profile_bars(profile, max_buckets=30)
    assert len(bars.low) <= 30
    # every bucket's tier stack is the profile's notional of the rows it joins, on its side
    rows = (profile.price_low >= bars.low[3] * (1 - 1e-12)) & (
        profile.price_high <= bars.high[3] * (1 + 1e-12)
    )
    mid = math.sqrt(bars.low[3] * bars.high[3])
    side = profile.long_usd if mid <= profile.price else profile.short_usd
    assert bars.long_usd[3] + bars.short_usd[3] == pytest.approx(side[rows].sum(), rel=1e-9)
    for t in range(len(profile.tiers)):
        drawn = bars.long_tiers[t].sum() + bars.short_tiers[t].sum()
        standing = profile.tier_long_usd[t].sum() + profile.tier_short_usd[t].sum()
        assert 0 < drawn <= standing * (1 + 1e-9)
    assert (bars.long_usd[bars.mid > profile.price] == 0).all()
    assert (bars.short_usd[bars.mid <= profile.price] == 0).all()
    (long_x, long_y), (short_x, short_y) = cumulative(bars)
    assert long_y[-1] == pytest.approx(bars.long_usd.sum()) and long_x[0] == profile.price
    assert short_y[-1] == pytest.approx(bars.short_usd.sum())
    assert long_x == sorted(long_x, reverse=True) and short_x == sorted(short_x)


def test_the_map_stacks_the_tiers_and_overlays_the_realized(result):
    bars = profile_bars(result.profile)
    points = Points.build([1, 2], [result.profile.price * 0.99, result.profile.price * 1.01],
                          [1e4, 3e4], [0, 1], [0.1, 0.3])  # fmt: skip
    figure = liquidation_map_figure(points, None, "BTCUSDT", "in the last 1h", "map:x",
                                    estimated=bars)  # fmt: skip
    tiers = [t for t in figure["data"] if t["type"] == "bar" and t["name"].endswith(" est.")]
    realized = [t for t in figure["data"] if t["type"] == "bar" and "Realized" in t["name"]]
    stacked = sum(sum(t["y"]) for t in tiers)
    assert stacked == pytest.approx(bars.long_usd.sum() + bars.short_usd.sum(), rel=1e-6)
    assert {t["name"] for t in tiers} == {f"{n} est." for n in result.profile.tiers}
    assert sum(sum(t["y"]) for t in realized) == pytest.approx(4e4)
    assert all(t["yaxis"] == "y3" for t in realized) and figure["layout"]["barmode"] == "stack"
    curves = [t for t in figure["data"] if t.get("yaxis") == "y2"]
    assert [c["name"] for c in curves] == ["Cum. long", "Cum. short"]


def test_billions_read_as_b_not_si_g():
    """Estimated cumulative curves reach billions on BTC: the hover says $2.50B (d3's SI
    format would say 2.5G), and the map's axes use Plotly's B exponent format."""
    from dashboard.profile import _curve

    curve = _curve("long", ([1.0, 2.0, 3.0], [2.5e9, None, float("nan")]))
    assert curve["text"] == ["$2.50B", "", ""] and "%{text}" in curve["hovertemplate"]
    figure = liquidation_map_figure(Points.empty(), 50_000.0, "BTCUSDT", "in 1 h", "map")
    assert figure["layout"]["yaxis"]["exponentformat"] == "B"
    assert figure["layout"]["yaxis2"]["exponentformat"] == "B"
