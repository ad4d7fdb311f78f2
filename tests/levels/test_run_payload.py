"""Runs over stored series (any ``at`` and range) and the JSON contract of their results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from levels.support import FIVE_MINUTES, T0, random_market

from api.levels_payload import coinglass_payload, levels_payload
from heatmap_engine.levels import Bars, LevelsInputError, LevelsSettings, Readings, run_levels
from heatmap_engine.levels.metrics import rank_correlation, top_share

SETTINGS = LevelsSettings.from_env({})
HOUR = 3_600_000


@pytest.fixture(scope="module")
def market():
    return random_market(7, 4 * 288)  # four days of 5-minute bars


@pytest.fixture(scope="module")
def payload(market):
    bars, readings = market
    return levels_payload(run_levels(bars, readings, SETTINGS, symbol="BTCUSDT", range_name="24h"))


def test_the_payload_carries_every_field_of_the_contract(payload):
    for key in (
        "y_axis",
        "liquidation_leverage_data",
        "price_candlesticks",
        "grid",
        "predicted_liquidations",
        "profile",
        "assumptions",
        "data_quality",
    ):
        assert key in payload
    assert payload["success"] is True and payload["range"] == "24h"
    assert payload["layer"] == "estimated"


def test_the_coinglass_grid_matches_the_compact_grid(payload):
    grid, y_axis = payload["grid"], payload["y_axis"]
    assert y_axis == sorted(y_axis) and len(y_axis) == len(grid["price_low"])
    for low, y, high in zip(grid["price_low"], y_axis, grid["price_high"], strict=True):
        assert low < y < high
    candles = payload["price_candlesticks"]
    assert len(candles) == len(grid["time_ms"]) == 288  # 24 h of 5-minute columns
    assert [c[0] for c in candles] == [t // 1000 for t in grid["time_ms"]]
    assert all(isinstance(v, str) for c in candles for v in c[1:5])
    totals = np.array(grid["long_usd"]) + np.array(grid["short_usd"])
    cells = payload["liquidation_leverage_data"]
    assert len(cells) == int((totals >= 1).sum()) > 0
    for x, y, value in cells[::97]:
        assert value == totals[x, y]


def test_predicted_liquidations_one_per_bar_oldest_first(payload, market):
    bars, _ = market
    rows = payload["predicted_liquidations"]
    assert len(rows) == 288
    assert [r["time_ms"] for r in rows] == bars.open_ms[-288:].tolist()
    assert rows[0]["time"].endswith("+00:00")
    assert sum(r["long_usd"] for r in rows) > 0 and sum(r["short_usd"] for r in rows) > 0
    assert all(r["long_usd"] >= 0 and r["short_usd"] >= 0 for r in rows)


def test_the_profile_is_ordered_with_cumulative_curves_from_the_price(payload):
    profile = payload["profile"]
    buckets, price = profile["buckets"], profile["price"]
    lows = [b["price_low"] for b in buckets]
    assert lows == sorted(lows)
    below = [b for b in buckets if math.sqrt(b["price_low"] * b["price_high"]) <= price]
    running = 0.0
    for n, b in enumerate(reversed(below), start=1):  # outward from the price
        running += b["long_usd"]
        assert b["cumulative_long_usd"] == pytest.approx(running, abs=0.01 * n)  # cents
    above = [b for b in buckets if math.sqrt(b["price_low"] * b["price_high"]) > price]
    assert all(b["cumulative_long_usd"] is None for b in above)
    running = 0.0
    for n, b in enumerate(above, start=1):
        running += b["short_usd"]
        assert b["cumulative_short_usd"] == pytest.approx(running, abs=0.01 * n)
    for b in buckets[::50]:
        assert sum(t["long_usd"] for t in b["tiers"].values()) == pytest.approx(
            b["long_usd"], abs=0.1
        )
        assert set(b["tiers"]) == {"5x", "10x", "25x", "50x", "100x"}


def test_the_assumptions_and_data_quality_blocks(payload):
    a = payload["assumptions"]
    assert [t["leverage"] for t in a["tiers"]] == [5, 10, 25, 50, 100]
    assert a["tiers"][2]["long"]["liquidation_distance_pct"] == pytest.approx(
        ((1 - 1 / 25) / (1 - 0.004) - 1) * 100, abs=1e-4
    )
    assert a["decay"]["half_life_hours"] == 24.0 and a["bucket"]["bucket_pct"] == 0.1
    assert a["brackets"]["symbol_listed"] is True
    assert a["data_used"]["candle_interval"] == "5m" and a["data_used"]["volume_known"]
    for key in ("side_rule", "spread_rule", "closing_rule", "consumption_rule", "calibration_rule"):
        assert len(a[key]) > 40
    q = payload["data_quality"]
    assert q["candle_coverage"] == 1.0 and q["candle_gaps"] == []
    assert q["warmup_hours"] == 48.0 and q["unknown_share_start"] < 0.5


def test_gaps_are_reported(market):
    bars, readings = market
    keep = (bars.open_ms < T0 + 80 * HOUR) | (bars.open_ms >= T0 + 82 * HOUR)
    oi_keep = (readings.time_ms < T0 + 85 * HOUR) | (readings.time_ms > T0 + 92 * HOUR)
    result = run_levels(bars.select(keep), readings.select(oi_keep), SETTINGS, range_name="24h")
    q = levels_payload(result)["data_quality"]
    assert [(g["start_ms"], g["end_ms"]) for g in q["candle_gaps"]] == [
        (T0 + 80 * HOUR, T0 + 82 * HOUR)
    ]
    assert q["candle_coverage"] == pytest.approx(22 / 24)
    assert q["gaps_at_unknown_levels"] == 1  # the seven hours without open interest
    assert q["open_interest_gaps"][0]["minutes"] == 7 * 60 + 10  # 84:55 to 92:05
    assert not levels_payload(result)["assumptions"]["brackets"]["symbol_listed"]


def test_a_past_at_uses_nothing_after_it(market):
    bars, readings = market
    at = T0 + 60 * HOUR
    whole = run_levels(bars, readings, SETTINGS, at_ms=at, range_name="12h")
    cut = run_levels(
        bars.select(bars.open_ms < at),
        readings.select(readings.time_ms <= at),
        SETTINGS,
        at_ms=at,
        range_name="12h",
    )
    assert whole.at_ms == at and whole.predictions.open_ms[-1] == at - FIVE_MINUTES
    np.testing.assert_array_equal(whole.predictions.long_usd, cut.predictions.long_usd)
    np.testing.assert_array_equal(whole.grid.short_usd, cut.grid.short_usd)


def test_presets_change_the_tiers(market):
    bars, readings = market
    high = run_levels(bars, readings, SETTINGS.with_preset("high"), range_name="12h")
    assert high.profile.tiers == ("25x", "50x", "100x")
    assert levels_payload(high)["assumptions"]["preset"] == "high"


def test_long_ranges_widen_the_columns(market):
    bars, readings = market
    month = run_levels(bars, readings, SETTINGS, range_name="30d")
    assert month.grid.column_ms == HOUR  # 720 columns of an hour at most
    assert month.quality.candle_coverage == pytest.approx(4 / 30, rel=0.01)
    assert "the range begins before the first candle" in month.quality.notes


def test_the_coinglass_envelope(market):
    bars, readings = market
    body = coinglass_payload(run_levels(bars, readings, SETTINGS, range_name="12h"))
    assert (body["code"], body["msg"]) == ("0", "success")
    assert set(body["data"]) == {"y_axis", "liquidation_leverage_data", "price_candlesticks"}


def test_bad_runs_say_why(market):
    bars, readings = market
    with pytest.raises(LevelsInputError, match="range"):
        run_levels(bars, readings, SETTINGS, range_name="2d")
    with pytest.raises(LevelsInputError, match="open-interest reading"):
        run_levels(bars, readings.select(readings.time_ms > T0 + 999 * HOUR), SETTINGS)
    with pytest.raises(LevelsInputError, match="no candle"):
        run_levels(bars, readings, SETTINGS, at_ms=T0 - HOUR)
    with pytest.raises(LevelsInputError, match="interval"):
        Bars.build([T0, T0 + 7_000], [1, 1], [1, 1], [1, 1], [1, 1])
    with pytest.raises(LevelsInputError, match="high/low"):
        Bars.build([T0, T0 + 60_000], [1, 1], [0.5, 1], [1, 1], [1, 1])
    with pytest.raises(LevelsInputError, match=">= 0"):
        Readings.build([T0], [-1.0])


def test_rank_correlation_and_top_share_by_hand():
    assert rank_correlation(np.array([1, 2, 3, 4.0]), np.array([10, 20, 30, 40.0])) == 1.0
    assert rank_correlation(np.array([1, 2, 3, 4.0]), np.array([4, 3, 2, 1.0])) == -1.0
    # ties share ranks: [1, 1, 2] ranks 1.5, 1.5, 3 against 1, 2, 3 -> r = 0.8660
    assert rank_correlation(np.array([1, 1, 2.0]), np.array([1, 2, 3.0])) == pytest.approx(
        math.sqrt(3) / 2
    )
    assert math.isnan(rank_correlation(np.ones(3), np.arange(3.0)))
    model = np.array([5.0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    truth = np.array([3.0, 0, 0, 0, 0, 0, 0, 0, 0, 7])
    assert top_share(model, truth, 10.0) == pytest.approx(0.3)  # top 2 buckets: 3 of 10
    flat = np.zeros(10)
    assert top_share(flat, truth, 20.0) == pytest.approx(0.2 * 10 / 20)


def test_stored_candles_and_open_interest_feed_the_same_run(market):
    """The history store's rows (``Candle``, ``OpenInterest``) give the same run as columns."""
    from heatmap_engine.models import Candle, OpenInterest

    bars, readings = market
    candles = [
        Candle(
            "binance",
            "BTCUSDT",
            "5m",
            int(t),
            int(t) + FIVE_MINUTES - 1,
            o,
            h,
            lo,
            c,
            v,
            v * c,
            tb,
            10,
        )
        for t, o, h, lo, c, v, tb in zip(
            bars.open_ms,
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            bars.volume,
            bars.taker_buy_volume,
            strict=True,
        )
    ]
    rows = [
        OpenInterest("binance", "BTCUSDT", int(t), float(c))
        for t, c in zip(readings.time_ms, readings.contracts, strict=True)
    ]
    stored = run_levels(
        Bars.from_candles(candles), Readings.from_models(rows), SETTINGS, range_name="12h"
    )
    direct = run_levels(bars, readings, SETTINGS, range_name="12h")
    np.testing.assert_array_equal(stored.predictions.long_usd, direct.predictions.long_usd)
    np.testing.assert_array_equal(stored.profile.short_usd, direct.profile.short_usd)


