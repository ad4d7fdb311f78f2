"""Binance USDⓈ-M isolated-margin arithmetic (protocol reference §4.1 and §4.2).

In one-way mode a position of quantity `Q > 0`, entry price `EP`, side `s` (+1 long, -1 short),
isolated wallet balance `WB`, maintenance margin rate `MMR` and maintenance amount `cum` of its
bracket is liquidated when the mark price reaches

    LP = (WB + cum - s·Q·EP) / (Q·MMR - s·Q)

(the price where margin balance `WB + s·Q·(P - EP)` equals maintenance margin `Q·P·MMR - cum`),
and its margin is exhausted at the bankruptcy price `BP = EP - s·WB/Q`. The simulated traders
post exactly the initial margin `WB = Q·EP/L` (no fees, no added margin, no funding paid from
the margin). Every function accepts floats or numpy arrays.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

Number = TypeVar("Number", float, np.ndarray)


def initial_margin(quantity: Number, entry: Number, leverage: Number) -> Number:
    """`WB = Q·EP/L`: the isolated wallet balance a trader opening at leverage `L` posts."""
    return quantity * entry / leverage


def liquidation_price(
    side: Number, quantity: Number, entry: Number, wallet: Number, mmr: Number, cum: Number = 0.0
) -> Number:
    """§4.1: `LP = (WB + cum - s·Q·EP) / (Q·MMR - s·Q)`."""
    return (wallet + cum - side * quantity * entry) / (quantity * mmr - side * quantity)


def bankruptcy_price(side: Number, quantity: Number, entry: Number, wallet: Number) -> Number:
    """Where the margin balance is zero: `BP = EP - s·WB/Q` (the liquidation order's limit)."""
    return entry - side * wallet / quantity


def crossed(side: np.ndarray, mark: np.ndarray, liq_price: np.ndarray) -> np.ndarray:
    """True where the mark price reached the liquidation price (long: mark <= LP, short: >=)."""
    return np.where(side > 0, mark <= liq_price, mark >= liq_price)
