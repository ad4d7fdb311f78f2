"""The JSON of the estimated levels (``heatmap_engine.levels``): result in, dict out; no Flask.

``levels_payload`` is the body of ``python app.py levels`` and of the levels API: the
Coinglass-compatible grid (``y_axis``, ``liquidation_leverage_data``, ``price_candlesticks``),
the same grid in a compact form (``grid``), ``predicted_liquidations``, ``profile``,
``assumptions`` and ``data_quality``. ``coinglass_payload`` wraps the three Coinglass fields
in Coinglass's own envelope (``{"code": "0", "msg": "success", "data": …}``), so a script
written for their heatmap endpoint can switch hosts.

Every amount is USD. Grid cells are rounded to whole dollars; ``liquidation_leverage_data``
lists the cells whose long plus short notional is at least 1 USD, as Coinglass does
``[x_index, y_index, usd]`` (x indexes ``price_candlesticks``, y indexes ``y_axis``).
``price_candlesticks`` follow Coinglass: time in epoch seconds, prices and the volume in USD as
strings (volume null when the candles carry none).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heatmap_engine.levels.results import Gap, LevelsResult, Profile, TierInfo
from heatmap_engine.levels.series import interval_name
from heatmap_engine.models import iso_utc

MAX_GAPS = 100  # gaps listed per kind (the count is always complete)


def _price(value: float) -> float:
    return float(f"{value:.8g}")


def _prices(values: np.ndarray) -> list[float]:
    return [_price(v) for v in values.tolist()]


def _usd(value: float) -> float:
    return round(float(value), 2)


def _candlesticks(result: LevelsResult) -> list[list[Any]]:
    grid = result.grid
    volume_usd = grid.volume * grid.close
    rows = zip(
        (grid.time_ms // 1000).tolist(),
        grid.open.tolist(),
        grid.high.tolist(),
        grid.low.tolist(),
        grid.close.tolist(),
        volume_usd.tolist(),
        strict=True,
    )
    return [
        [t, f"{o:.8g}", f"{h:.8g}", f"{lo:.8g}", f"{c:.8g}", None if v != v else f"{v:.4f}"]
        for t, o, h, lo, c, v in rows
    ]


def coinglass_fields(result: LevelsResult) -> dict[str, Any]:
    """``y_axis`` (row middle prices), ``liquidation_leverage_data``, ``price_candlesticks``."""
    grid = result.grid
    total = np.rint(grid.long_usd + grid.short_usd)
    x, y = np.nonzero(total >= 1.0)
    cells = np.column_stack([x, y, total[x, y]]).astype(np.int64).tolist()
    return {
        "y_axis": _prices(grid.price_mid),
        "liquidation_leverage_data": cells,
        "price_candlesticks": _candlesticks(result),
    }


def coinglass_payload(result: LevelsResult) -> dict[str, Any]:
    """Coinglass's heatmap response: ``{"code": "0", "msg": "success", "data": {…}}``."""
    return {"code": "0", "msg": "success", "data": coinglass_fields(result)}


def _grid(result: LevelsResult) -> dict[str, Any]:
    grid = result.grid
    return {
        "interval": interval_name(grid.column_ms),
        "interval_ms": grid.column_ms,
        "time_ms": grid.time_ms.tolist(),
        "price_low": _prices(grid.price_low),
        "price_high": _prices(grid.price_high),
        "long_usd": np.rint(grid.long_usd).astype(np.int64).tolist(),
        "short_usd": np.rint(grid.short_usd).astype(np.int64).tolist(),
    }


def _predictions(result: LevelsResult) -> list[dict[str, Any]]:
    p = result.predictions
    rows = zip(
        p.open_ms.tolist(),
        p.long_usd.tolist(),
        p.short_usd.tolist(),
        p.committed.tolist(),
        strict=True,
    )
    return [
        {
            "time": iso_utc(t),
            "time_ms": t,
            "long_usd": _usd(lu),
            "short_usd": _usd(su),
            "provisional": not done,
        }
        for t, lu, su, done in rows
    ]


def _maybe(value: float) -> float | None:
    return None if value != value else _usd(value)


def profile_payload(profile: Profile) -> dict[str, Any]:
    """The standing book per bucket (ascending price), side and tier, with cumulative curves."""
    buckets = []
    for i in range(len(profile.price_low)):
        tiers = {
            name: {
                "long_usd": _usd(profile.tier_long_usd[t, i]),
                "short_usd": _usd(profile.tier_short_usd[t, i]),
            }
            for t, name in enumerate(profile.tiers)
        }
        buckets.append(
            {
                "price_low": _price(profile.price_low[i]),
                "price_high": _price(profile.price_high[i]),
                "long_usd": _usd(profile.long_usd[i]),
                "short_usd": _usd(profile.short_usd[i]),
                "cumulative_long_usd": _maybe(profile.cumulative_long_usd[i]),
                "cumulative_short_usd": _maybe(profile.cumulative_short_usd[i]),
                "tiers": tiers,
            }
        )
    return {
        "price": _price(profile.price),
        "time": iso_utc(profile.time_ms),
        "time_ms": profile.time_ms,
        "long_usd": _usd(profile.long_usd.sum()),
        "short_usd": _usd(profile.short_usd.sum()),
        "unknown_levels": {
            "long_usd": _usd(profile.unknown_long_usd),
            "short_usd": _usd(profile.unknown_short_usd),
        },
        "buckets": buckets,
    }


