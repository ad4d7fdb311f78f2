"""Candle intervals and their aggregation: pure, used by the history API, the dashboard and the
estimated-levels model alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def aggregate_table(table: np.ndarray, interval: str) -> np.ndarray:
    """``aggregate_candles`` over a table of candles (``candle_book.CANDLE_DTYPE``: the columns
    without exchange, symbol and interval), as a new table of that dtype, no objects built:
    runs of rows whose open times fall in one ``interval`` bucket become one row (open of the
    first, close of the last, highest high, lowest low, volumes and trades summed left to
    right as ``aggregate_candles`` adds them, so equal to the last bit; closed when the last
    is closed and ends the bucket)."""
    if not len(table):
        return table[:0].copy()
    step = INTERVAL_MS[interval]
    opens = table["open_time_ms"]
    starts = opens - opens % step
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last = np.r_[first[1:], len(table)] - 1
    out = np.empty(len(first), dtype=table.dtype)
    out["open_time_ms"] = starts[first]
    out["close_time_ms"] = starts[first] + step - 1
    out["open"], out["close"] = table["open"][first], table["close"][last]
    out["high"] = np.maximum.reduceat(table["high"], first)
    out["low"] = np.minimum.reduceat(table["low"], first)
    out["trades"] = np.add.reduceat(table["trades"], first)
    sums = ("volume", "quote_volume", "taker_buy_volume")
    values = np.column_stack([table[name] for name in sums])
    totals, sizes = values[first], last - first + 1
    for k in range(1, int(sizes.max())):  # a bucket's k-th row added to it: the same order
        more = np.flatnonzero(sizes > k)
        totals[more] += values[first[more] + k]
    for i, name in enumerate(sums):
        out[name] = totals[:, i]
    out["closed"] = table["closed"][last] & (table["close_time_ms"][last] >= out["close_time_ms"])
    return out