def test_the_grid_splits_each_cell_by_leverage_tier_as_the_book_does():
    """The grid's last column is the book at the end of the range, which the profile also
    shows: per side and tier, the grid's cells (split by their recorded tier shares) add up to
    the profile's tier totals over the same prices (within the 1/255 of a stored share)."""
    bars, readings = random_market(11, 12 * 24 * 4)
    result = run_levels(bars, readings, LevelsSettings.from_env({}), range_name="24h")
    grid, profile = result.grid, result.profile
    inside = (profile.price_low >= grid.price_low[0] * (1 - 1e-9)) & (
        profile.price_high <= grid.price_high[-1] * (1 + 1e-9)
    )
    for side, tiers in ((0, profile.tier_long_usd), (1, profile.tier_short_usd)):
        from_grid = grid.tier_usd(side)[-1].sum(axis=1)  # (tiers,)
        from_profile = tiers[:, inside].sum(axis=1)
        assert from_profile.sum() > 0
        total = from_profile.sum()
        assert np.allclose(from_grid, from_profile, rtol=0, atol=total * 0.01), (
            from_grid, from_profile)  # fmt: skip
        shares = grid.tier_share[-1, side].astype(int)
        filled = (grid.long_usd if side == 0 else grid.short_usd)[-1] > 0
        assert np.all(np.abs(shares[:, filled].sum(axis=0) - 255) <= len(tiers))
