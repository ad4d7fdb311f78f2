"""The model's inputs as columns: candles of one interval (1m to 4h) and open-interest readings.

Candles carry open time, OHLC and, where known, volume and taker-buy volume (base units; NaN
when unknown: the model then weighs bars by their range and splits sides evenly, see
``heatmap_engine.levels.rules``). Open interest is held in contracts (base units): a reading in
USD is divided by the price at its time (the close of the last bar that ended by then, else the
open of the first bar), since a USD figure also moves with the price when no position changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.levels.layout import MAX_BAR_RATIO
from heatmap_engine.levels.state import Bar
from heatmap_engine.models import Candle, OpenInterest

MODEL_INTERVALS = {name: ms for name, ms in INTERVAL_MS.items() if ms <= 4 * 3_600_000}


class LevelsInputError(ValueError):
    """Input the model cannot use; the message says what is wrong in one line."""


def interval_name(ms: int) -> str:
    return next((name for name, step in MODEL_INTERVALS.items() if step == ms), f"{ms} ms")


def infer_interval(open_ms: np.ndarray) -> int:
    """The bar interval: the most common step between consecutive open times (1m to 4h)."""
    if len(open_ms) < 2:
        raise LevelsInputError("at least two candles are needed to infer the bar interval")
    steps, counts = np.unique(np.diff(open_ms), return_counts=True)
    step = int(steps[np.argmax(counts)])
    if step not in MODEL_INTERVALS.values():
        allowed = ", ".join(MODEL_INTERVALS)
        raise LevelsInputError(f"candles are {step} ms apart; the bar interval must be {allowed}")
    return step


@dataclass(frozen=True)
class Bars:
    """Candles of one symbol and interval, ascending by open time, no duplicates."""

    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # NaN where unknown
    taker_buy_volume: np.ndarray  # NaN where unknown
    interval_ms: int

    @classmethod
    def build(cls, open_ms, o, h, lo, c, volume=None, taker_buy=None, interval_ms=None) -> Bars:
        """Validated, sorted and de-duplicated (the last row of an open time wins)."""
        open_ms = np.asarray(open_ms, dtype=np.int64)
        n = len(open_ms)
        cols = [np.asarray(x, dtype=np.float64) for x in (o, h, lo, c)]
        extra = [
            np.full(n, np.nan) if x is None else np.asarray(x, dtype=np.float64)
            for x in (volume, taker_buy)
        ]
        _, last = np.unique(open_ms[::-1], return_index=True)
        order = n - 1 - last  # the last row of each open time, ascending by open time
        open_ms, cols, extra = open_ms[order], [x[order] for x in cols], [x[order] for x in extra]
        o, h, lo, c = cols
        if not (np.all(np.isfinite(cols)) and np.all(np.array(cols) > 0)):
            raise LevelsInputError("candle prices must be positive numbers")
        if np.any(h < np.maximum(o, c)) or np.any(lo > np.minimum(o, c)):
            bad = int(np.flatnonzero((h < np.maximum(o, c)) | (lo > np.minimum(o, c)))[0])
            raise LevelsInputError(f"candle {bad + 1}: high/low do not contain open and close")
        if np.any(h > lo * MAX_BAR_RATIO):
            raise LevelsInputError(f"a candle's high is over {MAX_BAR_RATIO:g} times its low")
        if np.any(extra[0] < 0) or np.any(extra[1] < 0):
            raise LevelsInputError("volumes must not be negative")
        step = infer_interval(open_ms) if interval_ms is None else int(interval_ms)
        return cls(open_ms, o, h, lo, c, extra[0], extra[1], step)

    @classmethod
    def from_candles(cls, candles: Sequence[Candle]) -> Bars:
        """From stored candles (one interval), e.g. ``HistoryStore.candles``."""
        step = INTERVAL_MS.get(candles[0].interval) if candles else None
        return cls.build(
            [c.open_time_ms for c in candles],
            [c.open for c in candles],
            [c.high for c in candles],
            [c.low for c in candles],
            [c.close for c in candles],
            [c.volume for c in candles],
            [c.taker_buy_volume for c in candles],
            step,
        )

    def __len__(self) -> int:
        return len(self.open_ms)

    @property
    def end_ms(self) -> np.ndarray:
        return self.open_ms + self.interval_ms

    def select(self, keep: np.ndarray) -> Bars:
        return Bars(
            self.open_ms[keep],
            self.open[keep],
            self.high[keep],
            self.low[keep],
            self.close[keep],
            self.volume[keep],
            self.taker_buy_volume[keep],
            self.interval_ms,
        )

    def bars(self) -> list[Bar]:
        """One ``Bar`` per candle (what the incremental book takes)."""
        end = self.end_ms.tolist()
        return [
            Bar(*row)
            for row in zip(
                self.open_ms.tolist(),
                end,
                self.open.tolist(),
                self.high.tolist(),
                self.low.tolist(),
                self.close.tolist(),
                self.volume.tolist(),
                self.taker_buy_volume.tolist(),
                strict=True,
            )
        ]

    def price_at(self, time_ms: np.ndarray) -> np.ndarray:
        """The close of the last bar ended by each time, else the first bar's open."""
        index = np.searchsorted(self.end_ms, time_ms, side="right") - 1
        return np.where(index >= 0, self.close[np.maximum(index, 0)], self.open[0])


@dataclass(frozen=True)
class Readings:
    """Open-interest readings in contracts, ascending by time, no duplicates."""

    time_ms: np.ndarray
    contracts: np.ndarray

    @classmethod
    def build(cls, time_ms, contracts) -> Readings:
        time_ms = np.asarray(time_ms, dtype=np.int64)
        contracts = np.asarray(contracts, dtype=np.float64)
        if not np.all(np.isfinite(contracts)) or np.any(contracts < 0):
            raise LevelsInputError("open interest must be a number >= 0")
        times, last = np.unique(time_ms[::-1], return_index=True)
        return cls(times, contracts[::-1][last])

    @classmethod
    def from_usd(cls, time_ms, usd, bars: Bars) -> Readings:
        """USD readings turned into contracts at the price of their time."""
        time_ms = np.asarray(time_ms, dtype=np.int64)
        usd = np.asarray(usd, dtype=np.float64)
        if not np.all(np.isfinite(usd)) or np.any(usd < 0):
            raise LevelsInputError("open_interest_usd must be a number >= 0")
        if len(bars) == 0:
            raise LevelsInputError("no candles to convert open interest from USD")
        return cls.build(time_ms, usd / bars.price_at(time_ms))

    @classmethod
    def from_models(cls, rows: Sequence[OpenInterest]) -> Readings:
        """From stored readings (``open_interest`` is already in contracts)."""
        return cls.build([r.time_ms for r in rows], [r.open_interest for r in rows])

    def __len__(self) -> int:
        return len(self.time_ms)

    def select(self, keep: np.ndarray) -> Readings:
        return Readings(self.time_ms[keep], self.contracts[keep])

    def cadence_ms(self) -> int | None:
        """The usual time between readings (the most common step), None with < 2 readings."""
        if len(self.time_ms) < 2:
            return None
        steps, counts = np.unique(np.diff(self.time_ms), return_counts=True)
        return int(steps[np.argmax(counts)])
