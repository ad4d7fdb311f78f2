"""Candle intervals and their aggregation: pure, used by the history API, the dashboard and the
estimated-levels model alike."""

from __future__ import annotations

from collections.abc import Sequence

from heatmap_engine.models import Candle

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}


def aggregate_candles(candles: Sequence[Candle], interval: str) -> list[Candle]:
    """1-minute candles (ascending) merged into ``interval`` buckets aligned to UTC epoch."""
    step = INTERVAL_MS[interval]
    out: list[Candle] = []
    for c in candles:
        start = c.open_time_ms - c.open_time_ms % step
        last = out[-1] if out else None
        if last is None or last.open_time_ms != start:
            out.append(
                Candle(
                    c.exchange,
                    c.symbol,
                    interval,
                    start,
                    start + step - 1,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.quote_volume,
                    c.taker_buy_volume,
                    c.trades,
                    c.closed and c.close_time_ms >= start + step - 1,
                )
            )
            continue
        out[-1] = Candle(
            c.exchange,
            c.symbol,
            interval,
            start,
            start + step - 1,
            last.open,
            max(last.high, c.high),
            min(last.low, c.low),
            c.close,
            last.volume + c.volume,
            last.quote_volume + c.quote_volume,
            last.taker_buy_volume + c.taker_buy_volume,
            last.trades + c.trades,
            c.closed and c.close_time_ms >= start + step - 1,
        )
    return out
