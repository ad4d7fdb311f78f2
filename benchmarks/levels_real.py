"""The estimated levels scored against real data in ``../shared/data/real`` (``score_levels.py``).

* ``btc_5m``: Binance BTCUSDT 5-minute bars with 5-minute open interest
  (``binance-btcusdt-5m-oi-2026-05-06``, the first file: 2026-05-25 → 06-08; no volume) against
  Coinglass's hourly and 30-minute liquidation totals (Binance + Bybit + OKX) of the same hours
  (``coinglass-btc-aggregates-2025-26``).
* ``btc_1h``: Binance BTCUSDT 1-hour futures bars with volume (``binance-um-klines-1h-2025-26``)
  and Coinglass's hourly Binance BTCUSDT open interest (the value at each hour's end), against
  the hourly liquidation totals, 2025-12-04 → 2026-03-05.

Each variant's predicted liquidation volume per interval and side is compared with the totals
by rank correlation, after a warm-up; ``move`` is a reference that knows no levels at all: how
far the interval's low fell below (longs) or its high rose above (shorts) the previous close.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np

from heatmap_engine.levels import Bars, LevelsSettings, Readings, run_levels
from heatmap_engine.levels.metrics import rank_correlation

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
FIVE_MINUTE = REAL / "binance-btcusdt-5m-oi-2026-05-06" / "btcusdt_5m_oi_2026-05-25_to_06-08.csv"
COINGLASS = REAL / "coinglass-btc-aggregates-2025-26"
KLINES_1H = REAL / "binance-um-klines-1h-2025-26" / "binance_um_klines_1h.csv"
HOUR_MS, HALF_HOUR_MS = 3_600_000, 1_800_000


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def load_btc_5m() -> tuple[Bars, Readings]:
    with FIVE_MINUTE.open() as handle:
        rows = list(csv.DictReader(handle))
    col = {
        k: np.array([float(r[k]) for r in rows])
        for k in ("timestamp", "price_open", "price_high", "price_low", "price_close", "oi_close")
    }
    bars = Bars.build(
        col["timestamp"], col["price_open"], col["price_high"], col["price_low"], col["price_close"]
    )
    return bars, Readings.from_usd(col["timestamp"].astype(np.int64), col["oi_close"], bars)


def load_coinglass(name: str, long_key: str, short_key: str) -> dict[int, tuple[float, float]]:
    with (COINGLASS / name).open() as handle:
        return {
            int(r["timestamp"]): (float(r[long_key]), float(r[short_key]))
            for r in csv.DictReader(handle)
        }


def load_btc_1h() -> tuple[Bars, Readings, dict[int, tuple[float, float]]]:
    with KLINES_1H.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["coin"] == "BTC"]
    opens = np.array([_ms(r["timestamp"]) for r in rows])
    bars = Bars.build(opens, *(np.array([float(r[k]) for r in rows]) for k in "ohlcv"))
    with (COINGLASS / "coinglass_btc_1h_liq_oi_funding_cvd.csv").open() as handle:
        cg = list(csv.DictReader(handle))
    times = np.array([int(r["timestamp"]) + HOUR_MS for r in cg])  # oi_close: the hour's end
    usd = np.array([float(r["oi_close"]) for r in cg])
    liquidations = {
        int(r["timestamp"]): (float(r["liquidation_long_usd"]), float(r["liquidation_short_usd"]))
        for r in cg
    }
    keep = (bars.open_ms >= times[0] - HOUR_MS) & (bars.open_ms <= times[-1])
    bars = bars.select(keep)
    return bars, Readings.from_usd(times, usd, bars), liquidations


def predictions(bars: Bars, readings: Readings, settings: LevelsSettings):
    """Per-bar predicted (long, short) USD over the whole series (no warm-up cut here)."""
    result = run_levels(bars, readings, settings, symbol="BTCUSDT", range_name="1y")
    p = result.predictions
    return p.open_ms, p.long_usd, p.short_usd


def per_interval(opens, values, step_ms: int) -> dict[int, float]:
    keys = opens // step_ms * step_ms
    out: dict[int, float] = {}
    for key, value in zip(keys.tolist(), values.tolist(), strict=True):
        out[key] = out.get(key, 0.0) + value
    return out


def moves(bars: Bars, step_ms: int) -> tuple[dict[int, float], dict[int, float]]:
    """How far each interval went beyond the previous interval's close, down and up."""
    keys = bars.open_ms // step_ms * step_ms
    down, up, previous = {}, {}, None
    for key in np.unique(keys).tolist():
        inside = keys == key
        low, high = float(bars.low[inside].min()), float(bars.high[inside].max())
        if previous is not None:
            down[key], up[key] = max(0.0, 1 - low / previous), max(0.0, high / previous - 1)
        previous = float(bars.close[inside][-1])
    return down, up


def correlate(
    predicted: Mapping[int, float], truth: Mapping[int, float], from_ms: int
) -> tuple[float, int]:
    keys = sorted(k for k in truth if k in predicted and k >= from_ms)
    if len(keys) < 3:
        return math.nan, len(keys)
    a = np.array([predicted[k] for k in keys])
    b = np.array([truth[k] for k in keys])
    return rank_correlation(a, b), len(keys)


def score(bars, readings, truth, step_ms, settings_by_variant, warmup_hours) -> dict:
    """{variant: {"long": (rho, n), "short": (rho, n)}} plus ``move`` and the scale ratio."""
    from_ms = int(bars.open_ms[0]) + int(warmup_hours * HOUR_MS)
    long_truth = {k: v[0] for k, v in truth.items()}
    short_truth = {k: v[1] for k, v in truth.items()}
    out: dict = {}
    for name, settings in settings_by_variant.items():
        opens, longs, shorts = predictions(bars, readings, settings)
        lp, sp = per_interval(opens, longs, step_ms), per_interval(opens, shorts, step_ms)
        out[name] = {
            "long": correlate(lp, long_truth, from_ms),
            "short": correlate(sp, short_truth, from_ms),
            "scale": _scale(lp, sp, truth, from_ms),
        }
    down, up = moves(bars, step_ms)
    out["move"] = {
        "long": correlate(down, long_truth, from_ms),
        "short": correlate(up, short_truth, from_ms),
    }
    return out


def _scale(lp, sp, truth, from_ms) -> float:
    """Predicted over recorded liquidation volume, both sides, over the compared intervals."""
    keys = [k for k in truth if k in lp and k >= from_ms]
    recorded = sum(truth[k][0] + truth[k][1] for k in keys)
    return sum(lp[k] + sp[k] for k in keys) / recorded if recorded > 0 else math.nan
