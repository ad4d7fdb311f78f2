"""Deterministic REST history: `GET /fapi/v1/klines` rows and `openInterestHist` rows.

Models the time selection of Binance's kline and open-interest-statistics endpoints
(protocol reference §1.9): rows ascending by time; with `startTime` the first `limit` rows whose
open time is >= startTime (and <= endTime); otherwise the last `limit` rows ending at `endTime`
or at the still-forming candle. Weekly candles open on Monday 00:00 UTC, monthly ones on the 1st.
Generated values are a smooth function of time so the same request always gives the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from market_sim.universe import format_price, unit_hash

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
_MINUTES = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240}
_MINUTES |= {"6h": 360, "8h": 480, "12h": 720, "1d": 1440, "3d": 4320, "1w": 10080}
FIXED_INTERVAL_MS = {name: minutes * MINUTE_MS for name, minutes in _MINUTES.items()}
KLINE_INTERVALS = (*FIXED_INTERVAL_MS, "1M")
OI_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
OI_HISTORY_MS = 30 * DAY_MS  # openInterestHist only serves the latest month
_WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Binance weeks start on Monday


def _month_start(ms: int, months_ahead: int = 0) -> int:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    index = moment.year * 12 + moment.month - 1 + months_ahead
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)


def interval_floor(interval: str, ms: int) -> int:
    """Open time of the candle of `interval` that contains `ms`."""
    if interval == "1M":
        return _month_start(ms)
    size = FIXED_INTERVAL_MS[interval]
    offset = _WEEK_OFFSET_MS if interval == "1w" else 0
    return (ms - offset) // size * size + offset


def interval_shift(interval: str, open_ms: int, count: int) -> int:
    """Open time `count` candles after (negative: before) the candle opening at `open_ms`."""
    if interval == "1M":
        return _month_start(open_ms, count)
    return open_ms + count * FIXED_INTERVAL_MS[interval]


def select_open_times(
    interval: str, now_ms: int, start_ms: int | None, end_ms: int | None, limit: int
) -> list[int]:
    """Open times Binance would return for these parameters, ascending, never past `now_ms`."""
    current = interval_floor(interval, now_ms)
    if start_ms is not None:
        first = interval_floor(interval, start_ms)
        if first < start_ms:
            first = interval_shift(interval, first, 1)
        last = current if end_ms is None else min(current, end_ms)
        times: list[int] = []
        while first <= last and len(times) < limit:
            times.append(first)
            first = interval_shift(interval, first, 1)
        return times
    last = current if end_ms is None else min(current, interval_floor(interval, end_ms))
    return [interval_shift(interval, last, -back) for back in range(limit - 1, -1, -1)]


def select_rows(
    rows: Sequence[Any],
    time_of: Callable[[Any], int],
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> list[Any]:
    """Filter injected rows the same way: time window, then first/last `limit`."""
    kept = sorted((row for row in rows if _in_window(time_of(row), start_ms, end_ms)), key=time_of)
    return kept[:limit] if start_ms is not None else kept[-limit:]


def _in_window(ms: int, start_ms: int | None, end_ms: int | None) -> bool:
    return (start_ms is None or ms >= start_ms) and (end_ms is None or ms <= end_ms)


def path_price(symbol: str, mark: Decimal, ms: int) -> float:
    """The fake market's price at `ms`: slow and fast waves around the mark price."""
    phase = unit_hash(symbol) * 2 * math.pi
    slow = 0.03 * math.sin(ms / (3 * DAY_MS) * 2 * math.pi + phase)
    fast = 0.004 * math.sin(ms / (97 * MINUTE_MS) * 2 * math.pi + 3 * phase)
    return float(mark) * (1 + slow + fast)


def kline_row(
    symbol: str,
    mark: Decimal,
    interval: str,
    open_ms: int,
    now_ms: int,
    *,
    tick: Decimal,
    step: Decimal,
) -> list[Any]:
    """One 12-column kline row (§1.9 layout); the candle containing `now_ms` is still forming.

    `tick`/`step` are the contract's PRICE_FILTER.tickSize and LOT_SIZE.stepSize.
    """
    close_ms = interval_shift(interval, open_ms, 1) - 1
    open_price = path_price(symbol, mark, open_ms)
    close_price = path_price(symbol, mark, min(close_ms + 1, now_ms))
    minutes = (min(close_ms + 1, now_ms) - open_ms) / MINUTE_MS
    wiggle = min(0.05, 0.001 * math.sqrt(max(minutes, 1.0)))
    key = f"{symbol}|{interval}|{open_ms}"
    high = max(open_price, close_price) * (1 + wiggle * unit_hash(key + "h"))
    low = min(open_price, close_price) * (1 - wiggle * unit_hash(key + "l"))
    quote_volume = 150_000 * minutes * (0.5 + unit_hash(key + "v"))
    volume = Decimal(str(quote_volume / close_price)).quantize(step)
    taker_share = Decimal(str(round(0.35 + 0.3 * unit_hash(key + "t"), 4)))
    taker_volume = (volume * taker_share).quantize(step)
    vwap = Decimal(str((open_price + close_price) / 2))
    cents = Decimal("0.00001")
    return [
        open_ms, format_price(open_price, tick), format_price(high, tick),
        format_price(low, tick), format_price(close_price, tick), str(volume), close_ms,
        str((volume * vwap).quantize(cents)), int(20 * minutes * (1 + unit_hash(key + "n"))),
        str(taker_volume), str((taker_volume * vwap).quantize(cents)), "0",
    ]  # fmt: skip


def open_interest_row(
    symbol: str, open_interest: Decimal, mark: Decimal, timestamp_ms: int
) -> dict[str, Any]:
    """One `openInterestHist` row; `timestamp` is a JSON number as in the live capture (§1.9)."""
    wave = 1 + 0.05 * math.sin(timestamp_ms / DAY_MS * 2 * math.pi + unit_hash(symbol) * 6)
    eight = Decimal("0.00000001")
    amount = (open_interest * Decimal(str(round(wave, 6)))).quantize(eight)
    value = (amount * Decimal(str(path_price(symbol, mark, timestamp_ms)))).quantize(eight)
    supply = Decimal(str(round(1e6 + 1e9 * unit_hash(symbol + "supply"), 3)))
    return {
        "symbol": symbol,
        "sumOpenInterest": str(amount),
        "sumOpenInterestValue": str(value),
        "CMCCirculatingSupply": str(supply),
        "timestamp": timestamp_ms,
    }


def default_open_interest(symbol: str, mark: Decimal, step: Decimal) -> Decimal:
    """A plausible open interest in base units: 20M to 2B USDT of notional."""
    notional = 2e7 * 10 ** (2 * unit_hash(symbol + "oi"))
    if symbol.startswith("BTC"):
        notional = 8e9
    return Decimal(str(notional / float(mark))).quantize(step)
