"""The liquidation engine: who is liquidated within one step, and how that moves the price.

A step is one second live (the demo's fast prefill steps several seconds at once). Within it,
in rounds:

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
second the move reached the position (a longer step brings the mark of each of its seconds),
round `j` in a later slot of the symbol's last such second, so trade times follow the
cascade's order.

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


@dataclass(frozen=True)
class StepTime:
    """When the step happens: it starts at `start_ms` and lasts `seconds`; a longer step also
    carries `path`, the mark of every second boundary in it (`seconds + 1` rows, the step's
    first mark to its last), so round 0 liquidates what any 1-second mark reached, in the
    second it reached it, as 1-second steps would."""

    start_ms: int
    seconds: int = 1
    path: np.ndarray | None = None

    def first_round(
        self, book: PositionBook, marks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows reached, the second each was reached in, the mark that reached it)."""
        if self.path is None:
            rows = book.crossed(marks)
            sym = book.column("sym")[rows]
            return rows, np.full(len(rows), self.start_ms, dtype=np.int64), marks[sym]
        # a long is reached by the lowest mark, a short by the highest; either scan also
        # returns positions of the other side that are reached
        rows = np.union1d(book.crossed(self.path.min(axis=0)), book.crossed(self.path.max(axis=0)))
        sym, liq = book.column("sym")[rows], book.column("liq")[rows]
        later = self.path[1:, sym]
        reached = np.where(book.column("side")[rows] > 0, later <= liq, later >= liq)
        index = reached.argmax(axis=0)  # the first 1-second mark that reached it
        return (
            rows,
            self.start_ms + 1000 * index.astype(np.int64),
            later[index, np.arange(len(rows))],
        )


def run_cascade(
    book: PositionBook,
    marks: np.ndarray,
    step: np.ndarray,
    when: StepTime,
    rng: np.random.Generator,
    *,
    impact: np.ndarray,
    max_rounds: int,
    max_move: float,
) -> CascadeResult:
    """Liquidate at `marks` (updated in place) for the step `when`.

    `impact[i]` is `Y · sigma_day / sqrt(ADV)` of symbol `i` (log move per sqrt(USD)).
    Round 0 (positions the market's move reached) happens in the first 400 ms of the second
    the move reached them; the pushing rounds follow in later slots of the symbol's last such
    second.
    """
    low, high = marks.copy(), marks.copy()
    deferred = np.zeros(len(marks))
    moved = np.zeros(len(marks))
    cascade_second = np.full(len(marks), when.start_ms, dtype=np.int64)
    taken: list[dict[str, np.ndarray]] = []
    slot = max(1, (1000 - FIRST_ROUND_MS) // max(1, max_rounds))
    for round_index in range(max_rounds + 1):
        if round_index == 0:
            rows, seconds, reached_at = when.first_round(book, marks)
        else:
            rows = book.crossed(marks)
        if len(rows) == 0:
            break
        batch = book.take(rows)
        book.remove(rows)
        if round_index == 0:
            np.maximum.at(cascade_second, batch["sym"], seconds)
            offsets = rng.integers(0, FIRST_ROUND_MS, size=len(rows))
        else:
            seconds, reached_at = cascade_second[batch["sym"]], marks[batch["sym"]]
            first = FIRST_ROUND_MS + (round_index - 1) * slot
            offsets = first + rng.integers(0, slot, size=len(rows))
        _fill_batch(batch, reached_at, round_index, seconds + offsets, rng)
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


def _fill_batch(
    batch: dict[str, np.ndarray],
    mark_at: np.ndarray,
    round_index: int,
    time_ms: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """When the liquidated positions of one round were liquidated, at which mark and fill."""
    batch["mark_at"] = mark_at
    batch["round"] = np.full(len(time_ms), round_index, dtype=np.int16)
    batch["time_ms"] = time_ms
    batch["fill_price"] = _fill_prices(batch, rng)


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
