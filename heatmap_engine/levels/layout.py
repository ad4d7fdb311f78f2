"""What does not change from bar to bar for one symbol: the price grid, the rows of the book
(side × leverage tier) and where a bar's opened contracts land on them (``Placement``).

Prices live on a logarithmic grid: bucket ``k`` holds prices in ``[e^(k·g), e^((k+1)·g))`` with
``g = ln(1 + bucket_pct/100)``; its levels sit at its middle price ``e^((k+½)·g)``. A row's
levels are the bar's entries times the row's liquidation factor ``LP/EP`` (``formula``), that
is the entries shifted by ``ln(factor)/g`` buckets.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from heatmap_engine.levels import rules
from heatmap_engine.levels.formula import Cohort

MAX_BAR_RATIO = 100.0  # a bar's high / low beyond this is refused as input (series.py)
_CHUNK = 1024  # bars whose placements are computed at once


@dataclass(frozen=True)
class Layout:
    """The grid and rows of one symbol's book under one set of settings."""

    g: float
    cohorts: tuple[Cohort, ...]
    shifts: np.ndarray  # (2·J,) log liquidation factor in buckets, long rows then short rows
    widths: np.ndarray  # (2·J,) extra even spread in buckets (uniform baseline), else 0
    weights: np.ndarray  # (J,) tier weights
    half_life_ms: float
    uniform: bool = False

    @classmethod
    def build(
        cls, cohorts: Sequence[Cohort], bucket_pct: float, half_life_ms: float, uniform=False
    ) -> Layout:
        g = math.log1p(bucket_pct / 100.0)
        weights = np.array([c.weight for c in cohorts])
        longs = np.log([c.long_factor for c in cohorts]) / g
        shorts = np.log([c.short_factor for c in cohorts]) / g
        widths = np.zeros(2 * len(cohorts))
        if uniform:  # one row per side, spread evenly from the farthest to the nearest level
            widths = np.array([np.ptp(longs), np.ptp(shorts)])
            longs, shorts, weights = longs.min(keepdims=True), shorts.min(keepdims=True), [1.0]
        return cls(
            g,
            tuple(cohorts),
            np.concatenate([longs, shorts]),
            widths,
            np.asarray(weights, dtype=np.float64),
            half_life_ms,
            uniform,
        )

    @property
    def rows(self) -> int:
        """Rows per side (tiers; 1 for the uniform baseline)."""
        return len(self.weights)

    def index(self, price: float) -> int:
        """The bucket holding ``price``."""
        return math.floor(math.log(price) / self.g)

    @functools.cached_property
    def long_weights(self) -> np.ndarray:
        """(2·J,) the tier weight on long rows, 0 on short rows (and the reverse below)."""
        return np.concatenate([self.weights, np.zeros(self.rows)])

    @functools.cached_property
    def short_weights(self) -> np.ndarray:
        return np.concatenate([np.zeros(self.rows), self.weights])

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        """0, 1, 2 … bucket offsets, enough for the widest deposit a bar can make (read-only,
        one array shared by the layouts of that many: every symbol's book has its layout)."""
        widest = math.log(MAX_BAR_RATIO) / self.g + float(self.widths.max())
        return _offsets(math.ceil(widest) + 3)

    @functools.cached_property
    def ratios(self) -> np.ndarray:
        """``e^(i·g)``: the price of bucket ``k+i`` over that of bucket ``k`` (read-only, shared
        like ``offsets``)."""
        return _ratios(len(self.offsets), self.g)

    @functools.cached_property
    def extreme_rows(self) -> tuple[int, int, int, int]:
        """The rows with the lowest and the highest levels, long side then short side."""
        j = self.rows
        longs, shorts = self.shifts[:j], self.shifts[j:]
        return (
            int(np.argmin(longs)),
            int(np.argmax(longs + self.widths[:j])),
            j + int(np.argmin(shorts)),
            j + int(np.argmax(shorts + self.widths[j:])),
        )


@functools.lru_cache(maxsize=16)
def _offsets(count: int) -> np.ndarray:
    out = np.arange(count)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _ratios(count: int, g: float) -> np.ndarray:
    out = np.exp(_offsets(count) * g)
    out.flags.writeable = False
    return out


class Placement(NamedTuple):
    """Where the contracts opened in a bar land (``rules.level_masses``): per contract opened
    on a side, the share of each row (tier) and bucket, and the USD at those levels."""

    buckets: np.ndarray  # (2·J, C) bucket index of each cell, long rows then short rows
    share: np.ndarray  # (2·J, C) tier weight × share of the row's contracts in the cell
    long_usd: float  # USD at the levels of one long contract opened in the bar
    short_usd: float
    ends: tuple[int, int, int, int]  # lowest and highest bucket used, long then short
    # ``buckets`` as indices into ``BookState.flat`` of the book whose ``row_base`` this is
    flat: np.ndarray | None = None
    flat_base: np.ndarray | None = None

    def own(self) -> Placement:
        """The same placement holding copies of its own cells: one of ``placements`` is a view
        into its whole chunk's arrays (up to 1,024 bars'), which it keeps alive."""
        flat = None if self.flat is None else self.flat.copy()
        return self._replace(buckets=self.buckets.copy(), share=self.share.copy(), flat=flat)


def placements(
    layout: Layout, low: np.ndarray, high: np.ndarray, row_base: np.ndarray | None = None
) -> list[Placement]:
    """The placement of every bar with these lows and highs (vectorised, in chunks); with a
    book's ``row_base``, also as indices into that book's ``flat`` (a run over series)."""
    out: list[Placement] = []
    for a in range(0, len(low), _CHUNK):
        lo, hi = np.log(low[a : a + _CHUNK]), np.log(high[a : a + _CHUNK])
        start, unit, count = rules.level_masses(lo, hi, layout.shifts, layout.widths, layout.g)
        width = unit.shape[2]
        share = unit * np.concatenate([layout.weights, layout.weights])[:, None]
        row_usd = (share @ layout.ratios[:width]) * np.exp((start + 0.5) * layout.g)
        j = layout.rows
        long_usd = row_usd[:, :j].sum(axis=1).tolist()
        short_usd = row_usd[:, j:].sum(axis=1).tolist()
        buckets = start[:, :, None] + layout.offsets[:width]
        ends = start[:, list(layout.extreme_rows)]
        ends[:, 1] += count - 1
        ends[:, 3] += count - 1
        flat = None if row_base is None else buckets + row_base
        for t, edge in enumerate(ends.tolist()):
            out.append(
                Placement(
                    buckets[t],
                    share[t],
                    long_usd[t],
                    short_usd[t],
                    tuple(edge),
                    None if flat is None else flat[t],
                    row_base,
                )
            )
    return out
