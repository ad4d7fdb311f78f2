"""Wire payloads of the simulated market, exactly as Binance USDⓈ-M sends them (§1.4-§1.7).

* `!forceOrder@arr`: one object per message (`{"e":"forceOrder","E":..,"o":{..}}`) with the
  2026 `ps`/`st` fields inside `o`; `p` is the order's limit (the bankruptcy price), `ap` the
  average fill, `z` the filled quantity, `l` the last fill (smaller than `z` when the order
  filled in pieces). COIN-M events (`BTCUSD_PERP`, `st` 2, quantity in 100 USD contracts) leak
  into the stream as on the real one since 2026-06-30.
* `!markPrice@arr@1s`: each second split into two array messages, the simulated crypto
  perpetuals and the listed TradFi perpetuals (as the live capture shows, §1.5).
* kline events come from `market_sim.sim.candles`.
"""

from __future__ import annotations

from typing import Any

from market_sim.sim import render
from market_sim.universe import default_mark_price

LIQUIDATION_STREAM = "!forceOrder@arr"
MARK_PRICE_STREAM = "!markPrice@arr@1s"
FUNDING_EVERY_MS = 8 * 3_600_000
TRADFI_SYMBOLS = ("CATUSDT", "TSLAUSDT", "AAPLUSDT", "XAUUSDT")  # listed by the fake's exchangeInfo
COIN_MARGINED_SYMBOL, COIN_MARGINED_PAIR = "BTCUSD_PERP", "BTCUSD"


def kline_stream(symbol: str) -> str:
    """`<symbol lowercase>@kline_1m` (stream names carry lowercase symbols, §1.2)."""
    return f"{symbol.lower()}@kline_1m"


def force_order(
    symbol: str,
    order_side: str,
    *,
    quantity: str,
    last_fill: str,
    limit_price: str,
    fill_price: str,
    trade_ms: int,
    event_ms: int,
    symbol_type: int = 1,
    pair: str | None = None,
) -> dict[str, Any]:
    """One `forceOrder` event (the live 2026 shape)."""
    return {"e": "forceOrder", "E": event_ms, "o": {
        "s": symbol, "S": order_side, "o": "LIMIT", "f": "IOC", "q": quantity,
        "p": limit_price, "ap": fill_price, "X": "FILLED", "l": last_fill, "z": quantity,
        "T": trade_ms, "ps": pair or symbol, "st": symbol_type,
    }}  # fmt: skip


def mark_entry(
    symbol: str, event_ms: int, mark: float, average: float, index: float, funding: float
) -> dict[str, Any]:
    """One `markPriceUpdate` entry of the all-market array."""
    next_funding = (event_ms // FUNDING_EVERY_MS + 1) * FUNDING_EVERY_MS
    return {
        "e": "markPriceUpdate", "E": event_ms, "s": symbol, "p": render.mark(mark),
        "ap": render.mark(average), "P": render.mark((mark + index) / 2), "i": render.mark(index),
        "r": render.mark(funding), "T": next_funding, "st": 1,
    }  # fmt: skip


def tradfi_message(event_ms: int) -> list[dict[str, Any]]:
    """The second array message: TradFi perpetuals at their listed (constant) mark prices."""
    entries = []
    for symbol in TRADFI_SYMBOLS:
        price = float(default_mark_price(symbol))
        entries.append(mark_entry(symbol, event_ms, price, price, price, 0.0001))
    return entries


def coin_margined(
    order_side: str, contracts: int, price: float, trade_ms: int, event_ms: int
) -> dict[str, Any]:
    """A COIN-M `BTCUSD_PERP` liquidation (quantity in contracts, `st` 2)."""
    limit = price * (0.995 if order_side == "SELL" else 1.005)
    return force_order(
        COIN_MARGINED_SYMBOL, order_side, quantity=str(contracts), last_fill=str(contracts),
        limit_price=render.fixed(limit, 1), fill_price=render.fixed(price, 1),
        trade_ms=trade_ms, event_ms=event_ms, symbol_type=2, pair=COIN_MARGINED_PAIR,
    )  # fmt: skip
