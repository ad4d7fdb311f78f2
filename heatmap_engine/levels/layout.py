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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from heatmap_engine.levels import rules
from heatmap_engine.levels.formula import Cohort

MAX_BAR_RATIO = 100.0  # a bar's high / low beyond this is refused as input (series.py)
CHUNK = 1024  # bars whose placements are computed at once


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


class PlacementChunk(NamedTuple):
    """Where the contracts opened in each of ``T`` bars land (``rules.level_masses``): per
    contract opened on a side, the share of each row (tier) and bucket, and the USD at those
    levels. Row ``t`` is bar ``t``'s; the rows are padded alike to ``C`` buckets."""

    start: np.ndarray  # (T, 2·J) int64: first bucket of each row's cells, long rows then short
    share: np.ndarray  # (T, 2·J, C) tier weight × share of the row's contracts in the cell
    long_usd: np.ndarray  # (T,) USD at the levels of one long contract opened in the bar
    short_usd: np.ndarray  # (T,)
    ends: np.ndarray  # (T, 4) int64: lowest and highest bucket used, long then short

    def rows(self, a: int, b: int) -> PlacementChunk:
        return PlacementChunk(*(column[a:b] for column in self))


class Placement(NamedTuple):
    """One bar's placement: row ``index`` of ``chunk``."""

    chunk: PlacementChunk
    index: int

    @property
    def buckets(self) -> np.ndarray:
        """(2·J, C) bucket index of each cell."""
        width = self.chunk.share.shape[2]
        return self.chunk.start[self.index][:, None] + np.arange(width)

    @property
    def share(self) -> np.ndarray:
        return self.chunk.share[self.index]

    @property
    def long_usd(self) -> float:
        return float(self.chunk.long_usd[self.index])

    @property
    def short_usd(self) -> float:
        return float(self.chunk.short_usd[self.index])

    @property
    def ends(self) -> tuple[int, int, int, int]:
        return tuple(self.chunk.ends[self.index].tolist())

    def own(self) -> Placement:
        """The same placement holding copies of its own row: one of ``placements`` is a row of
        its whole chunk's arrays (up to 1,024 bars'), which it keeps alive."""
        i = self.index
        return Placement(PlacementChunk(*(c[i : i + 1].copy() for c in self.chunk)), 0)


def stack(placed: Sequence[Placement]) -> PlacementChunk:
    """The placements of consecutive bars as one chunk: a slice of their chunk's arrays when
    they are its consecutive rows (a run over series), else copies padded to a common width."""
    first = placed[0]
    chunk, a = first.chunk, first.index
    if all(p.chunk is chunk for p in placed) and placed[-1].index - a == len(placed) - 1:
        return chunk.rows(a, a + len(placed))
    width = max(p.chunk.share.shape[2] for p in placed)
    share = np.zeros((len(placed), first.chunk.share.shape[1], width))
    for t, p in enumerate(placed):
        row = p.chunk.share[p.index]
        share[t, :, : row.shape[1]] = row
    return PlacementChunk(
        np.array([p.chunk.start[p.index] for p in placed], dtype=np.int64),
        share,
        np.array([p.chunk.long_usd[p.index] for p in placed]),
        np.array([p.chunk.short_usd[p.index] for p in placed]),
        np.array([p.chunk.ends[p.index] for p in placed], dtype=np.int64),
    )


def placements(layout: Layout, low: np.ndarray, high: np.ndarray) -> list[Placement]:
    """The placement of every bar with these lows and highs (vectorised, in chunks)."""
    return list(iter_placements(layout, low, high))


def iter_placements(layout: Layout, low: np.ndarray, high: np.ndarray) -> Iterator[Placement]:
    """``placements``, computed a chunk (``CHUNK`` bars) at a time as they are taken: a run
    over series holds one chunk's arrays at a time."""
    for a in range(0, len(low), CHUNK):
        lo, hi = np.log(low[a : a + CHUNK]), np.log(high[a : a + CHUNK])
        start, unit, count = rules.level_masses(lo, hi, layout.shifts, layout.widths, layout.g)
        width = unit.shape[2]
        share = unit * np.concatenate([layout.weights, layout.weights])[:, None]
        row_usd = (share @ layout.ratios[:width]) * np.exp((start + 0.5) * layout.g)
        j = layout.rows
        ends = start[:, list(layout.extreme_rows)]
        ends[:, 1] += count - 1
        ends[:, 3] += count - 1
        chunk = PlacementChunk(
            start,
            np.ascontiguousarray(share),
            row_usd[:, :j].sum(axis=1),
            row_usd[:, j:].sum(axis=1),
            np.ascontiguousarray(ends, dtype=np.int64),
        )
        yield from (Placement(chunk, t) for t in range(len(start)))
