"""The precision the engine publishes, applied once when a Cluster or Snapshot is built.

What a reader receives is exactly what the engine compares when it decides whether a symbol's
snapshot changed, so ``version`` (and every ETag derived from it) moves only when something a
reader can see moved at this precision:

* prices (``price_level``, ``current_price``, ``price_low``, ``price_high``): 6 significant
  digits (90,123.4 / 3,012.55 / 0.0118234), finer than the price cells, about Binance's tick;
* ``distance_from_price``: percent with 3 decimals (0.001 % of the price), computed from the
  published prices, so it never moves while both prices stand still;
* ``strength``: 4 decimals;
* USD figures (``total_notional``, ``weighted_notional``, ``notional_in_window``): to the cent.
"""

from __future__ import annotations

import dataclasses
import math

from heatmap_engine.models import Cluster

PRICE_DIGITS = 6
DISTANCE_DECIMALS = 3
STRENGTH_DECIMALS = 4
USD_DECIMALS = 2


def price(value: float | None) -> float | None:
    """``value`` to ``PRICE_DIGITS`` significant digits (None, 0 and non-finite unchanged)."""
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, PRICE_DIGITS - 1 - math.floor(math.log10(abs(value))))


def usd(value: float) -> float:
    return round(value, USD_DECIMALS)


def distance(level: float | None, current: float | None) -> float | None:
    """``|level - current| / current`` in percent, from published prices, or None."""
    if level is None or not current or current <= 0 or not math.isfinite(level):
        return None
    return round(abs(level - current) / current * 100.0, DISTANCE_DECIMALS)


def published_cluster(cluster: Cluster, current_price: float | None) -> Cluster:
    """``cluster`` as readers receive it; ``current_price`` must already be published."""
    level = price(cluster.price_level)
    return dataclasses.replace(
        cluster,
        price_level=level,
        total_notional=usd(cluster.total_notional),
        weighted_notional=usd(cluster.weighted_notional),
        strength=round(cluster.strength, STRENGTH_DECIMALS),
        distance_from_price=distance(level, current_price),
        price_low=price(cluster.price_low),
        price_high=price(cluster.price_high),
    )
