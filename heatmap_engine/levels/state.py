"""The standing book of one symbol: the data ``heatmap_engine.levels.book`` changes bar by bar.

Contracts per side (0 long, 1 short), tier and price bucket (``layout`` has the grid) over the
buckets ``k0 … k0+K−1`` (grown when levels land outside), plus per side the contracts at
*unknown* levels: open interest from before the model saw it open, not placed until it turns
over. USD figures are contracts times the bucket's middle price: what a liquidation there would
be. Shrinking a side (decay, closes) only changes its ``scale``: the contracts are
``stored × scale``, so a bar costs the same however many levels stand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from heatmap_engine.levels.layout import Layout

LONG, SHORT = 0, 1
USD = 3  # the row of ``BookState.sides`` with the USD of the placed levels
EMPTY = (2**62, -(2**62))  # (lowest, highest) bucket of a side without levels
_GROW = 256  # buckets added beyond what a growth needs
_FIT = 32  # buckets kept either side of the levels when a book's arrays are fitted to them


class Bar(NamedTuple):
    """One closed candle: prices, and volumes in base units (NaN when unknown)."""

    open_ms: int
    end_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float = math.nan
    taker_buy_volume: float = math.nan


class BarOutcome(NamedTuple):
    """What the model predicts for one bar: the levels it consumed, per side."""

    open_ms: int
    long_usd: float
    short_usd: float
    long_contracts: float
    short_contracts: float


@dataclass(frozen=True)
class Ledger:
    """Cumulative contracts (all positions) and USD (placed levels) of one book: seeded +
    opened = closed + decayed + consumed + standing, in both units (a copy of
    ``BookState.totals``, in this order)."""

    seeded: float = 0.0
    opened: float = 0.0
    closed: float = 0.0
    decayed: float = 0.0
    consumed: float = 0.0
    opened_usd: float = 0.0
    closed_usd: float = 0.0
    decayed_usd: float = 0.0
    consumed_usd: float = 0.0


@dataclass
class BookState:
    """The mutable state of one symbol's book (one writer; ``copy`` to hand it on). Its numbers
    are arrays that the compiled bar loop (``book``) changes in place."""

    layout: Layout
    k0: int
    stored: np.ndarray  # (2, J, K)
    mids: np.ndarray  # (K,) middle price of each bucket
    sides: np.ndarray  # (4, 2): per side the scale, contracts at unknown levels, placed, USD
    bounds: np.ndarray  # (4,) int64: lowest long bucket, highest long, lowest short, highest
    last_close: float
    last_end_ms: int
    totals: np.ndarray = field(default_factory=lambda: np.zeros(9))  # ``Ledger``'s order

    @classmethod
    def seed(cls, layout: Layout, contracts: float, price: float, end_ms: int) -> BookState:
        """A book holding ``contracts`` at unknown levels, half per side (the first reading).
        Its arrays span 512 buckets either side of the price (0.6x to 1.67x the price at the
        default 0.1 % buckets; a book's levels span ~420 buckets) and grow when levels land
        outside; their size changes no number (``tests/levels/test_book_extent.py``)."""
        k0, size = layout.index(price) - 2 * _GROW, 4 * _GROW
        sides = np.zeros((4, 2))
        sides[0], sides[1] = 1.0, contracts / 2
        state = cls(
            layout,
            k0,
            np.zeros((2, layout.rows, size)),
            _mids(layout.g, k0, size),
            sides,
            np.array([*EMPTY, *EMPTY], dtype=np.int64),
            price,
            end_ms,
        )
        state.totals[0] = contracts
        return state

    def copy(self) -> BookState:
        return BookState(
            self.layout,
            self.k0,
            self.stored.copy(),
            self.mids,
            self.sides.copy(),
            self.bounds.copy(),
            self.last_close,
            self.last_end_ms,
            self.totals.copy(),
        )

    @property
    def ledger(self) -> Ledger:
        return Ledger(*self.totals.tolist())

    @property
    def scale(self) -> list[float]:
        """Per side: the stored levels times this are contracts."""
        return self.sides[0].tolist()

    @property
    def unknown(self) -> list[float]:
        """Contracts at unknown levels, per side."""
        return self.sides[1].tolist()

    @property
    def placed(self) -> list[float]:
        """Contracts at known levels, per side."""
        return self.sides[2].tolist()

    @property
    def usd(self) -> list[float]:
        """USD of the placed levels, per side."""
        return self.sides[USD].tolist()

    @property
    def extent(self) -> list[int]:
        """[lowest long bucket, highest long, lowest short, highest short]."""
        return self.bounds.tolist()

    @property
    def size(self) -> int:
        return self.stored.shape[2]

    @property
    def standing(self) -> float:
        """Contracts standing: placed and at unknown levels, both sides."""
        return float(self.sides[1:3].sum())

    def mass(self) -> np.ndarray:
        """(2, J, K) contracts per side, tier and bucket (a new array)."""
        return self.stored * self.sides[0][:, None, None]

    def side_usd(self, k_from: int, k_to: int) -> np.ndarray:
        """(2, k_to − k_from) USD per side of buckets ``k_from … k_to−1`` (zeros outside)."""
        out = np.zeros((2, k_to - k_from))
        a, b = max(k_from, self.k0), min(k_to, self.k0 + self.size)
        if a < b:
            i, j = a - self.k0, b - self.k0
            out[:, a - k_from : b - k_from] = self.stored[:, :, i:j].sum(axis=1) * self.mids[i:j]
            out *= self.sides[0][:, None]
        return out

    def tier_usd(self) -> tuple[int, np.ndarray]:
        """(first bucket, (2, J, n) USD per side and tier) over the occupied buckets."""
        extent = self.bounds.tolist()
        lo = min(extent[0], extent[2])
        hi = max(extent[1], extent[3])
        if hi < lo:
            return self.layout.index(self.last_close), np.zeros((2, self.layout.rows, 0))
        i, j = lo - self.k0, hi + 1 - self.k0
        return lo, self.stored[:, :, i:j] * self.mids[i:j] * self.sides[0][:, None, None]

    def reserve(self, lo: int, hi: int) -> None:
        """Make room for buckets ``lo … hi`` (and some more)."""
        if lo >= self.k0 and hi < self.k0 + self.size:
            return
        k0 = min(self.k0, lo - _GROW)
        end = max(self.k0 + self.size, hi + 1 + _GROW)
        at = slice(self.k0 - k0, self.k0 - k0 + self.size)
        stored = np.zeros((2, self.layout.rows, end - k0))
        stored[:, :, at] = self.stored
        self.k0, self.stored = k0, stored
        self.mids = _mids(self.layout.g, k0, end - k0)

    def fit(self) -> bool:
        """Shrink the arrays to the buckets the levels occupy and ``_FIT`` either side, when
        they hold more than ``_GROW`` buckets beyond that (a seeded book starts at 1,024 and
        grows by ``_GROW``; its levels span ~420): a book then costs ~45 KiB, not 80. The
        buckets left out are empty, and every cell a bar can touch is reserved again before
        it is applied (``book.apply_bars``), so it changes no number. True when it shrank."""
        extent = self.bounds.tolist()
        lo, hi = min(extent[0], extent[2]), max(extent[1], extent[3])
        if hi < lo:
            return False
        k0 = max(self.k0, lo - _FIT)
        end = min(self.k0 + self.size, hi + 1 + _FIT)
        if self.size - (end - k0) <= _GROW:
            return False
        at = slice(k0 - self.k0, end - self.k0)
        self.stored, self.mids = self.stored[:, :, at].copy(), self.mids[at].copy()
        self.k0 = k0
        return True


def _mids(g: float, k0: int, size: int) -> np.ndarray:
    return np.exp((np.arange(k0, k0 + size) + 0.5) * g)
