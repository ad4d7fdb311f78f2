"""Pure builders of the history routes' bodies and pages: rows in, dicts (or CSV bytes) out.

Paging, by route:

* liquidations: keyset paging with an opaque cursor (``api.cursor``); one row more than the page
  is read to know whether another page follows, so the last page never points at an empty one.
* candles and open interest: time paging. A page holds the first ``limit`` rows of the range;
  ``next_start`` is the open time of the first row after it (gaps are skipped), or null.
  Candles longer than 1m are aggregated from at most ``SOURCE_MINUTES_MAX`` stored 1m candles
  per request, so a long range of long candles comes in several pages, never in one huge read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from api.cursor import LiquidationQuery, encode_cursor
from api.history_params import TimeRange
from heatmap_engine.candles import INTERVAL_MS, aggregate_candles
from heatmap_engine.models import Candle, Liquidation, OpenInterest, Snapshot, iso_utc

MINUTE_MS = 60_000
SOURCE_MINUTES_MAX = 20_160  # 14 days of 1m candles: the most one aggregated page reads
# The fields of a stored liquidation, in the order of the JSON objects and the CSV columns.
LIQUIDATION_FIELDS = ("id", "symbol", "exchange", "side", "price", "quantity", "notional_usd",
                      "time", "time_ms", "received_at", "status")  # fmt: skip
CandleFetch = Callable[[int, int, int], list[Candle]]


def liquidation_record(row_id: int, liq: Liquidation) -> dict:
    """One stored liquidation as the API returns it (JSON and CSV use the same fields)."""
    return {
        "id": row_id,
        "symbol": liq.symbol,
        "exchange": liq.exchange,
        "side": liq.liquidated_side,
        "price": liq.price,
        "quantity": liq.quantity,
        "notional_usd": liq.notional_usd,
        "time": iso_utc(liq.event_time_ms),
        "time_ms": liq.event_time_ms,
        "received_at": iso_utc(liq.received_at_ms),
        "status": liq.order_status,
    }


def liquidations_page(
    query: LiquidationQuery, rows: Sequence[tuple[int, Liquidation]], limit: int
) -> dict[str, Any]:
    """A page from up to ``limit + 1`` rows (the extra one only says that more follow)."""
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        row_id, last = page[-1]
        next_cursor = encode_cursor(query, (last.event_time_ms, row_id))
    records = [liquidation_record(row_id, liq) for row_id, liq in page]
    return {
        "success": True,
        "symbol": query.symbol,
        "start": iso_utc(query.start_ms),
        "end": iso_utc(query.end_ms),
        "count": len(records),
        "liquidations": records,
        "next_cursor": next_cursor,
    }


def liquidations_csv(records: Sequence[dict[str, Any]]) -> bytes:
    """RFC 4180 CSV: a header row, then one row per liquidation (the JSON records' fields)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LIQUIDATION_FIELDS)
    writer.writerows([record[field] for field in LIQUIDATION_FIELDS] for record in records)
    return out.getvalue().encode("utf-8")


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def candle_page(
    fetch: CandleFetch, interval: str, span: TimeRange, limit: int
) -> tuple[list[Candle], int | None]:
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


def _next(next_ms: int | None) -> dict[str, Any]:
    return {"next_start": iso_utc(next_ms), "next_start_ms": next_ms}


def candles_payload(
    symbol: str, interval: str, span: TimeRange, candles: Sequence[Candle], next_ms: int | None
) -> dict[str, Any]:
    return {
        "success": True,
        "symbol": symbol,
        "interval": interval,
        **span.to_dict(),
        "count": len(candles),
        "candles": [c.to_dict() for c in candles],
        **_next(next_ms),
    }


def open_interest_payload(
    symbol: str, period: str, span: TimeRange, rows: Sequence[OpenInterest], limit: int
) -> dict[str, Any]:
    """A page from up to ``limit + 1`` stored samples (the extra one only gives next_start)."""
    page = rows[:limit]
    next_ms = rows[limit].time_ms if len(rows) > limit else None
    points = [
        {"time": iso_utc(o.time_ms), "time_ms": o.time_ms, "open_interest": o.open_interest,
         "open_interest_usd": o.open_interest_usd}
        for o in page
    ]  # fmt: skip
    return {
        "success": True,
        "symbol": symbol,
        "period": period,
        **span.to_dict(),
        "count": len(points),
        "open_interest": points,
        **_next(next_ms),
    }


def heatmap_at_payload(base: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    """The live heatmap's body (``base``, from ``heatmap_payload``) of a past snapshot + ``at``."""
    return {**base, "at": iso_utc(snapshot.computed_at_ms)}
