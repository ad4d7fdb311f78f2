"""What a run of the model hands to readers: immutable results, all in USD (numpy arrays that are
never written after they are built; JSON shapes belong to the API layer, ``api.levels_payload``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    """The standing book at one time, per price bucket (ascending), side and tier.

    A bucket's levels are valued at its middle price. The cumulative curves run outward from
    the price: ``cumulative_long_usd`` of a bucket below the price is the long notional standing
    between it and the price (NaN above the price), ``cumulative_short_usd`` the same for short
    notional above the price (NaN below). Positions at unknown levels are valued at the price.
    """

    price: float
    time_ms: int
    price_low: np.ndarray
    price_high: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    tiers: tuple[str, ...]
    tier_long_usd: np.ndarray  # (tiers, buckets)
    tier_short_usd: np.ndarray
    cumulative_long_usd: np.ndarray
    cumulative_short_usd: np.ndarray
    unknown_long_usd: float
    unknown_short_usd: float


@dataclass(frozen=True)
class Grid:
    """Time × price: for each time column, the notional standing per price row and side at the
    end of the column (after its last bar); the candles of the same columns."""

    column_ms: int
    time_ms: np.ndarray  # (columns,) column open times
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # NaN where unknown
    price_low: np.ndarray  # (rows,) ascending
    price_high: np.ndarray
    long_usd: np.ndarray  # (columns, rows)
    short_usd: np.ndarray
    # (columns, 2 sides, tiers, rows) uint8: each tier's share of a side's cell, in 255ths
    tier_share: np.ndarray | None = None

    def tier_usd(self, side: int) -> np.ndarray:
        """(columns, tiers, rows): a side's (0 long, 1 short) cells split by leverage tier."""
        usd = self.long_usd if side == 0 else self.short_usd
        return self.tier_share[:, side].astype(np.float64) / 255.0 * usd[:, None, :]

    @property
    def price_mid(self) -> np.ndarray:
        return np.sqrt(self.price_low * self.price_high)


@dataclass(frozen=True)
class Predictions:
    """Predicted liquidation volume per bar (the levels each bar consumed), oldest first."""

    open_ms: np.ndarray
    long_usd: np.ndarray
    short_usd: np.ndarray
    committed: np.ndarray  # False for bars after the last open-interest reading (may change)


@dataclass(frozen=True)
class BookSnapshot:
    """What readers of a live book take: the profile now and the kept bars' predictions."""

    time_ms: int  # end of the newest bar
    price: float  # its close
    profile: Profile
    predictions: Predictions  # oldest first; the bars after the last reading are provisional
    unknown_share: float  # open interest at unknown levels
    pending_bars: int


@dataclass(frozen=True)
class TierInfo:
    """One leverage tier as the run used it."""

    label: str
    leverage: float
    effective_leverage: float
    weight: float
    long_mmr: float
    long_cum_usd: float
    short_mmr: float
    short_cum_usd: float
    long_distance_pct: float  # (LP − entry) / entry, percent (negative)
    short_distance_pct: float


@dataclass(frozen=True)
class Assumptions:
    """Every assumption behind a result, as data (``rules`` holds the plain-word statements)."""

    symbol: str | None
    preset: str
    tiers: tuple[TierInfo, ...]
    formula: str
    placement: str
    position_usd: float
    half_life_hours: float
    bucket_pct: float
    row_buckets: int  # model buckets per grid/profile row
    oi_gap_minutes: float
    warmup_hours: float
    brackets_source: str
    brackets_as_of: str
    brackets_listed: bool  # False: the symbol is not in the table, its default was used
    rules: tuple[tuple[str, str], ...]  # (name, statement)
    candle_interval_ms: int
    candles_used: int
    readings_used: int
    readings_cadence_ms: int | None
    volume_known: bool
    taker_buy_known: bool


@dataclass(frozen=True)
class Gap:
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class DataQuality:
    """How well the data covers the range, and what the model could not see."""

    range_start_ms: int
    range_end_ms: int
    candle_gaps: tuple[Gap, ...]
    open_interest_gaps: tuple[Gap, ...]  # waits longer than twice the usual cadence
    candle_coverage: float  # share of the range covered by candles
    open_interest_coverage: float  # share covered by readings no further apart than that
    warmup_hours: float  # data before the range that built the book
    unknown_share_start: float  # open interest at unknown levels at the range start
    unknown_share_end: float
    provisional_bars: int  # bars after the last reading (their predictions may change)
    bars_before_open_interest: int
    gaps_at_unknown_levels: int  # gaps longer than the limit, applied at unknown levels
    notes: tuple[str, ...]


@dataclass(frozen=True)
class LevelsResult:
    """One run of the model for one symbol: range ``[at − range, at]``."""

    symbol: str | None
    at_ms: int
    range_ms: int
    range_name: str
    grid: Grid
    predictions: Predictions
    profile: Profile
    assumptions: Assumptions
    quality: DataQuality
