"""``/api/open-interest/{symbol}``: the stored open-interest series, time-paged like candles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel, Field

from api.caching import NO_CACHE, conditional_bytes
from api.context import ApiContext, history_store
from api.envelope import dumps
from api.operations import Operation, Reply, Resource
from api.query import Query, WholeNumber
from api.resources.candles import Page, page_fields
from api.schemas import HISTORY_CACHE_HEADERS, IsoTime, NonNegative, history_replies
from api.times import StartTime, Time, TimeRange, time_doc, time_range
from heatmap_engine.models import OpenInterest as StoredOpenInterest
from heatmap_engine.models import iso_utc


class OpenInterestQuery(Query):
    # what the backfill stores (Binance openInterestHist, period 5m)
    period: Literal["5m"] = Field("5m", description="Sampling period of the stored series.")
    start: StartTime | None = Field(
        None, description=time_doc("Start of the range (inclusive).", "end - 24 hours")
    )
    end: Time | None = Field(None, description=time_doc("End of the range (exclusive).", "now"))
    limit: WholeNumber = Field(1500, ge=1, le=5000, description="Samples per page.")


class OpenInterestPoint(BaseModel):
    time: IsoTime = Field(description="Sample time (UTC).")
    time_ms: int = Field(description="Sample time in epoch milliseconds.")
    open_interest: NonNegative = Field(
        description="Open interest in base units (contracts of the coin)."
    )
    open_interest_usd: NonNegative | None = Field(
        description="The same in USD; null when the venue gave none."
    )


class OpenInterest(Page):
    period: str = Field(description="Sampling period.")
    open_interest: list[OpenInterestPoint]


def open_interest_payload(
    symbol: str, period: str, span: TimeRange, rows: Sequence[StoredOpenInterest], limit: int
) -> dict[str, Any]:
    """A page from up to ``limit + 1`` stored samples (the extra one only gives next_start)."""
    page = rows[:limit]
    next_ms = rows[limit].time_ms if len(rows) > limit else None
    points = [
        {"time": iso_utc(o.time_ms), "time_ms": o.time_ms, "open_interest": o.open_interest,
         "open_interest_usd": o.open_interest_usd}
        for o in page
    ]  # fmt: skip
    return {**page_fields(symbol, span, len(points), next_ms), "period": period,
            "open_interest": points}  # fmt: skip


def open_interest(ctx: ApiContext, query: OpenInterestQuery, symbol: str) -> Response:
    span = time_range(query.start, query.end, ctx.clock_ms())
    rows = history_store(ctx).open_interest(
        symbol, query.period, span.start_ms, span.end_ms, query.limit + 1
    )
    body = open_interest_payload(symbol, query.period, span, rows, query.limit)
    return conditional_bytes(dumps(body), NO_CACHE)


RESOURCE = Resource("open_interest", (
    Operation("/api/open-interest/<symbol>", open_interest,
              "Stored open interest of a symbol, paged",
              history_replies(Reply("Samples, oldest first.", OpenInterest,
                                    HISTORY_CACHE_HEADERS)),
              OpenInterestQuery, revalidates=True),
))  # fmt: skip
