"""``/api/candles/{symbol}``: stored 1m candles, or longer ones aggregated from them, paged.

Time paging: a page holds the first ``limit`` candles of the range; ``next_start`` is the open
time of the first candle after it (gaps are skipped), or null. Candles longer than 1m are
aggregated from at most ``SOURCE_MINUTES_MAX`` stored 1m candles per request, so a long range of
long candles comes in several pages, never in one huge read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel, Field

from api.caching import NO_CACHE, conditional_bytes
from api.context import ApiContext, history_store
from api.envelope import dumps
from api.operations import Operation, Reply, Resource
from api.query import Query, WholeNumber
from api.schemas import HISTORY_CACHE_HEADERS, Count, IsoTime, NonNegative, history_replies
from api.times import StartTime, Time, TimeRange, time_doc, time_range
from heatmap_engine.candles import INTERVAL_MS, aggregate_candles
from heatmap_engine.models import Candle as StoredCandle
from heatmap_engine.models import iso_utc

MINUTE_MS = 60_000
SOURCE_MINUTES_MAX = 20_160  # 14 days of 1m candles: the most one aggregated page reads
CandleFetch = Callable[[int, int, int], list[StoredCandle]]
Interval = Literal[tuple(INTERVAL_MS)]  # type: ignore[valid-type]


class CandlesQuery(Query):
    interval: Interval = Field(
        "1m", description="Candle length. 1m candles are stored; longer ones are aggregated "
        "from them, aligned to UTC midnight (epoch).",
    )  # fmt: skip
    start: StartTime | None = Field(
        None, description=time_doc("Start of the range (inclusive).", "end - 24 hours")
    )
    end: Time | None = Field(None, description=time_doc("End of the range (exclusive).", "now"))
    limit: WholeNumber = Field(1500, ge=1, le=5000, description="Candles per page.")


class Candle(BaseModel):
    open_time: IsoTime = Field(description="Open time of the candle (UTC).")
    open_time_ms: int = Field(description="Open time in epoch milliseconds.")
    open: float = Field(description="First trade price.")
    high: float = Field(description="Highest.")
    low: float = Field(description="Lowest.")
    close: float = Field(description="Last trade price.")
    volume: NonNegative = Field(description="Base-asset volume.")
    quote_volume: NonNegative = Field(description="Quote-asset (USDT) volume.")
    taker_buy_volume: NonNegative = Field(description="Taker-buy base volume (sells: volume - "
                                          "this).")  # fmt: skip
    trades: Count = Field(description="Number of trades.")
    closed: bool = Field(description="False while the candle (or its last minute) is still open.")


class Page(BaseModel):
    """What every time-paged body has (candles, open interest)."""

    success: Literal[True]
    symbol: str = Field(description="The resolved contract.")
    start: IsoTime = Field(description="Start of the range (inclusive), resolved.")
    end: IsoTime = Field(description="End of the range (exclusive), resolved.")
    count: Count = Field(description="Items in this page.")
    next_start: IsoTime | None = Field(
        description="Pass as start for the next page; null when the range is done."
    )
    next_start_ms: int | None = Field(None, description="next_start in epoch milliseconds.")


class Candles(Page):
    interval: str = Field(description="Candle length.")
    candles: list[Candle]


def candle_record(candle: StoredCandle) -> dict[str, Any]:
    return {
        "open_time": iso_utc(candle.open_time_ms),
        "open_time_ms": candle.open_time_ms,
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume": candle.volume,
        "quote_volume": candle.quote_volume,
        "taker_buy_volume": candle.taker_buy_volume,
        "trades": candle.trades,
        "closed": candle.closed,
    }


def page_fields(symbol: str, span: TimeRange, count: int, next_ms: int | None) -> dict[str, Any]:
    return {"success": True, "symbol": symbol, **span.fields(), "count": count,
            "next_start": iso_utc(next_ms), "next_start_ms": next_ms}  # fmt: skip


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def candle_page(
    fetch: CandleFetch, interval: str, span: TimeRange, limit: int
) -> tuple[list[StoredCandle], int | None]:
    """Candles of ``interval`` opening in ``[start, end)`` (at most ``limit``) and the open time
    where the next page starts, or None. ``fetch(start, end, n)`` reads stored 1m candles."""
    step = INTERVAL_MS[interval]
    first, stop = _ceil(span.start_ms, step), _ceil(span.end_ms, step)
    if first >= stop:
        return [], None
    cap = min(limit * (step // MINUTE_MS), SOURCE_MINUTES_MAX)
    rows = fetch(first, stop, cap + 1)
    following = rows[cap] if len(rows) > cap else None
    rows = rows[:cap]
    candles = rows if step == MINUTE_MS else aggregate_candles(rows, interval)
    next_ms = None
    if following is not None:
        next_ms = following.open_time_ms - following.open_time_ms % step
        if len(candles) > 1 and candles[-1].open_time_ms == next_ms:
            candles.pop()  # the read stopped inside this candle: the next page builds it whole
    if len(candles) > limit:
        next_ms = candles[limit].open_time_ms
        candles = candles[:limit]
    return candles, next_ms


def candles_payload(
    symbol: str, interval: str, span: TimeRange, candles: Sequence[StoredCandle],
    next_ms: int | None,
) -> dict[str, Any]:  # fmt: skip
    return {**page_fields(symbol, span, len(candles), next_ms), "interval": interval,
            "candles": [candle_record(c) for c in candles]}  # fmt: skip


def candles(ctx: ApiContext, query: CandlesQuery, symbol: str) -> Response:
    span = time_range(query.start, query.end, ctx.clock_ms())
    store = history_store(ctx)

    def fetch(start_ms: int, end_ms: int, count: int) -> list[StoredCandle]:
        return store.candles(symbol, "1m", start_ms, end_ms, count)

    rows, next_ms = candle_page(fetch, query.interval, span, query.limit)
    body = candles_payload(symbol, query.interval, span, rows, next_ms)
    return conditional_bytes(dumps(body), NO_CACHE)


RESOURCE = Resource("candles", (
    Operation("/api/candles/<symbol>", candles, "Stored candles of a symbol, paged",
              history_replies(Reply("Candles, oldest first.", Candles, HISTORY_CACHE_HEADERS)),
              CandlesQuery, revalidates=True),
))  # fmt: skip
