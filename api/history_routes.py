"""Routes over the durable history: liquidations, candles, open interest, the heatmap at a time.

Each view resolves the symbol (404), validates its parameters (400), then reads the store (503
while history is off). Nothing is cached on the server: the past can still change under a
query (the writer commits every second, the backfill fills candles and open interest in later,
retention prunes), and each read is bounded by ``limit``. Bodies carry an ``ETag`` with
``Cache-Control: no-cache``, so a client can revalidate with ``If-None-Match`` and get a 304.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from api.caching import CSV_MIMETYPE, NO_CACHE, conditional_bytes
from api.context import current_context, history_store, resolve_symbol
from api.cursor import liquidation_query
from api.envelope import ApiError, dumps
from api.history_params import (
    AT,
    CANDLE_INTERVAL,
    CANDLE_LIMIT,
    LIQUIDATION_LIMIT,
    OI_LIMIT,
    OI_PERIOD,
    range_from,
    wants_csv,
)
from api.history_payloads import (
    candle_page,
    candles_payload,
    heatmap_at_payload,
    liquidations_csv,
    liquidations_page,
    open_interest_payload,
)
from api.params import HEATMAP_PARAMS, parse_all
from api.payloads import heatmap_payload
from heatmap_engine.history.past_heatmap import heatmap_at
from heatmap_engine.models import iso_utc

JSON_OR_CSV = ("application/json", "text/csv")


def _csv_preferred() -> bool:
    """True when the Accept header prefers CSV to JSON (``*/*`` or no header: JSON)."""
    return request.accept_mimetypes.best_match(JSON_OR_CSV) == "text/csv"


def liquidations(symbol: str) -> Response:
    ctx = current_context()
    contract = resolve_symbol(ctx, symbol)
    limit = LIQUIDATION_LIMIT.parse(request.args)
    as_csv = wants_csv(request.args, _csv_preferred())
    query, after = liquidation_query(contract, request.args, ctx.clock_ms())
    rows = history_store(ctx).query_liquidations(
        contract, query.start_ms, query.end_ms, min_notional=query.min_notional,
        side=query.side, limit=limit + 1, after=after,
    )  # fmt: skip
    payload = liquidations_page(query, rows, limit)
    headers = {"Vary": "Accept"}
    if not as_csv:
        return conditional_bytes(dumps(payload), NO_CACHE, headers=headers)
    if payload["next_cursor"] is not None:
        headers["X-Next-Cursor"] = payload["next_cursor"]
    body = liquidations_csv(payload["liquidations"])
    return conditional_bytes(body, NO_CACHE, CSV_MIMETYPE, headers)


def candles(symbol: str) -> Response:
    ctx = current_context()
    contract = resolve_symbol(ctx, symbol)
    interval = CANDLE_INTERVAL.parse(request.args)
    limit = CANDLE_LIMIT.parse(request.args)
    span = range_from(request.args, ctx.clock_ms())
    store = history_store(ctx)

    def fetch(start_ms: int, end_ms: int, count: int):
        return store.candles(contract, "1m", start_ms, end_ms, count)

    rows, next_ms = candle_page(fetch, interval, span, limit)
    payload = candles_payload(contract, interval, span, rows, next_ms)
    return conditional_bytes(dumps(payload), NO_CACHE)


def open_interest(symbol: str) -> Response:
    ctx = current_context()
    contract = resolve_symbol(ctx, symbol)
    period = OI_PERIOD.parse(request.args)
    limit = OI_LIMIT.parse(request.args)
    span = range_from(request.args, ctx.clock_ms())
    rows = history_store(ctx).open_interest(contract, period, span.start_ms, span.end_ms, limit + 1)
    payload = open_interest_payload(contract, period, span, rows, limit)
    return conditional_bytes(dumps(payload), NO_CACHE)


def heatmap_at_view(symbol: str) -> Response:
    """``/api/heatmap/<symbol>?at=``: the live heatmap's body, computed from the store."""
    ctx = current_context()
    contract = resolve_symbol(ctx, symbol)
    values = parse_all(HEATMAP_PARAMS, request.args)
    at_ms = AT.parse(request.args)
    now_ms = ctx.clock_ms()
    if at_ms is None or at_ms > now_ms:
        raise ApiError(
            400,
            f"at={request.args.get(AT.name)!r} is in the future (now is {iso_utc(now_ms)}); "
            f"for the heatmap of now leave at out: GET /api/heatmap/{contract}",
        )
    snapshot = heatmap_at(history_store(ctx), contract, at_ms, ctx.service.engine.params)
    low, far = values["min_strength"], values["max_distance"]
    payload = heatmap_at_payload(heatmap_payload(contract, snapshot, low, far, at_ms), snapshot)
    return conditional_bytes(dumps(payload), NO_CACHE)


def add_history_routes(bp: Blueprint) -> None:
    bp.add_url_rule("/api/liquidations/<symbol>", view_func=liquidations)
    bp.add_url_rule("/api/candles/<symbol>", view_func=candles)
    bp.add_url_rule("/api/open-interest/<symbol>", view_func=open_interest)
