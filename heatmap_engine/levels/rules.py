"""The rules of the estimated-levels model, one function each, in the order the method states
them (README, "How the estimated levels are made"). ``heatmap_engine.levels.book`` applies them
bar by bar; every figure the model prints comes out of these functions.

What the book represents: every contract of open interest has a long and a short holder. The
book holds, for every contract, the holder who *took liquidity* to open it: the taker is the
leveraged trader who may be liquidated, the maker (a market maker, a basis trader) is taken to be
hedged and never liquidated. So the long side plus the short side of the book equals the open
interest (in contracts), and the side split of new positions is the bar's taker-buy share.
"""

from __future__ import annotations

import math

import numpy as np

# ---- 1. opening: a change in open interest, spread over the bars it happened in --------------

SPREAD_RULE = (
    "a change of open interest between two readings is spread over the bars that close between "
    "them in proportion to each bar's volume (its high-low range relative to its close when "
    "volume is unknown, equally when every range is zero); a rise opens new positions inside "
    "each bar's high-low range, spread evenly (in log price) from the low to the high, after "
    "the bar's liquidations: opened = rise + what the bar liquidated"
)


def bar_weights(volume: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray):
    """Each bar's share of a change in open interest over a group of bars (sums to 1)."""
    if len(volume) and np.all(np.isfinite(volume)) and volume.sum() > 0:
        weights = volume.astype(np.float64)
    else:
        weights = (high - low) / close
        if not weights.sum() > 0:
            weights = np.ones(len(close))
    return weights / weights.sum()


def level_masses(
    log_low: np.ndarray, log_high: np.ndarray, shifts: np.ndarray, widths: np.ndarray, g: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where one unit of each row's opened contracts lies over price buckets, for ``T`` bars.

    Entries are spread evenly in log price over each bar's ``[low, high]``; a row's levels are
    its entries times its liquidation factor (``shifts`` = log factor in buckets of log-width
    ``g``), plus an even spread of ``widths`` buckets for the uniform baseline (0 for a leverage
    tier). Returns the first bucket per bar and row ``(T, R)``, the masses over ``C``
    consecutive buckets from there ``(T, R, C)`` (each row sums to 1) and the buckets each bar
    really uses ``(T,)``.
    """
    first = shifts + (log_low / g)[:, None]  # lowest level, in bucket units
    span = (log_high - log_low) / g
    start = np.floor(first)
    count = np.ceil(span + widths.max()).astype(np.int64) + 1
    edges = (start - first)[:, :, None] + np.arange(count.max() + 1.0)
    cdf = _spread_cdf(edges, span[:, None, None], widths[:, None])
    return start.astype(np.int64), cdf[:, :, 1:] - cdf[:, :, :-1], count


def _spread_cdf(y: np.ndarray, span: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """CDF of the sum of an even spread over ``span`` and one over ``widths`` (broadcast)."""
    if not widths.any():  # a zero span (high = low) is a step at 0: all in one bucket
        y /= np.maximum(span, 1e-12)
        return np.clip(y, 0.0, 1.0, out=y)
    a, b = np.minimum(span, widths), np.maximum(span, widths)
    y = np.clip(y, 0.0, a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(a > 0, y * y / (2 * a * b), 0.0)
        fall = np.where(a > 0, 1.0 - (a + b - y) ** 2 / (2 * a * b), 1.0)
        flat = (2 * y - a) / (2 * b)
    return np.where(y <= a, rise, np.where(y <= b, flat, fall))


# ---- 2. side split ---------------------------------------------------------------------------

SIDE_RULE = (
    "each contract has one leveraged holder in the book, the taker who opened it: of what a bar "
    "opens, the taker-buy share of its volume becomes longs and the rest shorts; of what it "
    "closes, the taker-sell share is longs and the rest shorts; without taker volume both are "
    "split evenly (0.5)"
)
UNKNOWN_SHARE = 0.5


def taker_buy_share(volume: float, taker_buy_volume: float) -> float:
    """The bar's taker-buy share of volume, or 0.5 when either is unknown or volume is 0."""
    if volume > 0 and 0 <= taker_buy_volume <= volume:  # NaN fails both comparisons
        return taker_buy_volume / volume
    return UNKNOWN_SHARE


# ---- 3./4. leverage tiers and the liquidation price: heatmap_engine.levels.formula ----------

# ---- 5. closing ------------------------------------------------------------------------------

CLOSING_RULE = (
    "a fall of open interest not explained by the bar's own liquidations closes standing "
    "positions: longs take the taker-sell share of it and shorts the rest (a side short of "
    "standing positions passes the excess to the other), and within a side every level, tier "
    "and the positions at unknown levels lose the same fraction"
)


def closing_split(closes: float, buy_share: float, long_standing: float, short_standing: float):
    """(long, short) contracts closed of ``closes``; never more than a side has."""
    long_closed = min(closes * (1.0 - buy_share), long_standing)
    short_closed = min(closes - long_closed, short_standing)
    long_closed = min(closes - short_closed, long_standing)
    return long_closed, short_closed


# ---- 6. consumption --------------------------------------------------------------------------

SWEEP_RULE = (
    "a level is consumed, and its notional counted as that bar's predicted liquidations, when "
    "price trades through it: long levels at or above the bar's low, short levels at or below "
    "its high (a bucket's levels sit at its middle price); each bar's range is extended to the "
    "previous close, so a jump across a candle gap sweeps what it passes; levels opened in a bar "
    "can be consumed from the next bar on"
)


def long_sweep_from(low: float, g: float) -> int:
    """First bucket index whose middle price is at or above ``low``."""
    return math.ceil(math.log(low) / g - 0.5)


def short_sweep_to(high: float, g: float) -> int:
    """Last bucket index whose middle price is at or below ``high``."""
    return math.floor(math.log(high) / g - 0.5)


# ---- 7. decay --------------------------------------------------------------------------------

DECAY_RULE = (
    "standing positions close unseen (opens and closes that cancel within a reading): every "
    "level and the positions at unknown levels lose 1 - 2^(-t / half-life) over t, and the same "
    "contracts re-open inside the bar's range (turnover), so decay moves notional from old "
    "levels to new ones and leaves open interest unchanged"
)


def decay_fraction(elapsed_ms: float, half_life_ms: float) -> float:
    """The share of standing positions that closes over ``elapsed_ms``."""
    if not math.isfinite(half_life_ms) or elapsed_ms <= 0:
        return 0.0
    return 1.0 - 2.0 ** (-elapsed_ms / half_life_ms)


# ---- 8. calibration --------------------------------------------------------------------------

CALIBRATION_RULE = (
    "the book plus the positions at unknown levels equals the reported open interest in "
    "contracts after every reading: the first reading is all at unknown levels (half long, half "
    "short), and each bar opens its rise plus its own liquidations, or closes its fall less "
    "them; across a gap between readings longer than the gap limit, bars change nothing and the "
    "change over the gap is put at unknown levels (a rise) or closed pro rata (a fall)"
)


def net_flow(oi_change: float, liquidated: float) -> float:
    """Contracts opened (> 0) or closed (< 0) by choice in a bar: its change of open interest
    plus what the bar liquidated (liquidations lowered open interest by themselves)."""
    return oi_change + liquidated