def _tier(t: TierInfo) -> dict[str, Any]:
    return {
        "label": t.label,
        "leverage": t.leverage,
        "effective_leverage": t.effective_leverage,
        "weight": round(t.weight, 6),
        "long": {
            "maintenance_margin_rate": t.long_mmr,
            "maintenance_amount_usd": t.long_cum_usd,
            "liquidation_distance_pct": round(t.long_distance_pct, 4),
        },
        "short": {
            "maintenance_margin_rate": t.short_mmr,
            "maintenance_amount_usd": t.short_cum_usd,
            "liquidation_distance_pct": round(t.short_distance_pct, 4),
        },
    }


def _assumptions(result: LevelsResult) -> dict[str, Any]:
    a = result.assumptions
    rules = dict(a.rules)
    tiers = [_tier(t) for t in a.tiers]
    return {
        "layer": "estimated",
        "preset": a.preset,
        "tiers": tiers,
        "formula": a.formula,
        "liquidation_price_rule": rules["liquidation_price"],
        "placement": a.placement,
        "position_usd": a.position_usd,
        "side_rule": rules["side_split"],
        "spread_rule": rules["open_interest_spread"],
        "closing_rule": rules["closing"],
        "consumption_rule": rules["consumption"],
        "decay": {"half_life_hours": a.half_life_hours or None, "rule": rules["decay"]},
        "calibration_rule": rules["calibration"],
        **({"placement_rule": rules["placement"]} if "placement" in rules else {}),
        "bucket": {
            "bucket_pct": a.bucket_pct,
            "row_buckets": a.row_buckets,
            "row_pct": round(((1 + a.bucket_pct / 100) ** a.row_buckets - 1) * 100, 6),
            "levels_at": "the middle price of their bucket (logarithmic buckets)",
        },
        "brackets": {
            "source": a.brackets_source,
            "as_of": a.brackets_as_of,
            "symbol_listed": a.brackets_listed,
        },
        "data_used": {
            "candle_interval": interval_name(a.candle_interval_ms),
            "candles": a.candles_used,
            "open_interest_readings": a.readings_used,
            "open_interest_cadence_ms": a.readings_cadence_ms,
            "volume_known": a.volume_known,
            "taker_buy_volume_known": a.taker_buy_known,
            "warmup_hours": a.warmup_hours,
            "open_interest_gap_minutes": a.oi_gap_minutes,
        },
    }


def _gaps(gaps: tuple[Gap, ...]) -> list[dict[str, Any]]:
    return [
        {
            "start": iso_utc(g.start_ms),
            "end": iso_utc(g.end_ms),
            "start_ms": g.start_ms,
            "end_ms": g.end_ms,
            "minutes": round((g.end_ms - g.start_ms) / 60_000, 2),
        }
        for g in gaps[:MAX_GAPS]
    ]


def _quality(result: LevelsResult) -> dict[str, Any]:
    q = result.quality
    return {
        "range_start": iso_utc(q.range_start_ms),
        "range_start_ms": q.range_start_ms,
        "range_end": iso_utc(q.range_end_ms),
        "range_end_ms": q.range_end_ms,
        "candle_coverage": round(q.candle_coverage, 6),
        "open_interest_coverage": round(q.open_interest_coverage, 6),
        "candle_gap_count": len(q.candle_gaps),
        "candle_gaps": _gaps(q.candle_gaps),
        "open_interest_gap_count": len(q.open_interest_gaps),
        "open_interest_gaps": _gaps(q.open_interest_gaps),
        "warmup_hours": round(q.warmup_hours, 3),
        "unknown_share_start": round(q.unknown_share_start, 6),
        "unknown_share_end": round(q.unknown_share_end, 6),
        "provisional_bars": q.provisional_bars,
        "bars_before_open_interest": q.bars_before_open_interest,
        "gaps_at_unknown_levels": q.gaps_at_unknown_levels,
        "notes": list(q.notes),
    }


def levels_payload(result: LevelsResult) -> dict[str, Any]:
    """The whole body (see the module docstring)."""
    return {
        "success": True,
        "symbol": result.symbol,
        "layer": "estimated",
        "range": result.range_name,
        "at": iso_utc(result.at_ms),
        "at_ms": result.at_ms,
        "current_price": _price(result.profile.price),
        **coinglass_fields(result),
        "grid": _grid(result),
        "predicted_liquidations": _predictions(result),
        "profile": profile_payload(result.profile),
        "assumptions": _assumptions(result),
        "data_quality": _quality(result),
    }
