"""Number rendering the way Binance prints it: fixed-point decimal strings.

Prices round to the contract's tick (candle highs up and lows down, so a rendered candle still
bounds every price inside it); quantities are integer lots times the LOT_SIZE step, printed
exactly; mark, index and funding values carry 8 decimals as on the mark-price stream.
"""

from __future__ import annotations

import math

GUARD = 1e-9  # float noise allowed when rounding to a tick, in ticks


def fixed(value: float, decimals: int) -> str:
    """`value` with exactly `decimals` digits after the point (no exponent)."""
    text = f"{value:.{decimals}f}"
    if text[0] == "-" and not text.strip("-0."):
        return text[1:]  # no negative zero
    return text


def mark(value: float) -> str:
    """Mark/index price or funding rate: 8 decimals."""
    return fixed(value, 8)


def price(value: float, tick: float, decimals: int, mode: str = "nearest") -> str:
    """A price on the tick grid: `nearest`, `up` (ceiling) or `down` (floor)."""
    units = value / tick
    if mode == "up":
        steps = math.ceil(units - GUARD)
    elif mode == "down":
        steps = math.floor(units + GUARD)
    else:
        steps = round(units)
    return fixed(steps * tick, decimals)


def lots(count: int, decimals: int) -> str:
    """An integer number of lots of size `10**-decimals`, printed exactly."""
    if decimals <= 0:
        return str(int(count))
    digits = str(int(count)).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"
