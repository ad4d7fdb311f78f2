"""The simulated traders: who opens which leveraged position, at what size, for how long.

* **Leverage**: 5x, 10x, 15x, 20x, 25x, 50x, 75x, 100x, 125x with weights 18, 27, 8, 20, 8, 10,
  5, 3, 1 % (81 % at 5-25x, 4 % at 100x or more), capped at the symbol's first-bracket maximum.
* **Size** (USD notional, heavy-tailed): 90 % retail, log-normal around 1,500 USD (sigma 1.3);
  9.5 % larger traders, log-normal around 40,000 USD (sigma 1.0); 0.5 % whales, Pareto from
  300,000 USD with tail index 1.4, capped at 10 M; all multiplied by the symbol's size scale.
* **Entry** near the market: the mark times `exp(N(0, 0.02 %))`.
* **Side**: 50/50 shifted towards the trend (±12 points in a trend regime, up to ±10 more from
  the last minutes' momentum), kept within 30-70 % longs.
* **Holding time**: exponential with mean `3 h · (10/L)^0.7` (about 30 minutes at 125x, 5 hours
  at 5x); the position is closed at market then, unless liquidated first.
* **Arrivals**: Poisson per symbol and second at the rate that keeps the book near its target
  size (`book_size / mean holding time`), scaled by the current volatility ratio (0.5-3x,
  traders are busier in busy markets) and by how far the book is below or above its target.
* **Initial book**: `book_size` positions per symbol as if opened during the past hours (entry
  spread by the symbol's volatility over each position's age); one already beyond its
  liquidation price at the start is left out, and one that is not is kept only with the
  probability that a Brownian path from its entry to today's mark never touched its
  liquidation price, `1 - exp(-2·a·b / (sigma²·age))` (`a`, `b` the log distances of entry and
  mark from it): otherwise it would have been liquidated before the start.

Every position posts exactly its initial margin; its liquidation price uses the symbol's MMR with
`cum = 0` (first bracket), see `market_sim.sim.margin`.
"""

from __future__ import annotations

import math

import numpy as np

from market_sim.sim import margin

LEVERAGES = np.array([5, 10, 15, 20, 25, 50, 75, 100, 125], dtype=np.int16)
LEVERAGE_WEIGHTS = np.array([18, 27, 8, 20, 8, 10, 5, 3, 1], dtype=np.float64) / 100.0
RETAIL = (math.log(1_500.0), 1.3)
PRO = (math.log(40_000.0), 1.0)
PRO_SHARE, WHALE_SHARE = 0.095, 0.005
WHALE_MIN, WHALE_TAIL, WHALE_CAP = 300_000.0, 1.4, 10_000_000.0
ENTRY_SPREAD = 0.0002
HOLD_BASE_S, HOLD_EXPONENT = 3 * 3600.0, 0.7
LONG_SHARE_BOUNDS = (0.3, 0.7)


def mean_hold_seconds(leverage: np.ndarray) -> np.ndarray:
    """Mean holding time by leverage: `3 h · (10/L)^0.7`."""
    return HOLD_BASE_S * (10.0 / leverage.astype(np.float64)) ** HOLD_EXPONENT


