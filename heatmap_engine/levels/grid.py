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

from heatmap_engine.levels.layout import Layout
from heatmap_engine.levels.results import Grid, Predictions, Profile
from heatmap_engine.levels.series import Bars
from heatmap_engine.levels.state import Bar, BarOutcome, BookState

_MINUTE = 60_000
_HELD_BYTES = 2**20  # column books held for one batch of ``GridRecorder._record``
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
    """The hook (``LevelsBook.on_bar``) that keeps the range's predictions and columns.

    A column's book (the window of ``stored`` and the sides' scales) is copied as the run
    passes its last bar, and turned into the column's contracts and tier shares for a batch of
    columns at once (``_record``): the same arithmetic as one column at a time, without a dozen
    numpy calls on small arrays per column."""

    def __init__(self, plan: GridPlan, layout: Layout, bars: Bars) -> None:
        self.plan, self.layout, self.bars = plan, layout, bars
        self.index = {t: i for i, t in enumerate(bars.open_ms.tolist())}
        column = bars.open_ms // plan.column_ms
        self.column_start = np.unique(column)
        self.column = np.searchsorted(self.column_start, column).tolist()
        self.last = np.r_[column[1:] != column[:-1], True].tolist()
        n, columns = len(bars), len(self.column_start)
        buckets = plan.rows * plan.row_buckets
        # contracts per side and model bucket at each column's end (float32: half the memory)
        self.contracts = np.zeros((columns, 2, buckets), dtype=np.float32)
        # each side's split of a grid cell by leverage tier, in 255ths (a byte a tier and cell)
        self.tier_share = np.zeros((columns, 2, layout.rows, plan.rows), dtype=np.uint8)
        held = max(1, min(columns, _HELD_BYTES // (2 * layout.rows * buckets * 8)))
        self._held = np.empty((held, 2, layout.rows, buckets))  # the books of columns passed
        self._held_scale = np.empty((held, 2, 1))
        self._held_columns: list[int] = []  # the columns whose books are held, not recorded
        self._summed = np.empty((held, 2, buckets))  # scratch of ``_record``
        self._rows = np.empty((held, 2, layout.rows, plan.rows)) if plan.row_buckets > 1 else None
        self._share = np.empty((held, 2, layout.rows, plan.rows))
        self._long, self._short = [0.0] * n, [0.0] * n  # predicted liquidations per bar
        self._committed = [False] * n
        self.unknown_share_start: float | None = None

    def __call__(self, bar: Bar, outcome: BarOutcome, state: BookState, committed: bool) -> None:
        i = self.index.get(bar.open_ms)
        if i is None:
            return
        self._long[i], self._short[i] = outcome.long_usd, outcome.short_usd
        self._committed[i] = committed
        if self.unknown_share_start is None:
            standing = state.standing
            unknown = state.unknown[0] + state.unknown[1]
            self.unknown_share_start = unknown / standing if standing > 0 else 0.0
        if self.last[i]:
            column, held_columns = self.column[i], self._held_columns
            if held_columns and column != held_columns[-1] + 1:
                self._record()  # a batch is a run of consecutive columns
            held, a = len(self._held_columns), self.plan.k_from - state.k0
            # (the run reserved the whole window)
            self._held[held] = state.stored[:, :, a : a + self._held.shape[3]]
            self._held_scale[held, :, 0] = state.scale
            self._held_columns.append(column)
            if held + 1 == len(self._held):
                self._record()

    def _record(self) -> None:
        """The held columns' contracts (per bucket: the tiers summed, times the side's scale)
        and each tier's share of a cell's contracts, in 255ths (the side's scale is common to
        its tiers; within a row the buckets' prices differ by under 1 %, so a share of
        contracts is the share of the USD to that precision). Scratch arrays are reused."""
        columns, plan = self._held_columns, self.plan
        n = len(columns)
        if not n:
            return
        stored, tiers_summed, share = self._held[:n], self._summed[:n], self._share[:n]
        np.add.reduce(stored, axis=2, out=tiers_summed)
        at = slice(columns[0], columns[0] + n)
        np.multiply(tiers_summed, self._held_scale[:n], out=self.contracts[at])
        if plan.row_buckets == 1:  # a row is a bucket: its tiers summed are the cell's total
            rows, total = stored, tiers_summed
        else:
            shape = (*stored.shape[:3], plan.rows, plan.row_buckets)
            rows = np.add.reduce(stored.reshape(shape), axis=4, out=self._rows[:n])
            total = np.add.reduce(rows, axis=2)
        # a cell without contracts has no share: dividing by infinity (not a masked divide)
        total = np.where(total > 0, total, np.inf)[:, :, None, :]
        np.divide(rows, total, out=share)
        np.multiply(share, 255.0, out=share)
        np.rint(share, out=self.tier_share[at], casting="unsafe")
        self._held_columns = []

    def predictions(self) -> Predictions:
        return Predictions(
            self.bars.open_ms,
            np.array(self._long, dtype=np.float64),
            np.array(self._short, dtype=np.float64),
            np.array(self._committed, dtype=bool),
        )

    def grid(self) -> Grid:
        self._record()
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
