"""JSON Schemas of the history routes' bodies (same dialect and habits as ``api.schemas``)."""

from __future__ import annotations

from typing import Any

from api.history_payloads import LIQUIDATION_FIELDS
from api.schemas import SIDE, TRUE, _int, _num, _time

_STRING = {"type": "string"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


LIQUIDATION = {
    "type": "object",
    "required": list(LIQUIDATION_FIELDS),
    "properties": {
        "id": _int("Row id in the store; with time_ms it orders the liquidations.", None),
        "symbol": {**_STRING, "description": "The contract."},
        "exchange": {**_STRING, "description": "The venue, e.g. binance."},
        "side": SIDE,
        "price": _num("Average fill price (order price when missing).", minimum=0),
        "quantity": _num("Filled quantity in base units.", minimum=0),
        "notional_usd": _num("USD notional: quantity x price.", minimum=0),
        "time": _time("Trade time (the exchange's o.T)."),
        "time_ms": _int("Trade time in epoch milliseconds.", None),
        "received_at": _time("When this server received it."),
        "status": {**_STRING, "description": "The exchange's order status, e.g. FILLED."},
    },
}


def _page(items: str, item_schema: str, extra: dict[str, Any], required: list[str]) -> dict:
    return {
        "type": "object",
        "required": ["success", "symbol", "start", "end", "count", items, *required],
        "properties": {
            "success": TRUE,
            "symbol": {**_STRING, "description": "The resolved contract."},
            "start": _time("Start of the range (inclusive), resolved."),
            "end": _time("End of the range (exclusive), resolved."),
            "count": _int("Items in this page."),
            items: {"type": "array", "items": _ref(item_schema)},
            **extra,
        },
    }


_NEXT_START = {
    "next_start": _time("Pass as start for the next page; null when the range is done.", True),
    "next_start_ms": {**_int("next_start in epoch milliseconds.", None), "nullable": True},
}

LIQUIDATION_PAGE = _page(
    "liquidations",
    "Liquidation",
    {"next_cursor": {"type": "string", "nullable": True,
                     "description": "Pass as cursor for the next page; null on the last page."}},
    ["next_cursor"],
)  # fmt: skip

CANDLE = {
    "type": "object",
    "required": ["open_time", "open_time_ms", "open", "high", "low", "close", "volume",
                 "quote_volume", "taker_buy_volume", "trades", "closed"],
    "properties": {
        "open_time": _time("Open time of the candle (UTC)."),
        "open_time_ms": _int("Open time in epoch milliseconds.", None),
        "open": _num("First trade price."), "high": _num("Highest."), "low": _num("Lowest."),
        "close": _num("Last trade price."),
        "volume": _num("Base-asset volume.", minimum=0),
        "quote_volume": _num("Quote-asset (USDT) volume.", minimum=0),
        "taker_buy_volume": _num("Taker-buy base volume (sells: volume - this).", minimum=0),
        "trades": _int("Number of trades."),
        "closed": {"type": "boolean",
                   "description": "False while the candle (or its last minute) is still open."},
    },
}  # fmt: skip

CANDLES = _page(
    "candles",
    "Candle",
    {"interval": {**_STRING, "description": "Candle length."}, **_NEXT_START},
    ["interval", "next_start"],
)

OPEN_INTEREST_POINT = {
    "type": "object",
    "required": ["time", "time_ms", "open_interest", "open_interest_usd"],
    "properties": {
        "time": _time("Sample time (UTC)."),
        "time_ms": _int("Sample time in epoch milliseconds.", None),
        "open_interest": _num("Open interest in base units (contracts of the coin).", minimum=0),
        "open_interest_usd": _num("The same in USD; null when the venue gave none.", True, 0),
    },
}

OPEN_INTEREST = _page(
    "open_interest",
    "OpenInterestPoint",
    {"period": {**_STRING, "description": "Sampling period."}, **_NEXT_START},
    ["period", "next_start"],
)

HISTORY_COMPONENTS: dict[str, dict[str, Any]] = {
    "Liquidation": LIQUIDATION,
    "LiquidationPage": LIQUIDATION_PAGE,
    "Candle": CANDLE,
    "Candles": CANDLES,
    "OpenInterestPoint": OPEN_INTEREST_POINT,
    "OpenInterest": OPEN_INTEREST,
}
