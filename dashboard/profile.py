"""The estimated profile on the liquidation map: the standing book now per price bucket, stacked
by leverage tier, long below the price and short above, with cumulative curves (pure).

The model's profile rows (0.1 % buckets grouped for its grid) are joined into at most
``MAX_BUCKETS`` buckets over the prices that hold almost all of the notional (``KEEP_SHARE``
of it, centred on the price), summing each tier. A long level above the price or a short
level below it (none stands there unless price moved inside the last bar) is left off the bars
and counted in the note. Cumulative curves run outward from the price, as on the realized map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard import theme
from heatmap_engine.levels.results import Profile

MAX_BUCKETS = 80
KEEP_SHARE = 0.995  # of the standing notional: the tails beyond are left off the chart
# one colour per tier, low leverage dark to high leverage bright (cividis-like: apart from the
# realized sides' red and green)
TIER_COLOURS = ("#2c3e73", "#3f5f8f", "#6f7f7a", "#b3a25a", "#f2d64b", "#ffe98a", "#fff4c2")


@dataclass(frozen=True)
class ProfileBars:
    """Buckets (ascending) with the USD per tier of the side that stands there."""

    price: float
    low: np.ndarray
    high: np.ndarray
    tiers: tuple[str, ...]
    long_tiers: np.ndarray  # (tiers, buckets): long notional, 0 above the price
    short_tiers: np.ndarray  # 0 below the price
    off_side_usd: float  # long above / short below the price, left off
    unknown_usd: float  # positions at unknown levels (the model did not see them open)

    @property
    def mid(self) -> np.ndarray:
        return np.sqrt(self.low * self.high)

    @property
    def long_usd(self) -> np.ndarray:
        return self.long_tiers.sum(axis=0)

    @property
    def short_usd(self) -> np.ndarray:
        return self.short_tiers.sum(axis=0)


def _window(profile: Profile) -> tuple[int, int]:
    """First and last row of the prices holding ``KEEP_SHARE`` of the notional."""
    total = profile.long_usd + profile.short_usd
    if total.sum() <= 0:
        return 0, len(total) - 1
    cum = np.cumsum(total) / total.sum()
    tail = (1 - KEEP_SHARE) / 2
    first = int(np.searchsorted(cum, tail))
    last = int(np.searchsorted(cum, 1 - tail))
    return first, min(last, len(total) - 1)


def profile_bars(profile: Profile, max_buckets: int = MAX_BUCKETS) -> ProfileBars:
    first, last = _window(profile)
    size = max(1, math.ceil((last - first + 1) / max_buckets))
    starts = np.arange(first, last + 1, size)
    ends = np.minimum(starts + size, last + 1) - 1

    def join(usd: np.ndarray) -> np.ndarray:
        return np.add.reduceat(usd[:, first : last + 1], starts - first, axis=1)

    low, high = profile.price_low[starts], profile.price_high[ends]
    mid = np.sqrt(low * high)
    below, above = mid <= profile.price, mid > profile.price
    longs, shorts = join(profile.tier_long_usd), join(profile.tier_short_usd)
    off_side = (longs * above).sum() + (shorts * below).sum()
    return ProfileBars(
        profile.price,
        low,
        high,
        profile.tiers,
        longs * below,
        shorts * above,
        float(off_side),
        float(profile.unknown_long_usd + profile.unknown_short_usd),
    )


def cumulative(bars: ProfileBars) -> tuple[tuple[list, list], tuple[list, list]]:
    """(x, y) of the estimated long curve (price downward) and short curve (price upward)."""
    mid, price = bars.mid, bars.price
    below = np.flatnonzero(mid <= price)[::-1]
    above = np.flatnonzero(mid > price)
    long_y = np.r_[0.0, np.cumsum(bars.long_usd[below])]
    short_y = np.r_[0.0, np.cumsum(bars.short_usd[above])]
    return (
        ([price, *mid[below].tolist()], long_y.tolist()),
        ([price, *mid[above].tolist()], short_y.tolist()),
    )


def tier_traces(bars: ProfileBars, decimals: int) -> list[dict[str, Any]]:
    """One stacked bar trace per tier and side (a tier's two sides share its colour and its
    legend entry)."""
    traces = []
    width = ((bars.high - bars.low) * 0.92).tolist()
    for t, name in enumerate(bars.tiers):
        colour = TIER_COLOURS[min(t, len(TIER_COLOURS) - 1)]
        for side, values in (("long", bars.long_tiers[t]), ("short", bars.short_tiers[t])):
            keep = values > 0
            traces.append({
                "type": "bar", "name": f"{name} est.", "legendgroup": f"tier-{name}",
                "showlegend": side == "long", "x": bars.mid[keep].tolist(),
                "y": np.round(values[keep], 2).tolist(),
                "width": [w for w, k in zip(width, keep.tolist(), strict=True) if k],
                "marker": {"color": colour, "line": {"width": 0}},
                "hovertemplate": f"<b>Estimated {side}s, {name}</b><br>%{{x:,.{decimals}f}}"
                                 "<br>%{y:$,.3~s} standing<extra></extra>",
            })  # fmt: skip
    return traces


def curve_traces(bars: ProfileBars) -> list[dict[str, Any]]:
    return [_curve(side, xy) for side, xy in zip(("long", "short"), cumulative(bars), strict=True)]


def _curve(side: str, xy: tuple[list, list]) -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "lines", "name": f"Cum. {side}",
        "x": xy[0], "y": xy[1], "yaxis": "y2",
        "line": {"color": theme.SIDE_COLOR[side], "width": 2, "shape": "hv"},
        "text": [theme.fmt_usd(y) if y == y and y is not None else "" for y in xy[1]],  # B, not G
        "hovertemplate": f"Estimated {side}s within reach: %{{text}}<extra></extra>",
    }  # fmt: skip


def profile_note(bars: ProfileBars) -> str | None:
    """What the bars leave out: positions at unknown levels, levels on the wrong side."""
    parts = []
    if bars.unknown_usd > 0:
        parts.append(f"{theme.fmt_usd(bars.unknown_usd)} at unknown levels")
    if bars.off_side_usd > 0:
        parts.append(f"{theme.fmt_usd(bars.off_side_usd)} on the far side of the price")
    return "Not on the bars: " + "<br>".join(parts) if parts else None
