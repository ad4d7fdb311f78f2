"""``/api/liquidations/{symbol}``: stored liquidations of a time range, paged, as JSON or CSV.

Keyset paging with an opaque signed cursor (``liquidation_cursor``): one row more than the page
is read to know whether another page follows, so the last page never points at an empty one.
Nothing is cached on the server (the writer commits every second); bodies carry an ``ETag`` with
``Cache-Control: no-cache``, so a client can revalidate with ``If-None-Match`` and get a 304.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Literal

from flask import Response, request
from pydantic import BaseModel, Field

from api.caching import CSV_MIMETYPE, NO_CACHE, conditional_bytes
from api.context import ApiContext, history_store
from api.envelope import dumps
from api.operations import Operation, Reply, Resource
from api.query import Number, Query, WholeNumber
from api.resources.liquidation_cursor import (
    PINNED,
    Cursor,
    CursorCodec,
    LiquidationQuery,
    liquidation_query,
)
from api.schemas import HISTORY_CACHE_HEADERS, Count, IsoTime, NonNegative, Side, history_replies
from api.times import StartTime, Time, time_doc
from heatmap_engine.models import Liquidation as StoredLiquidation
from heatmap_engine.models import iso_utc

JSON_OR_CSV = ("application/json", "text/csv")
# The fields of a stored liquidation, in the order of the JSON objects and the CSV columns.
LIQUIDATION_FIELDS = ("id", "symbol", "exchange", "side", "price", "quantity", "notional_usd",
                      "time", "time_ms", "received_at", "status")  # fmt: skip


class LiquidationsQuery(Query):
    start: StartTime | None = Field(
        None, description=time_doc("Start of the range (inclusive).", "end - 24 hours")
    )
    end: Time | None = Field(None, description=time_doc("End of the range (exclusive).", "now"))
    side: Literal["long", "short"] | None = Field(
        None, description="Only liquidations of longs (the exchange's order sold) or of "
        "shorts; both when absent.",
    )  # fmt: skip
    min_notional: Number = Field(
        0.0, ge=0, description="Only liquidations of at least this USD notional."
    )
    limit: WholeNumber = Field(1000, ge=1, le=5000, description="Liquidations per page.")
    format: Literal["json", "csv"] | None = Field(
        None, description="Response format. Without it, an Accept header preferring text/csv "
        "gets CSV, anything else JSON.",
    )  # fmt: skip
    cursor: Cursor | None = Field(
        None, description="The next_cursor of the previous page (in the JSON body, or the "
        "X-Next-Cursor header of CSV). It carries the query it belongs to: start, end, side "
        "and min_notional may then be left out, and any that are given must equal the "
        "cursor's.",
    )  # fmt: skip


class Liquidation(BaseModel):
    id: int = Field(description="Row id in the store; with time_ms it orders the liquidations.")
    symbol: str = Field(description="The contract.")
    exchange: str = Field(description="The venue, e.g. binance.")
    side: Side
    price: NonNegative = Field(description="Average fill price (order price when missing).")
    quantity: NonNegative = Field(description="Filled quantity in base units.")
    notional_usd: NonNegative = Field(description="USD notional: quantity x price.")
    time: IsoTime = Field(description="Trade time (the exchange's o.T).")
    time_ms: int = Field(description="Trade time in epoch milliseconds.")
    received_at: IsoTime = Field(description="When this server received it.")
    status: str = Field(description="The exchange's order status, e.g. FILLED.")


class LiquidationPage(BaseModel):
    success: Literal[True]
    symbol: str = Field(description="The resolved contract.")
    start: IsoTime = Field(description="Start of the range (inclusive), resolved.")
    end: IsoTime = Field(description="End of the range (exclusive), resolved.")
    count: Count = Field(description="Items in this page.")
    liquidations: list[Liquidation]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


def liquidation_record(row_id: int, liq: StoredLiquidation) -> dict[str, Any]:
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
    ctx: ApiContext, query: LiquidationQuery, rows: Sequence[tuple[int, StoredLiquidation]],
    limit: int,
) -> dict[str, Any]:  # fmt: skip
    """A page from up to ``limit + 1`` rows (the extra one only says that more follow)."""
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        row_id, last = page[-1]
        next_cursor = CursorCodec(ctx.secret.get).encode(query, (last.event_time_ms, row_id))
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


def _wants_csv(chosen: str | None) -> bool:
    """``format`` decides; without it, CSV only when the Accept header prefers it to JSON."""
    if chosen is not None:
        return chosen == "csv"
    return request.accept_mimetypes.best_match(JSON_OR_CSV) == "text/csv"


def liquidations(ctx: ApiContext, params: LiquidationsQuery, symbol: str) -> Response:
    store = history_store(ctx)
    cursor = None if params.cursor is None else CursorCodec(ctx.secret.get).decode(params.cursor)
    given = {name: getattr(params, name) for name in PINNED if name in params.model_fields_set}
    query, after = liquidation_query(symbol, given, cursor, ctx.clock_ms())
    rows = store.query_liquidations(
        symbol, query.start_ms, query.end_ms, min_notional=query.min_notional,
        side=query.side, limit=params.limit + 1, after=after,
    )  # fmt: skip
    payload = liquidations_page(ctx, query, rows, params.limit)
    headers = {"Vary": "Accept"}
    if not _wants_csv(params.format):
        return conditional_bytes(dumps(payload), NO_CACHE, headers=headers)
    if payload["next_cursor"] is not None:
        headers["X-Next-Cursor"] = payload["next_cursor"]
    return conditional_bytes(liquidations_csv(payload["liquidations"]), NO_CACHE, CSV_MIMETYPE,
                             headers)  # fmt: skip


_PAGE_HEADERS = {**HISTORY_CACHE_HEADERS, "X-Next-Cursor": {
    "description": "CSV only: the next page's cursor; absent on the last page.",
    "schema": {"type": "string"}}}  # fmt: skip
_CSV = ("A header row, then one row per liquidation with the JSON records' fields in the same "
        "order.")  # fmt: skip

RESOURCE = Resource("liquidations", (
    Operation("/api/liquidations/<symbol>", liquidations,
              "Stored liquidations of a symbol (JSON or CSV), paged",
              history_replies(Reply("A page of stored liquidations, oldest first.",
                                    LiquidationPage, _PAGE_HEADERS, csv=_CSV)),
              LiquidationsQuery, revalidates=True),
))  # fmt: skip
