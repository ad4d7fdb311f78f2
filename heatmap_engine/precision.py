"""The precision the engine publishes, applied when a Snapshot is built (``Snapshot``'s own
``__post_init__``), so the live engine and the heatmap at a past time publish alike, and what
the engine compares to decide whether a snapshot changed is exactly what readers receive:

* prices (``current_price``, ``price_level``): 6 significant digits (90,123.4 / 3,012.55 /
  0.0118234), finer than the price cells and about Binance's tick;
* ``distance_from_price``: computed from those published prices (so it moves only when one
  of them does);
* decayed figures, which otherwise change with every refresh: ``strength`` to 4 decimals,
  ``weighted_notional`` to the cent.

Undecayed figures (``total_notional``, ``notional_in_window``, counts) and the cell bounds are
exact: they change only when a liquidation enters or leaves the window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heatmap_engine.models import Cluster

PRICE_DIGITS = 6
STRENGTH_DECIMALS = 4
USD_DECIMALS = 2


def price(value: float | None) -> float | None:
    """``value`` to ``PRICE_DIGITS`` significant digits (None, 0 and non-finite unchanged)."""
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, PRICE_DIGITS - 1 - math.floor(math.log10(abs(value))))


def distance(level: float, current: float | None) -> float | None:
    """``|level - current| / current`` in percent, or None without a usable price."""
    if current is None or current <= 0 or not math.isfinite(level):
        return None
    return abs(level - current) / current * 100.0


def published_cluster(cluster: Cluster, current_price: float | None) -> Cluster:
    """``cluster`` as readers receive it; ``current_price`` is the published one. (Built with
    the constructor, not ``dataclasses.replace``: this runs for every cluster on every refresh.)"""
    level = price(cluster.price_level)
    return type(cluster)(
        cluster.cluster_id,
        cluster.side,
        level,
        cluster.liquidation_count,
        cluster.total_notional,
        round(cluster.weighted_notional, USD_DECIMALS),
        round(cluster.strength, STRENGTH_DECIMALS),
        distance(level, current_price),
        cluster.last_updated_ms,
        cluster.price_low,
        cluster.price_high,
    )
