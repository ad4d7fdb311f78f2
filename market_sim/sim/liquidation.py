"""The liquidation engine: who is liquidated within one second, and how that moves the price.

Within one second, in rounds:

1. every open position whose liquidation price the mark has reached is liquidated at that mark
   (long: mark <= LP, short: mark >= LP, §4.2 "the mark price triggers liquidation");
2. the forced orders push the price by the square-root impact law of market microstructure:
   with `N` = liquidated long notional - liquidated short notional of the round (longs are
   sold, shorts bought), the log mark moves by `-sign(N) · Y · sigma_day · sqrt(|N| / ADV)`
   (`sigma_day` the symbol's daily volatility, `ADV` its daily turnover, `Y` = `impact`, 0.5 by
   default): a 10 M USD forced sale moves BTC about 0.03 %, 1 M USD a small alt about 0.2 %;
3. if the price moved, the next round checks again: a cascade.

Cascades are bounded: at most `max_cascade_move` (2 %) of liquidation-driven move per symbol
per second, and `max_cascade_rounds` (6) pushing rounds plus a last one that liquidates what
the price reached but whose push is deferred to the next second. So at the end of every second
no open position is beyond its liquidation price. Round 0 happens in the first 400 ms of the
second, round `j` in a later slot, so trade times follow the cascade's order.

Each liquidation order fills (`ap`) a little worse than the mark for the liquidated trader
(0.01-0.05 %), never beyond the bankruptcy price, which is the order's limit price `p`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_sim.sim.book import PositionBook

FIRST_ROUND_MS = 400
SLIP_BASE, SLIP_SPREAD = 0.0001, 0.0004


@dataclass
class CascadeResult:
    """The liquidated positions (book columns plus the fields below) and the price path."""

    rows: dict[str, np.ndarray]  # + mark_at, round, time_ms, fill_price
    low: np.ndarray  # lowest mark per symbol during the cascade
    high: np.ndarray  # highest mark per symbol during the cascade
    deferred: np.ndarray  # log impact left for the next second (last round only)


def _empty_rows(book: PositionBook) -> dict[str, np.ndarray]:
    rows = book.take(np.zeros(0, dtype=np.int64))
    rows.update(mark_at=np.zeros(0), round=np.zeros(0, dtype=np.int16),
                time_ms=np.zeros(0, dtype=np.int64), fill_price=np.zeros(0))  # fmt: skip
    return rows


def run_cascade(
    book: PositionBook,
    marks: np.ndarray,
    step: np.ndarray,
    start_ms: int,
    rng: np.random.Generator,
    *,
    impact: np.ndarray,
    max_rounds: int,
    max_move: float,
) -> CascadeResult:
    """Liquidate at `marks` (updated in place) for the second starting at `start_ms`.

    `impact[i]` is `Y · sigma_day / sqrt(ADV)` of symbol `i` (log move per sqrt(USD)).
    """
    low, high = marks.copy(), marks.copy()
    deferred = np.zeros(len(marks))
    moved = np.zeros(len(marks))
    taken: list[dict[str, np.ndarray]] = []
    slot = max(1, (1000 - FIRST_ROUND_MS) // max(1, max_rounds))
    for round_index in range(max_rounds + 1):
        rows = book.crossed(marks)
        if len(rows) == 0:
            break
        first, width = (0, FIRST_ROUND_MS) if round_index == 0 else (
            FIRST_ROUND_MS + (round_index - 1) * slot, slot)  # fmt: skip
        batch = _liquidate(book, rows, marks, round_index, start_ms + first, width, rng)
        taken.append(batch)
        push = _push(batch, step, impact, max_move - moved)
        moved += np.abs(push)
        if round_index == max_rounds:
            deferred += push
            break
        marks *= np.exp(push)
        np.minimum(low, marks, out=low)
        np.maximum(high, marks, out=high)
    rows = (
        {k: np.concatenate([b[k] for b in taken]) for k in taken[0]} if taken else _empty_rows(book)
    )
    return CascadeResult(rows, low, high, deferred)


def _liquidate(
    book: PositionBook,
    rows: np.ndarray,
    marks: np.ndarray,
    round_index: int,
    slot_start_ms: int,
    slot_ms: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Take the positions at `rows` out of the book; when, at which mark and fill."""
    batch = book.take(rows)
    book.remove(rows)
    batch["mark_at"] = marks[batch["sym"]]
    batch["round"] = np.full(len(rows), round_index, dtype=np.int16)
    batch["time_ms"] = slot_start_ms + rng.integers(0, slot_ms, size=len(rows))
    batch["fill_price"] = _fill_prices(batch, rng)
    return batch


def _fill_prices(batch: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Average fill: slightly worse than the mark for the liquidated side, within bankruptcy."""
    side = batch["side"].astype(np.float64)
    slip = SLIP_BASE + SLIP_SPREAD * rng.random(len(side))
    fill = batch["mark_at"] * (1.0 - side * slip)
    return np.where(side > 0, np.maximum(fill, batch["bust"]), np.minimum(fill, batch["bust"]))


def _push(
    batch: dict[str, np.ndarray], step: np.ndarray, impact: np.ndarray, budget: np.ndarray
) -> np.ndarray:
    """Log price move per symbol from this round's forced orders, within the move budget."""
    sym = batch["sym"]
    notional = batch["lots"] * step[sym] * batch["mark_at"]
    net = np.bincount(sym, weights=batch["side"] * notional, minlength=len(impact))
    push = -impact * np.sign(net) * np.sqrt(np.abs(net))
    budget = np.maximum(budget, 0.0)
    return np.clip(push, -budget, budget)
