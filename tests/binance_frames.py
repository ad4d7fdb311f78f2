"""Binance USDⓈ-M payloads exactly as the 2026 stream sends them (for tests and fakes)."""

from __future__ import annotations

from typing import Any


def force_order(
    symbol: str, order_side: str, price: float, qty: float, trade_time_ms: int, **extra: Any
) -> dict[str, Any]:
    """A ``forceOrder`` event as the live 2026 frame: ``ps``/``st`` inside ``o``."""
    order = {
        "s": symbol,
        "S": order_side,
        "o": "LIMIT",
        "f": "IOC",
        "q": f"{qty:.6f}",
        "p": f"{price * (0.995 if order_side == 'SELL' else 1.005):.8f}",
        "ap": f"{price:.8f}",
        "X": "FILLED",
        "l": f"{qty:.6f}",
        "z": f"{qty:.6f}",
        "T": trade_time_ms,
        "ps": symbol,
        "st": 1,
    }
    order.update(extra)
    return {"e": "forceOrder", "E": trade_time_ms + 5, "o": order}


def mark_price(symbol: str, price: float, event_time_ms: int) -> dict[str, Any]:
    return {
        "e": "markPriceUpdate",
        "E": event_time_ms,
        "s": symbol,
        "p": f"{price:.8f}",
        "ap": f"{price:.8f}",
        "P": f"{price:.8f}",
        "i": f"{price:.8f}",
        "r": "0.00010000",
        "T": event_time_ms + 3_600_000,
        "st": 1,
    }
