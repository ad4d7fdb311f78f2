"""Compact per-symbol event columns and the duplicate memory, used by ``EngineState``."""

from __future__ import annotations

from array import array
from collections import deque

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
    """Remembers order keys for ``horizon_ms`` of event time, so a repeat is recognised.

    Repeats come from overlapping connections (rollover, double subscriptions) and arrive within
    seconds. The horizon follows the newest event time seen, so it must be wider than how far
    ahead of receipt the parsers let a time be (``HEATMAP_EVENT_TIME_MAX_AHEAD_SECONDS``): the
    engine uses two minutes plus that allowance (7 minutes by default), still a small memory.
    """

    DEFAULT_HORIZON_MS = 120_000

    def __init__(self, horizon_ms: int = DEFAULT_HORIZON_MS):
        self.horizon_ms = horizon_ms
        self._seen: set[tuple] = set()
        self._order: deque[tuple[int, tuple]] = deque()
        self._newest = 0

    def __len__(self) -> int:
        return len(self._seen)

    def is_new(self, key: tuple, event_time_ms: int) -> bool:
        seen = self._seen
        if key in seen:
            return False
        seen.add(key)
        order = self._order
        order.append((event_time_ms, key))
        newest = self._newest
        if event_time_ms > newest:
            self._newest = newest = event_time_ms
        elif event_time_ms >= newest - self.horizon_ms:
            return True  # the cutoff has not moved, and everything held is inside it
        cutoff = newest - self.horizon_ms
        while order and order[0][0] < cutoff:
            seen.discard(order.popleft()[1])
        return True
