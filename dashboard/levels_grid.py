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
- Tiers: a long level at price ``P`` from tier ``j`` was opened at ``P / (1 + d_j)`` (``d_j``
  the tier's liquidation distance, negative for longs); it can stand in a cell only if price
  had traded at such an entry since the range began (the range's lowest low to highest high up
  to the cell's column: price moves continuously). The hover names the tiers that pass. It is
  a reach, not a split of the cell's notional by tier: the model's grid sums its tiers (the
  map's profile has the split for the book now). Levels from the warm-up before the range are
  not seen by this rule.
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
    )


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


def traded_extent(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """(lowest low, highest high) from the range's start up to each cell column."""
    return np.minimum.accumulate(cells.low), np.maximum.accumulate(cells.high)


def reaching_tiers(cells: Cells, tiers: tuple[TierInfo, ...], side: str) -> np.ndarray:
    """(tiers, columns, rows) bool: whether a level of the tier can stand in the cell (the
    entries that put a level inside the cell's price span overlap the prices traded)."""
    low, high = traded_extent(cells)
    distance = [t.long_distance_pct if side == "long" else t.short_distance_pct for t in tiers]
    factor = 1.0 + np.asarray(distance)[:, None] / 100.0  # (tiers, 1)
    entry_low, entry_high = cells.price_low[None, :] / factor, cells.price_high[None, :] / factor
    return (entry_high[:, None, :] >= low[None, :, None]) & (
        entry_low[:, None, :] <= high[None, :, None]
    )


def tier_words(labels: list[str]) -> str:
    """``["25x", "50x", "100x"]`` -> ``25x-100x`` (the tiers that reach a cell are
    contiguous); one label alone; ``none`` for none."""
    if not labels:
        return "none"
    return labels[0] if len(labels) == 1 else f"{labels[0]}-{labels[-1]}"


def _side_codes(reach: np.ndarray, has: np.ndarray) -> np.ndarray:
    """(columns, rows) int per cell of one side: 0 no notional, 1 notional but no tier reaches,
    else 2 + first·T + last (the reaching tiers are contiguous)."""
    count = reach.shape[0]
    first = np.argmax(reach, axis=0)
    last = count - 1 - np.argmax(reach[::-1], axis=0)
    code = np.where(reach.any(axis=0), 2 + first * count + last, 1)
    return np.where(has, code, 0)


def _side_words(code: int, labels: list[str]) -> str | None:
    if code == 0:
        return None
    if code == 1:
        return tier_words([])
    first, last = divmod(code - 2, len(labels))
    return tier_words(labels[first : last + 1])


def _cell_words(long_words: str | None, short_words: str | None) -> str:
    """One side, or both alike: its tiers; else ``long 25x-100x, short 5x``."""
    if long_words is None or short_words is None or long_words == short_words:
        return long_words or short_words or ""
    return f"long {long_words}, short {short_words}"


def tier_names(cells: Cells, tiers: tuple[TierInfo, ...]) -> np.ndarray:
    """(columns, rows) of strings: the tiers that reach each cell with notional of that side,
    e.g. ``5x-100x`` or ``long 25x-100x, short 5x-10x`` (vectorised: one string per distinct
    combination)."""
    labels = [t.label for t in tiers]
    size = len(labels) ** 2 + 2
    longs = _side_codes(reaching_tiers(cells, tiers, "long"), cells.long_usd > 0)
    shorts = _side_codes(reaching_tiers(cells, tiers, "short"), cells.short_usd > 0)
    unique, inverse = np.unique(longs * size + shorts, return_inverse=True)
    words = []
    for code in unique.tolist():
        sides = (_side_words(code // size, labels), _side_words(code % size, labels))
        words.append(_cell_words(*sides))
    return np.asarray(words)[inverse.reshape(longs.shape)]
