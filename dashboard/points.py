"""Realized liquidations as columns (numpy), the form the time × price view and the map read.

A day of a busy symbol is tens of thousands of rows: columns let the views merge and bucket them
in a few milliseconds, where one Python object per liquidation would take hundreds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from heatmap_engine.clusters import SIDE_CODES
from heatmap_engine.models import Cluster, Liquidation

_ROW = np.dtype(
    [("time", "i8"), ("price", "f8"), ("notional", "f8"), ("side", "i1"), ("quantity", "f8")]
)


def rows_table(rows: Sequence[tuple]) -> np.ndarray:
    """Store rows as one structured array (what ``Points.from_tables`` joins)."""
    return np.array([row[:5] for row in rows], dtype=_ROW)


@dataclass(frozen=True, slots=True)
class Points:
    """Trade time (ms), price, USD notional, side code (0 long, 1 short), quantity, count."""

    times: np.ndarray
    prices: np.ndarray
    notionals: np.ndarray
    sides: np.ndarray
    quantities: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def build(cls, times, prices, notionals, sides, quantities, counts=None) -> Points:
        times = np.asarray(times, dtype=np.int64)
        return cls(
            times,
            np.asarray(prices, dtype=np.float64),
            np.asarray(notionals, dtype=np.float64),
            np.asarray(sides, dtype=np.int8),
            np.asarray(quantities, dtype=np.float64),
            np.ones(len(times), dtype=np.int64) if counts is None else np.asarray(counts),
        )

    @classmethod
    def empty(cls) -> Points:
        return cls.build([], [], [], [], [])

    @classmethod
    def from_liquidations(cls, liqs: Sequence[Liquidation]) -> Points:
        return cls.build(
            [x.event_time_ms for x in liqs],
            [x.price for x in liqs],
            [x.notional_usd for x in liqs],
            [SIDE_CODES[x.liquidated_side] for x in liqs],
            [x.quantity for x in liqs],
        )

    @classmethod
    def from_rows(cls, rows: Sequence[tuple], end_ms: int | None = None) -> Points:
        """The history store's compact rows: (time, price, notional, side code, quantity, ...),
        up to ``end_ms``."""
        return cls.from_tables([rows_table(rows)], end_ms)

    @classmethod
    def from_tables(cls, tables: Sequence[np.ndarray], end_ms: int | None = None) -> Points:
        """Several ``rows_table`` results (in time order) as one set of points."""
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        table = np.concatenate(tables) if len(tables) > 1 else tables[0]
        if end_ms is not None:
            table = table[table["time"] <= end_ms]
        return cls.build(
            table["time"], table["price"], table["notional"], table["side"], table["quantity"]
        )

    @classmethod
    def from_clusters(cls, clusters: Iterable[Cluster]) -> Points:
        """One point per cluster (its level, total notional and count): what is known when no
        history is kept."""
        clusters = list(clusters)
        return cls.build(
            [c.last_updated_ms for c in clusters],
            [c.price_level for c in clusters],
            [c.total_notional for c in clusters],
            [SIDE_CODES[c.side] for c in clusters],
            [0.0] * len(clusters),
            [c.liquidation_count for c in clusters],
        )

    def of_side(self, side: str) -> Points:
        keep = self.sides == SIDE_CODES[side]
        return Points(*(column[keep] for column in self._columns()))

    def between(self, start_ms: int, end_ms: int) -> Points:
        """The points of ``[start_ms, end_ms]``."""
        keep = (self.times >= start_ms) & (self.times <= end_ms)
        return Points(*(column[keep] for column in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.times, self.prices, self.notionals, self.sides, self.quantities, self.counts)


def merge(points: Points, interval_ms: int, price_step: float) -> Points:
    """One point per side, time bucket and logarithmic price step: notional, count and quantity
    summed, price notional-weighted, time at the bucket's middle."""
    if not len(points):
        return points
    buckets = points.times // interval_ms
    cells = np.floor(np.log(points.prices) / np.log1p(price_step)).astype(np.int64)
    span = int(cells.max() - cells.min()) + 1
    keys = ((buckets - buckets.min()) * span + (cells - cells.min())) * 2 + points.sides
    unique, inverse = np.unique(keys, return_inverse=True)
    notional = np.bincount(inverse, weights=points.notionals)
    weighted = np.bincount(inverse, weights=points.notionals * points.prices)
    plain = np.bincount(inverse, weights=points.prices) / np.bincount(inverse)
    prices = np.divide(weighted, notional, out=plain, where=notional > 0)
    bucket = (unique // 2) // span + buckets.min()
    return Points.build(
        bucket * interval_ms + interval_ms // 2,
        prices,
        notional,
        unique % 2,
        np.bincount(inverse, weights=points.quantities),
        np.bincount(inverse, weights=points.counts).astype(np.int64),
    )


def at_most(points: Points, limit: int, interval_ms: int, first_step: float = 0.001) -> Points:
    """``points`` as they are when there are at most ``limit``; else merged on a price step that
    widens until at most ``limit`` remain."""
    step, merged = first_step, points
    while len(merged) > limit and step < 1.0:
        merged = merge(points, interval_ms, step)
        step *= max(2.0, len(merged) / limit)
    return merged
