"""The model's outputs over time and price: the grid's rows and columns, the recorder that takes
a column from the book as a run passes each column's last bar, and the profile of a book.

Rows group ``m`` model buckets (aligned on multiples of ``m``), the fewest that keep the rows
within ``levels_grid_rows`` over the range's prices (its candles' low to high, widened by
``levels_grid_margin_pct``). Columns are a whole number of bars, the smallest step of
``COLUMN_STEPS`` that keeps them within ``levels_grid_columns``; a column's value is the book
after its last bar, and columns without candles are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from heatmap_engine.levels.book import Recording
from heatmap_engine.levels.layout import Layout
from heatmap_engine.levels.results import Grid, Predictions, Profile
from heatmap_engine.levels.series import Bars
from heatmap_engine.levels.state import BookState

_MINUTE = 60_000
COLUMN_STEPS = tuple(
    m * _MINUTE for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720, 1440, 2880, 4320, 10080)
)


@dataclass(frozen=True)
class GridPlan:
    """Which buckets and bars make the grid's rows and columns."""

    k_from: int  # first model bucket of the first row
    rows: int
    row_buckets: int  # m
    column_ms: int

    @classmethod
    def build(
        cls,
        layout: Layout,
        bars: Bars,
        margin_pct: float,
        max_rows: int,
        range_ms: int,
        max_columns: int,
    ) -> GridPlan:
        widen = 1.0 + margin_pct / 100.0
        k_lo = layout.index(float(bars.low.min()) / widen)
        k_hi = layout.index(float(bars.high.max()) * widen)
        m = max(1, math.ceil((k_hi - k_lo + 1) / max_rows))
        k_from = (k_lo // m) * m
        steps = [s for s in COLUMN_STEPS if s >= bars.interval_ms and s % bars.interval_ms == 0]
        column = next((s for s in steps if math.ceil(range_ms / s) <= max_columns), steps[-1])
        return cls(k_from, math.ceil((k_hi + 1 - k_from) / m), m, column)

    @property
    def k_to(self) -> int:
        return self.k_from + self.rows * self.row_buckets


def row_edges(g: float, k_from: int, rows: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(price_low, price_high) of ``rows`` rows of ``m`` buckets from bucket ``k_from``."""
    k = k_from + m * np.arange(rows + 1)
    edges = np.exp(k * g)
    return edges[:-1], edges[1:]


class GridRecorder:
    """What a run keeps (``LevelsBook``'s recorder): the range's predictions, and each
    column's book as the run passes the column's last bar, recorded by the compiled bar loop
    (``book._record``) as contracts per side and bucket and each tier's share of a cell."""

    def __init__(self, plan: GridPlan, layout: Layout, bars: Bars) -> None:
        self.plan, self.layout, self.bars = plan, layout, bars
        self.open_ms = bars.open_ms.astype(np.float64)
        column = bars.open_ms // plan.column_ms
        self.column_start = np.unique(column)
        self.column = np.searchsorted(self.column_start, column)
        last = np.r_[column[1:] != column[:-1], True]
        self.ends = np.where(last, self.column, -1)  # per bar: the column it ends, or -1
        n, columns = len(bars), len(self.column_start)
        buckets = plan.rows * plan.row_buckets
        # contracts per side and model bucket at each column's end (float32: half the memory)
        self.contracts = np.zeros((columns, 2, buckets), dtype=np.float32)
        # each side's split of a grid cell by leverage tier, in 255ths (a byte a tier and cell)
        self.tier_share = np.zeros((columns, 2, layout.rows, plan.rows), dtype=np.uint8)
        self._long, self._short = np.zeros(n), np.zeros(n)  # predicted liquidations per bar
        self._committed = np.zeros(n, dtype=bool)
        self.unknown_share_start: float | None = None

    def _index(self, bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the range's index of each bar, whether it is in the range)."""
        i = np.searchsorted(self.open_ms, bars[:, 0])
        inside = i < len(self.open_ms)
        inside[inside] = self.open_ms[i[inside]] == bars[inside, 0]
        return np.where(inside, i, 0), inside

    def recording(self, bars: np.ndarray) -> Recording | None:
        i, inside = self._index(bars)
        ends = np.where(inside, self.ends[i], -1).astype(np.int64)
        if not (ends >= 0).any():
            return None
        plan = self.plan
        return Recording(ends, plan.k_from, plan.row_buckets, self.contracts, self.tier_share)

    def take(self, bars: np.ndarray, outcomes: np.ndarray, committed: bool) -> None:
        i, inside = self._index(bars)
        if not inside.any():
            return
        at = i[inside]
        self._long[at], self._short[at] = outcomes[inside, 0], outcomes[inside, 1]
        self._committed[at] = committed
        if self.unknown_share_start is None:
            self.unknown_share_start = float(outcomes[inside, 4][0])

    def predictions(self) -> Predictions:
        return Predictions(
            self.bars.open_ms,
            self._long.copy(),
            self._short.copy(),
            self._committed.copy(),
        )

    def grid(self) -> Grid:
        plan, g, bars = self.plan, self.layout.g, self.bars
        usd = self.contracts * np.exp((np.arange(plan.k_from, plan.k_to) + 0.5) * g).astype(
            np.float32
        )
        if plan.row_buckets > 1:
            usd = usd.reshape(len(usd), 2, plan.rows, plan.row_buckets).sum(axis=3)
        low, high = row_edges(g, plan.k_from, plan.rows, plan.row_buckets)
        first = np.searchsorted(self.column, np.arange(len(self.column_start)))
        last = np.r_[first[1:], len(bars)] - 1
        span = [np.minimum.reduceat(bars.low, first), np.maximum.reduceat(bars.high, first)]
        volume = np.add.reduceat(bars.volume, first)
        return Grid(
            plan.column_ms,
            self.column_start * plan.column_ms,
            bars.open[first],
            span[1],
            span[0],
            bars.close[last],
            volume,
            low,
            high,
            usd[:, 0],
            usd[:, 1],
            self.tier_share,
        )


def build_profile(state: BookState, m: int, time_ms: int, labels: tuple[str, ...]) -> Profile:
    """The standing book of ``state`` in rows of ``m`` buckets, at its last close."""
    price, g = state.last_close, state.layout.g
    lo, usd = state.tier_usd()  # (2, J, n) from bucket lo
    k_from = (lo // m) * m
    rows = max(1, math.ceil((lo + usd.shape[2] - k_from) / m))
    padded = np.zeros((2, usd.shape[1], rows * m))
    padded[:, :, lo - k_from : lo - k_from + usd.shape[2]] = usd
    tiers = padded.reshape(2, usd.shape[1], rows, m).sum(axis=3)
    low, high = row_edges(g, k_from, rows, m)
    long_usd, short_usd = tiers[0].sum(axis=0), tiers[1].sum(axis=0)
    mid = np.sqrt(low * high)
    below, above = mid <= price, mid >= price
    cum_long = np.where(below, np.cumsum((long_usd * below)[::-1])[::-1], np.nan)
    cum_short = np.where(above, np.cumsum(short_usd * above), np.nan)
    return Profile(
        price,
        time_ms,
        low,
        high,
        long_usd,
        short_usd,
        labels,
        tiers[0],
        tiers[1],
        cum_long,
        cum_short,
        state.unknown[0] * price,
        state.unknown[1] * price,
    )
