"""A steady request budget: at most ``limit`` units (request weight, or requests) in any
``window`` seconds, spread evenly (one unit every ``window / limit`` seconds) rather than spent in
a burst at start. The backfill keeps one for Binance's request weight and one for
``openInterestHist``'s own limit (requests per 5 minutes per IP)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Budget:
    def __init__(
        self,
        limit: float,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] = time.sleep,
    ):
        if limit <= 0 or window <= 0:
            raise ValueError("a budget needs a positive limit and window")
        self.limit, self.window = limit, window
        self.clock, self.wait = clock, wait
        self._spent: deque[tuple[float, float]] = deque()  # (when, units), the last window
        self._next = 0.0  # the even spread: no request before this
        self.waited = 0.0

    def delay(self, units: float) -> float:
        """Seconds until ``units`` may be spent (0 when now)."""
        now = self.clock()
        while self._spent and self._spent[0][0] <= now - self.window:
            self._spent.popleft()
        delay = max(0.0, self._next - now)
        used = sum(u for _, u in self._spent)
        if used + units > self.limit:  # the window is full: until enough of it has aged out
            for when, spent in self._spent:
                used -= spent
                if used + units <= self.limit:
                    delay = max(delay, when + self.window - now)
                    break
        return delay

    def spend(self, units: float, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Wait (through ``wait``) until ``units`` fit, then count them; False when stopped."""
        if units <= 0:
            return not stopped()
        units = min(units, self.limit)  # a request dearer than the budget waits for all of it
        while (delay := self.delay(units)) > 0:
            if stopped():
                return False
            self.waited += delay
            self.wait(delay)
        if stopped():
            return False
        now = self.clock()
        self._spent.append((now, units))
        self._next = max(now, self._next) + units * self.window / self.limit
        return True

    def used(self) -> float:
        now = self.clock()
        return sum(u for when, u in self._spent if when > now - self.window)
