"""Compact per-symbol event columns and the duplicate memory, used by ``EngineState``."""

from __future__ import annotations

from array import array

import numpy as np

from heatmap_engine.clusters import SIDE_CODES
from heatmap_engine.models import Liquidation


class EventBuffer:
    """Columnar, append-only events of one symbol (25 bytes each); old ones are evicted in bulk."""

    __slots__ = ("notionals", "prices", "sides", "start", "times")

    def __init__(self) -> None:
        self.times = array("q")
        self.prices = array("d")
        self.notionals = array("d")
        self.sides = array("b")
        self.start = 0

    def __len__(self) -> int:
        return len(self.times) - self.start

    def append(self, liq: Liquidation) -> None:
        self.times.append(liq.event_time_ms)
        self.prices.append(liq.price)
        self.notionals.append(liq.notional_usd)
        self.sides.append(SIDE_CODES[liq.liquidated_side])

    def evict_before(self, cutoff_ms: int) -> int:
        """Drop leading events older than ``cutoff_ms``; returns how many left memory."""
        times, i, end = self.times, self.start, len(self.times)
        while i < end and times[i] < cutoff_ms:
            i += 1
        evicted = i - self.start
        self.start = i
        if self.start and self.start * 2 >= len(self.times):
            for column in (self.times, self.prices, self.notionals, self.sides):
                del column[: self.start]
            self.start = 0
        return evicted

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.start
        return (
            np.frombuffer(self.times, dtype=np.int64)[s:],
            np.frombuffer(self.prices, dtype=np.float64)[s:],
            np.frombuffer(self.notionals, dtype=np.float64)[s:],
            np.frombuffer(self.sides, dtype=np.int8)[s:],
        )


class DedupeWindow:
    """Remembers liquidations for ``horizon_ms`` of event time, so a repeat is recognised: the
    same order, by ``Liquidation.dedupe_key``.

    Repeats come from overlapping connections (rollover, double subscriptions) and arrive within
    seconds. The horizon follows the newest event time seen, so it must be wider than how far
    ahead of receipt the parsers let a time be (``HEATMAP_EVENT_TIME_MAX_AHEAD_SECONDS``): the
    engine uses two minutes plus that allowance (7 minutes by default), still a small memory.

    A repeat has its first copy's event time (the time is part of the key), so orders are found
    by their time, an integer, cheap to hash: per slice of event time (``SLICE_MS``) a dict from
    time to the order seen at it (a list of them when several share a millisecond), and keys
    are compared only between orders of one millisecond. Forgetting drops whole slices once
    all of a slice is older than the horizon: an order is kept at least ``horizon_ms`` past the
    newest time seen, and at most one slice longer.
    """

    DEFAULT_HORIZON_MS = 120_000
    SLICE_BITS = 12
    SLICE_MS = 1 << SLICE_BITS  # 4.1 s of event time a slice

    def __init__(self, horizon_ms: int = DEFAULT_HORIZON_MS):
        self.horizon_ms = horizon_ms
        self._slices: dict[int, dict[int, Liquidation | list[Liquidation]]] = {}
        self._newest = 0
        self._forget_at = 0  # the newest time from which the oldest slice kept can go

    def __len__(self) -> int:
        return sum(
            len(held) if type(held) is list else 1
            for at in self._slices.values()
            for held in at.values()
        )

    @property
    def newest_ms(self) -> int | None:
        """The newest event time of the orders seen (None before the first)."""
        return self._newest or None

    def is_new(self, liq: Liquidation) -> bool:
        """True the first time this order is seen (then it is remembered), False for a repeat."""
        when = liq.event_time_ms
        slice_ = when >> _SLICE_BITS
        at = self._slices.get(slice_)
        if at is None:
            at = self._slices[slice_] = {}
        if when > self._newest:  # newer than every order seen, so a repeat of none (the usual)
            at[when] = liq
            self._newest = when
            if when >= self._forget_at:
                self._forget_before(when - self.horizon_ms)
            return True
        held = at.get(when)
        if held is None:
            at[when] = liq
        elif type(held) is list:
            key = liq.dedupe_key
            if any(other.dedupe_key == key for other in held):
                return False
            held.append(liq)
        elif held.dedupe_key == liq.dedupe_key:
            return False
        else:
            at[when] = [held, liq]
        return True

    def _forget_before(self, cutoff_ms: int) -> None:
        """Drop the slices wholly older than ``cutoff_ms``; note when the next one goes."""
        first_kept = cutoff_ms >> _SLICE_BITS
        slices = self._slices
        for old in [s for s in slices if s < first_kept]:
            del slices[old]
        self._forget_at = ((first_kept + 1) << _SLICE_BITS) + self.horizon_ms


_SLICE_BITS = DedupeWindow.SLICE_BITS