class TraderFlow:
    """Draws new positions for symbols described by parallel per-symbol arrays."""

    def __init__(self, columns: dict[str, np.ndarray], step: np.ndarray) -> None:
        self.step = step  # LOT_SIZE step per symbol
        self.mmr = columns["mmr"]
        self.max_leverage = columns["max_leverage"].astype(np.int16)
        self.size_scale = columns["size_scale"]
        self.book_size = columns["book_size"]
        self.sigma = columns["sigma"]
        mix_hold = float(np.sum(LEVERAGE_WEIGHTS * mean_hold_seconds(LEVERAGES)))
        self.base_rate = self.book_size / mix_hold  # opens per second that keep the book size

    def initial_book(self, now_ms: int, marks: np.ndarray, rng: np.random.Generator):
        """Positions opened during the past hours that survived until now (see module doc)."""
        sym = np.repeat(np.arange(len(marks), dtype=np.int32), self.book_size.astype(np.int64))
        leverage = self._leverage(sym, rng)
        age_s = rng.exponential(mean_hold_seconds(leverage))
        spread = self.sigma[sym] * np.sqrt(np.maximum(age_s, 1.0))
        entry = marks[sym] * np.exp(np.clip(spread * rng.standard_normal(len(sym)), -0.5, 0.5))
        opened_ms = now_ms - (age_s * 1000).astype(np.int64)
        rows = self._rows(sym, leverage, entry, opened_ms, now_ms, rng)
        alive = ~margin.crossed(rows["side"], marks[rows["sym"]], rows["liq"])
        # A path from entry to today's mark may have touched the liquidation price on the way:
        # keep with the Brownian-bridge probability of never touching it.
        gap_entry = np.abs(np.log(rows["entry"] / rows["liq"]))
        gap_now = np.abs(np.log(marks[rows["sym"]] / rows["liq"]))
        survive = 1.0 - np.exp(-2.0 * gap_entry * gap_now / spread**2)
        return _select(rows, alive & (rng.random(len(alive)) < survive))

    def opens(
        self,
        now_ms: int,
        marks: np.ndarray,
        activity: np.ndarray,
        long_share: np.ndarray,
        open_counts: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """This step's new positions (entry near `marks`, opened at `now_ms`); `activity`
        multiplies the arrival rate per second (volatility, and the step's length)."""
        fill = np.clip(self.book_size / np.maximum(open_counts, 1), 0.5, 2.0)
        counts = rng.poisson(self.base_rate * activity * fill)
        sym = np.repeat(np.arange(len(marks), dtype=np.int32), counts)
        leverage = self._leverage(sym, rng)
        entry = marks[sym] * np.exp(ENTRY_SPREAD * rng.standard_normal(len(sym)))
        opened_ms = np.full(len(sym), now_ms, dtype=np.int64)
        low, high = LONG_SHARE_BOUNDS
        rows = self._rows(
            sym, leverage, entry, opened_ms, now_ms, rng, np.clip(long_share, low, high)
        )
        # a position must open on the safe side of its liquidation price
        return _select(rows, ~margin.crossed(rows["side"], marks[rows["sym"]], rows["liq"]))

    def _leverage(self, sym: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        drawn = LEVERAGES[rng.choice(len(LEVERAGES), size=len(sym), p=LEVERAGE_WEIGHTS)]
        return np.minimum(drawn, self.max_leverage[sym])

    def _notional(self, sym: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        count = len(sym)
        kind = rng.random(count)
        retail = rng.lognormal(*RETAIL, size=count)
        pro = rng.lognormal(*PRO, size=count)
        whale = np.minimum(WHALE_MIN * (1.0 - rng.random(count)) ** (-1.0 / WHALE_TAIL), WHALE_CAP)
        usd = np.where(
            kind < WHALE_SHARE, whale, np.where(kind < WHALE_SHARE + PRO_SHARE, pro, retail)
        )
        return usd * self.size_scale[sym]

    def _rows(self, sym, leverage, entry, opened_ms, now_ms, rng, long_share=None):
        """Complete position rows: side, lots, margin, liquidation/bankruptcy prices, close time."""
        share = 0.5 if long_share is None else long_share[sym]
        side = np.where(rng.random(len(sym)) < share, 1, -1).astype(np.int8)
        step = self.step[sym]
        lots = np.maximum(1, np.rint(self._notional(sym, rng) / entry / step)).astype(np.int64)
        quantity = lots * step
        wallet = margin.initial_margin(quantity, entry, leverage.astype(np.float64))
        hold_ms = rng.exponential(mean_hold_seconds(leverage)) * 1000.0
        return {
            "sym": sym, "side": side, "lots": lots, "entry": entry, "leverage": leverage,
            "margin": wallet,
            "liq": margin.liquidation_price(side, quantity, entry, wallet, self.mmr[sym]),
            "bust": margin.bankruptcy_price(side, quantity, entry, wallet),
            "opened_ms": opened_ms,
            "close_ms": now_ms + np.maximum(1000, hold_ms.astype(np.int64)),
        }  # fmt: skip


def _select(rows: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[keep] for name, column in rows.items()}
