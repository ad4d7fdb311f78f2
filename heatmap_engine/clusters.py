"""Pure clustering, decay and grid functions (numpy in, immutable Clusters out).

The definition, also printed in the README ("How clusters are made"):

* **Window and decay.** A liquidation of age ``a`` (now minus its exchange trade time) has weight
  ``w = 1 - a / T`` where ``T`` is ``time_decay_minutes``; events with ``a >= T`` have weight 0 and
  leave memory. A (clock-skewed) event from the future counts as age 0.
* **Price cells.** Prices are binned on a logarithmic grid whose cells are ``cluster_window_pct``
  wide: cell ``k`` covers ``[(1+p)^k, (1+p)^(k+1))``. The grid is fixed, so a cluster keeps its
  cell (and its ``cluster_id``) across refreshes while events come and go.
* **Clusters.** Per side (``long`` = longs liquidated, ``short`` = shorts liquidated) and cell, the
  events in the window form a cluster when there are at least ``min_cluster_size`` of them.
* ``liquidation_count`` and ``total_notional`` are the plain (undecayed) count and USD notional of
  those events; ``weighted_notional`` is ``sum(w * notional)``.
* ``price_level`` is the decay-and-notional weighted mean price ``sum(w*n*p) / sum(w*n)``.
* ``strength`` is ``weighted_notional`` divided by the largest ``weighted_notional`` among the
  symbol's clusters (both sides): the strongest cluster is 1.0, and a cluster fades as it ages.
* ``distance_from_price`` is ``|price_level - current_price| / current_price * 100`` (percent), or
  None while no current price is known.
* ``cluster_id`` is ``2 * (k + 100000) + s`` with ``s`` 0 for long and 1 for short: a stable
  integer.
* ``last_updated`` is the trade time of the newest liquidation in the cluster.

Clusters are ordered by cell from the highest price down, long before short within a cell, so the
order never depends on the order in which events arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heatmap_engine.models import LONG, SHORT, Cluster

CELL_OFFSET = 100_000
SIDE_CODES = {LONG: 0, SHORT: 1}
SIDE_NAMES = (LONG, SHORT)


@dataclass(frozen=True, slots=True)
class ClusterParams:
    window_pct: float = 0.02
    min_cluster_size: int = 5
    decay_window_ms: int = 3_600_000


def cell_index(prices: np.ndarray, window_pct: float) -> np.ndarray:
    """Grid cell of each price on the logarithmic grid of width ``window_pct``."""
    return np.floor(np.log(prices) / math.log1p(window_pct)).astype(np.int64)


def cell_bounds(cell: int, window_pct: float) -> tuple[float, float]:
    step = 1.0 + window_pct
    return step**cell, step ** (cell + 1)


def cluster_id(cell: int, side_code: int) -> int:
    return 2 * (int(cell) + CELL_OFFSET) + int(side_code)


def decay_weights(ages_ms: np.ndarray, decay_window_ms: int) -> np.ndarray:
    """``1 - age/T`` clipped to [0, 1]: monotone non-increasing in age, 0 at and beyond ``T``."""
    ages = np.maximum(ages_ms, 0).astype(np.float64)
    return np.clip(1.0 - ages / float(decay_window_ms), 0.0, 1.0)


def compute_clusters(
    times_ms: np.ndarray,
    prices: np.ndarray,
    notionals: np.ndarray,
    side_codes: np.ndarray,
    now_ms: int,
    current_price: float | None,
    params: ClusterParams,
) -> tuple[Cluster, ...]:
    """Clusters of one symbol from its events (parallel arrays, any order)."""
    columns = [(times_ms, prices, notionals, side_codes)]
    return compute_many_clusters(columns, now_ms, [current_price], params)[0]


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def compute_many_clusters(
    symbols: Sequence[Columns],
    now_ms: int,
    current_prices: Sequence[float | None],
    params: ClusterParams,
) -> list[tuple[Cluster, ...]]:
    """``compute_clusters`` of several symbols at once, one result per symbol in their order:
    the numpy work over all their events together (a refresh of 570 symbols would otherwise
    pay numpy's call overhead ~20 times per symbol). Each symbol's figures are its own: a
    cluster's events are one symbol's, summed in that symbol's order, as alone."""
    out: list[tuple[Cluster, ...]] = [()] * len(symbols)
    lengths = [len(columns[0]) for columns in symbols]
    if not sum(lengths):
        return out
    times_ms, prices, notionals, side_codes = (
        np.concatenate([columns[i] for columns in symbols]) for i in range(4)
    )
    owner = np.repeat(np.arange(len(symbols)), lengths)
    weights = decay_weights(now_ms - times_ms, params.decay_window_ms)
    live = weights > 0.0
    if not live.all():
        times_ms, prices, notionals = times_ms[live], prices[live], notionals[live]
        side_codes, weights, owner = side_codes[live], weights[live], owner[live]
        if len(times_ms) == 0:
            return out
    cells = cell_index(prices, params.window_pct)
    keys = cells * 2 + side_codes.astype(np.int64)
    lowest = int(keys.min())
    span = int(keys.max()) - lowest + 1  # a symbol's keys, then the next symbol's
    unique_keys, inverse, counts = np.unique(
        owner * span + (keys - lowest), return_inverse=True, return_counts=True
    )
    keep = counts >= params.min_cluster_size
    if not keep.any():
        return out
    n = len(unique_keys)
    wn = weights * notionals
    total = np.bincount(inverse, weights=notionals, minlength=n)
    weighted = np.bincount(inverse, weights=wn, minlength=n)
    weighted_price = np.bincount(inverse, weights=wn * prices, minlength=n)
    newest = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest, inverse, times_ms.astype(np.int64))
    kept = np.flatnonzero(keep)
    symbol_of = unique_keys[kept] // span
    strongest = np.zeros(len(symbols))
    np.maximum.at(strongest, symbol_of, weighted[kept])  # weighted >= 0: 0 is no cluster
    rows = zip(
        symbol_of.tolist(),
        (unique_keys[kept] % span + lowest).tolist(),
        counts[kept].tolist(),
        total[kept].tolist(),
        weighted[kept].tolist(),
        weighted_price[kept].tolist(),
        newest[kept].tolist(),
        strict=True,
    )
    found: dict[int, list[Cluster]] = {}
    for symbol, key, count, notional, weight, weight_price, last in rows:
        cell, side_code = divmod(key, 2)
        level = weight_price / weight if weight > 0 else float("nan")
        low, high = cell_bounds(cell, params.window_pct)
        current, strong = current_prices[symbol], float(strongest[symbol])
        distance = abs(level - current) / current * 100.0 if current and current > 0 else None
        found.setdefault(symbol, []).append(
            Cluster(
                cluster_id=cluster_id(cell, side_code),
                side=SIDE_NAMES[side_code],
                price_level=level,
                liquidation_count=count,
                total_notional=notional,
                weighted_notional=weight,
                strength=weight / strong if strong > 0 else 0.0,
                distance_from_price=distance,
                last_updated_ms=last,
                price_low=low,
                price_high=high,
            )
        )
    for symbol, clusters in found.items():
        # from the highest cell down, long before short within a cell
        clusters.sort(key=lambda c: (-(c.cluster_id // 2), c.cluster_id % 2))
        out[symbol] = tuple(clusters)
    return out
