"""The estimated grid at screen resolution, its fixed colour scale and which tiers reach a cell
(pure numpy: a ``LevelsResult``'s grid in, plain arrays out; the figure is ``estimated.py``).

- Screen resolution: the model's grid (up to 720 columns × 400 rows) is grouped into at most
  ``MAX_COLUMNS`` × ``MAX_ROWS`` cells. Rows are summed (a taller cell holds the notional of
  the rows it joins); a group of columns shows the book at the end of its last column, as a
  model column does, and the candles of the group (first open, highest high, lowest low, last
  close).
- Colour scale: cells are quantised to ``LEVELS`` steps of a fixed maximum, a round number (1,
  2 or 5 × 10^k) above the 99th percentile of the cells when the scale was chosen. The scale is
  kept for as long as the symbol, range and preset stay: refreshes with new data never rescale
  it (a cell above the maximum shows the brightest colour). A cell below the threshold (a share
  of the maximum) is hidden.
- Tiers: the model records, for every grid cell, each leverage tier's share of it; a screen
  cell adds its rows' tier notional (both sides), and the hover names the tiers that make up
  at least 5 % of it, largest first, each with its share rounded to 5 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from heatmap_engine.levels.results import Grid, TierInfo

MAX_COLUMNS = 160  # about 7 px per column on a laptop
MAX_ROWS = 100
LEVELS = 100  # colour steps of the fixed scale
SCALE_PERCENTILE = 99.0


@dataclass(frozen=True)
class Cells:
    """The grid as drawn: ``long_usd`` and ``short_usd`` are (columns, rows)."""

    column_ms: int
    time_ms: np.ndarray  # (columns,) open time of each cell column
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    price_low: np.ndarray  # (rows,) ascending
    price_high: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    tier_usd: np.ndarray | None = None  # (columns, tiers, rows), both sides

    @property
    def price_mid(self) -> np.ndarray:
        return np.sqrt(self.price_low * self.price_high)

    @property
    def total_usd(self) -> np.ndarray:
        return self.long_usd + self.short_usd

    @property
    def middle_ms(self) -> np.ndarray:
        """The middle time of each cell column (where its candle and its cells are drawn)."""
        return self.time_ms + self.column_ms // 2


def _groups(count: int, limit: int) -> tuple[int, np.ndarray]:
    """(group size, first index of each group) for ``count`` items in at most ``limit``."""
    size = max(1, math.ceil(count / limit))
    return size, np.arange(0, count, size)


def screen_cells(grid: Grid, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS) -> Cells:
    """The grid grouped into at most ``max_columns`` × ``max_rows`` cells (module docstring)."""
    columns, rows = grid.long_usd.shape
    c_size, c_first = _groups(columns, max_columns)
    r_size, r_first = _groups(rows, max_rows)
    c_last = np.minimum(c_first + c_size, columns) - 1
    r_last = np.minimum(r_first + r_size, rows) - 1

    def book(usd: np.ndarray) -> np.ndarray:
        at_end = usd[c_last].astype(np.float64)
        return np.add.reduceat(at_end, r_first, axis=1) if r_size > 1 else at_end

    return Cells(
        grid.column_ms * c_size,
        grid.time_ms[c_first],
        grid.open[c_first],
        np.maximum.reduceat(grid.high, c_first),
        np.minimum.reduceat(grid.low, c_first),
        grid.close[c_last],
        grid.price_low[r_first],
        grid.price_high[r_last],
        book(grid.long_usd),
        book(grid.short_usd),
        _tier_book(grid, c_last, r_first, r_size),
    )


def _tier_book(grid: Grid, c_last: np.ndarray, r_first: np.ndarray, r_size: int):
    """Both sides' tier notional of each screen cell: (columns, tiers, rows)."""
    if grid.tier_share is None:
        return None
    usd = grid.tier_usd(0)[c_last] + grid.tier_usd(1)[c_last]
    return np.add.reduceat(usd, r_first, axis=2) if r_size > 1 else usd


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``value`` (1 for nothing)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= value * (1 - 1e-12):
            return float(factor * magnitude)
    return 10.0 * magnitude  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class ColourScale:
    """The legend's fixed maximum (USD) and what it is fixed for (symbol|range|preset)."""

    key: str
    zmax: float

    def to_dict(self) -> dict:
        return {"key": self.key, "zmax": self.zmax}


def colour_scale(previous: dict | None, key: str, totals: np.ndarray) -> ColourScale:
    """The scale shown before when it was fixed for ``key``; else a new one from ``totals``."""
    if previous and previous.get("key") == key and float(previous.get("zmax") or 0) > 0:
        return ColourScale(key, float(previous["zmax"]))
    positive = totals[totals > 0]
    top = float(np.percentile(positive, SCALE_PERCENTILE)) if positive.size else 0.0
    return ColourScale(key, nice_ceiling(top))


def cell_levels(totals: np.ndarray, zmax: float, threshold_pct: float) -> np.ndarray:
    """Colour steps 0 … ``LEVELS`` of each cell on the fixed scale (above it: the top step);
    NaN (hidden) for cells below ``threshold_pct`` % of the maximum and for empty cells."""
    levels = np.minimum(np.round(totals / zmax * LEVELS), LEVELS)
    hidden = (totals <= 0) | (totals < zmax * threshold_pct / 100.0)
    return np.where(hidden, np.nan, levels)


TIER_STEP_PCT = 5  # shares in the hover: rounded to 5 %, tiers under 5 % left out


def tier_names(cells: Cells, tiers: tuple[TierInfo, ...]) -> np.ndarray:
    """(columns, rows) of strings: the tiers that make up each cell, largest first, e.g.
    ``25x 45% · 50x 30% · 10x 25%`` ("" for an empty cell). Vectorised: one string per
    distinct combination of rounded shares."""
    columns, rows = cells.long_usd.shape
    if cells.tier_usd is None:
        return np.full((columns, rows), "")
    usd = cells.tier_usd.transpose(0, 2, 1).reshape(columns * rows, -1)  # (cells, tiers)
    total = usd.sum(axis=1, keepdims=True)
    share = np.divide(usd, total, out=np.zeros_like(usd), where=total > 0)
    steps = np.rint(share * (100 / TIER_STEP_PCT)).astype(np.int16)
    unique, inverse = np.unique(steps, axis=0, return_inverse=True)
    labels = [t.label for t in tiers]
    words = [_tier_words(row, labels) for row in unique.tolist()]
    return np.asarray(words)[inverse.reshape(-1)].reshape(columns, rows)


def _tier_words(steps: list[int], labels: list[str]) -> str:
    order = sorted((-n, j) for j, n in enumerate(steps) if n > 0)
    return " · ".join(f"{labels[j]} {-n * TIER_STEP_PCT}%" for n, j in order)
