"""The model on real Binance BTCUSDT 5-minute bars and open interest (shared/data/real), checked
against the independent hourly liquidation totals Coinglass recorded in the same week."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import real_data_dir

from heatmap_engine.levels import Bars, LevelsSettings, Readings, run_levels
from heatmap_engine.levels.metrics import rank_correlation

FIVE_MINUTE_FILE = "btcusdt_5m_oi_2026-05-25_to_06-08.csv"
HOUR = 3_600_000
AT = 1_780_376_400_000  # 2026-06-02T05:00Z, the last hour of the Coinglass file


@pytest.fixture(scope="module")
def week():
    with (real_data_dir("binance-btcusdt-5m-oi-2026-05-06") / FIVE_MINUTE_FILE).open() as f:
        rows = list(csv.DictReader(f))
    col = {
        k: np.array([float(r[k]) for r in rows])
        for k in ("timestamp", "price_open", "price_high", "price_low", "price_close", "oi_close")
    }
    bars = Bars.build(
        col["timestamp"].astype(np.int64),
        col["price_open"],
        col["price_high"],
        col["price_low"],
        col["price_close"],
    )
    readings = Readings.from_usd(col["timestamp"].astype(np.int64), col["oi_close"], bars)
    result = run_levels(
        bars,
        readings,
        LevelsSettings.from_env({}),
        symbol="BTCUSDT",
        at_ms=AT + HOUR,
        range_name="7d",
    )
    return bars, readings, result


def test_predicted_hourly_liquidations_rank_like_the_recorded_ones(week):
    _, _, result = week
    with (
        real_data_dir("coinglass-btc-aggregates-2025-26")
        / "coinglass_btc_1h_liq_oi_funding_cvd.csv"
    ).open() as f:
        recorded = {
            int(r["timestamp"]): (
                float(r["liquidation_long_usd"]),
                float(r["liquidation_short_usd"]),
            )
            for r in csv.DictReader(f)
        }
    p = result.predictions
    hours = p.open_ms // HOUR * HOUR
    keys = [h for h in np.unique(hours).tolist() if h in recorded]
    assert len(keys) >= 160  # a week of hours, bar the few Coinglass is missing
    for side, values in ((0, p.long_usd), (1, p.short_usd)):
        predicted = np.array([values[hours == h].sum() for h in keys])
        truth = np.array([recorded[h][side] for h in keys])
        assert rank_correlation(predicted, truth) > 0.5


def test_the_real_book_keeps_its_invariants(week):
    bars, readings, result = week
    profile = result.profile
    last = bars.select(bars.end_ms <= AT + HOUR)
    mid = np.sqrt(profile.price_low * profile.price_high)
    assert profile.long_usd[mid > last.high[-1]].sum() == 0  # a long's level is below its entry
    assert profile.short_usd[mid < last.low[-1]].sum() == 0
    oi_usd = readings.contracts[readings.time_ms <= AT + HOUR][-1] * profile.price
    for side_usd, unknown, levels in (
        (profile.long_usd, profile.unknown_long_usd, mid <= profile.price),
        (profile.short_usd, profile.unknown_short_usd, mid >= profile.price),
    ):
        # valued at the price, each side's positions never exceed open interest
        contracts = (side_usd / mid).sum() + unknown / profile.price
        assert contracts * profile.price <= oi_usd * (1 + 1e-9)
        assert side_usd[levels].sum() > 0.3 * side_usd.sum()
    quality = result.quality
    assert quality.candle_coverage == 1.0 and quality.warmup_hours > 12
    # the open interest of the first reading turns over with the 24 h half-life (opens add
    # placed levels, closes shrink both alike): the unknown share is at most 2^(-warm-up / 24 h)
    assert quality.unknown_share_start <= 2 ** (-quality.warmup_hours / 24) + 1e-9
    assert (result.predictions.long_usd >= 0).all() and (result.predictions.short_usd >= 0).all()
