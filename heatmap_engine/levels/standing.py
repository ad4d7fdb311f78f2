"""What stands on each side of the price in an estimated profile, as a trader reads it: the long
and short notional placed, and the nearest large level of each side (pure: a ``Profile`` in).

A *level* is a row of the profile (its price buckets, valued at the row's middle price). Longs
are liquidated below the price and shorts above it, so a long level counts only below the
price and a short level only above. A level is *large* when it holds at least
``LARGE_SHARE`` of the largest level of its side within ``REACH_PCT`` of the price; the
nearest large level is the large one closest to the price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heatmap_engine.levels.results import Profile

LARGE_SHARE = 0.5  # of the side's largest level within reach
REACH_PCT = 10.0  # levels further from the price than this are not looked at


@dataclass(frozen=True, slots=True)
class Level:
    price: float  # the row's middle price
    usd: float  # the side's notional standing there
    distance_pct: float  # from the price, positive


@dataclass(frozen=True, slots=True)
class Standing:
    price: float  # the price the sides are split at
    long_usd: float  # placed long notional below the price
    short_usd: float  # placed short notional above the price
    unknown_usd: float  # positions at unknown levels (both sides)
    unknown_share: float  # of all the notional (placed on either side, and unknown)
    nearest_long: Level | None  # the nearest large long level below the price
    nearest_short: Level | None  # the nearest large short level above the price


def standing(profile: Profile, price: float | None = None) -> Standing:
    """The sides of ``profile`` split at ``price`` (default: the profile's own, the close of
    the newest bar it has seen)."""
    price = profile.price if price is None else price
    mid = np.sqrt(profile.price_low * profile.price_high)
    below, above = mid <= price, mid > price
    unknown = float(profile.unknown_long_usd + profile.unknown_short_usd)
    everything = float(profile.long_usd.sum() + profile.short_usd.sum()) + unknown
    return Standing(
        price,
        float(profile.long_usd[below].sum()),
        float(profile.short_usd[above].sum()),
        unknown,
        unknown / everything if everything > 0 else 0.0,
        _nearest_large(mid, np.where(below, profile.long_usd, 0.0), price),
        _nearest_large(mid, np.where(above, profile.short_usd, 0.0), price),
    )


def _nearest_large(mid: np.ndarray, usd: np.ndarray, price: float) -> Level | None:
    distance = np.abs(mid / price - 1) * 100
    usd = np.where(distance <= REACH_PCT, usd, 0.0)
    largest = float(usd.max()) if len(usd) else 0.0
    if largest <= 0:
        return None
    large = np.flatnonzero(usd >= LARGE_SHARE * largest)
    i = int(large[np.argmin(distance[large])])
    return Level(float(mid[i]), float(usd[i]), float(distance[i]))
