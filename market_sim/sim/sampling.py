"""Binance's liquidation-stream sampling (protocol reference §1.4), and the frames it pushes.

For each symbol only the *latest* liquidation order within each 1000 ms window is pushed;
seconds without one push nothing. Here a window is one simulated second `[start, start+1000)`,
and the latest is the one with the greatest trade time (ties: the one liquidated last). Every
liquidation of the second, pushed or not, is returned as a truth record with `sampled` set.

Prices as on the wire: the limit `p` is the bankruptcy price rounded away from the market (down
for a SELL, up for a BUY), the fill `ap` is rounded to the tick but never beyond `p`. A share of
orders (`partial_share`) filled in several pieces: their `l` (last fill) is smaller than `z`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from market_sim.sim import frames, render
from market_sim.sim.params import SymbolProfile
from market_sim.sim.render import GUARD

ORDER_SIDE = {1: "SELL", -1: "BUY"}


@dataclass
class SampledSecond:
    """One second's liquidations in time order, their truth records and the pushed frames."""

    sym: np.ndarray
    side: np.ndarray
    lots: np.ndarray
    price: np.ndarray  # fill price on the tick grid (what `ap` says)
    records: dict[str, np.ndarray]
    frames: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return len(self.sym)

    @property
    def sampled_count(self) -> int:
        return len(self.frames)


def push_time_ms(trade_ms: int) -> int:
    """When the stream pushes an event: the end of its 1000 ms window."""
    return (trade_ms // 1000 + 1) * 1000


def latest_per_symbol(sym: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """Positions (in the given order) of the latest event per symbol (or any group key, such
    as symbol and second); ties go to the later."""
    order = np.lexsort((np.arange(len(sym)), time_ms))
    reversed_sym = sym[order][::-1]
    _, first = np.unique(reversed_sym, return_index=True)
    return np.sort(order[::-1][first])


def _tick_prices(rows: dict[str, np.ndarray], tick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fill, limit) prices on the tick grid for liquidation rows."""
    long = rows["side"] > 0
    units_bust = rows["bust"] / tick
    limit_units = np.where(long, np.floor(units_bust + GUARD), np.ceil(units_bust - GUARD))
    fill_units = np.rint(rows["fill_price"] / tick)
    fill_units = np.where(
        long, np.maximum(fill_units, limit_units), np.minimum(fill_units, limit_units)
    )
    return fill_units * tick, limit_units * tick


def sample_second(
    rows: dict[str, np.ndarray],
    profiles: list[SymbolProfile],
    tick_size: np.ndarray,
    seq_start: int,
    rng: np.random.Generator,
    partial_share: float,
) -> SampledSecond:
    """Order the step's liquidations by time, mark the sampled ones, build their frames.

    One frame per symbol and second (a step may last several seconds); its push time `E` is
    the end of its second.
    """
    order = np.lexsort((np.arange(len(rows["sym"])), rows["time_ms"]))
    rows = {name: column[order] for name, column in rows.items()}
    sym = rows["sym"]
    price, limit = _tick_prices(rows, tick_size[sym])
    sampled = np.zeros(len(sym), dtype=bool)
    window = sym.astype(np.int64) * 2**32 + rows["time_ms"] // 1000  # (symbol, second)
    sampled[latest_per_symbol(window, rows["time_ms"])] = True
    records = dict(rows, seq=seq_start + np.arange(len(sym), dtype=np.int64), price=price,
                   limit_price=limit, sampled=sampled)  # fmt: skip
    picks = np.flatnonzero(sampled)
    partial = rng.random(len(picks)) < partial_share
    fraction = rng.random(len(picks))
    pushed = []
    for k, i in enumerate(picks):
        profile = profiles[int(sym[i])]
        lots = int(rows["lots"][i])
        last = max(1, math.floor(lots * fraction[k])) if partial[k] and lots > 1 else lots
        pd, qd = profile.price_decimals, profile.qty_decimals
        pushed.append(frames.force_order(
            profile.symbol, ORDER_SIDE[int(rows["side"][i])],
            quantity=render.lots(lots, qd), last_fill=render.lots(last, qd),
            limit_price=render.fixed(float(limit[i]), pd),
            fill_price=render.fixed(float(price[i]), pd),
            trade_ms=int(rows["time_ms"][i]), event_ms=push_time_ms(int(rows["time_ms"][i])),
        ))  # fmt: skip
    return SampledSecond(sym, rows["side"], rows["lots"], price, records, pushed)
