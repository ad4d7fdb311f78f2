"""Open interest while live: ``GET /fapi/v1/openInterest`` (weight 1), one symbol at a time.

The tracked symbols are polled in turn, evenly spaced: each symbol once every
``levels_oi_poll_seconds``, but never more than ``levels_oi_max_per_minute`` requests a minute
in all (the spacing between two requests is the larger of ``poll_seconds / symbols`` and
``60 / max_per_minute``). With the defaults (300 s, 120/min) 400 symbols cost 80 weight a
minute and 570 symbols 114: under 5 % of Binance's 2,400 weight-a-minute budget, whatever the
universe. The poller shares the service's ``BinanceRest``: while it backs off (a 429, a 418
ban, an unreachable host: ``RestUnavailable``) the poller waits out the same pause, and it skips
its turn while the IP's used weight (``X-MBX-USED-WEIGHT-1M``) is above half the budget, so the
backfill and the universe keep the room they need.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from heatmap_engine.config import _bool, _float, _int, read_env
from heatmap_engine.exchanges.binance_rest import BinanceRest, RestUnavailable
from heatmap_engine.models import OpenInterest
from heatmap_engine.rest_loop import retry_at

log = logging.getLogger(__name__)
PATH = "/fapi/v1/openInterest"
WEIGHT_BUDGET = 2400  # Binance's request weight per minute and IP
SKIP_ABOVE_WEIGHT = WEIGHT_BUDGET // 2
EARLIEST_MS, LATEST_MS = 1_500_000_000_000, 4_102_444_800_000  # 2017 .. 2100


@dataclass(frozen=True, slots=True)
class LiveLevelsSettings:
    """The live levels' settings. Field ``x`` is read from ``HEATMAP_X``."""

    levels_live: bool = True  # keep a live book per tracked symbol and poll open interest
    levels_oi_poll_seconds: float = 300.0  # each symbol polled every this often (0 = never)
    levels_oi_max_per_minute: int = 120  # the poller's requests (= weight) a minute, at most
    levels_live_tick_seconds: float = 5.0  # how often the live books take the closed candles
    # the refresher (heatmap_engine.levels.refresher): results of the views read recently
    levels_refresh_views: int = 8  # views kept fresh, at most (0 = no refresher)
    levels_refresh_minutes: float = 10.0  # a view read within this is kept fresh
    levels_refresh_stale_seconds: float = 15.0  # a previous result is shown this long at most

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any):
        return cls(**{**read_env(cls, _PARSERS, env), **overrides})

    def spacing(self, symbols: int) -> float:
        """Seconds between two requests for ``symbols`` tracked symbols."""
        return max(self.levels_oi_poll_seconds / max(1, symbols),
                   60.0 / self.levels_oi_max_per_minute)  # fmt: skip

    def requests_per_minute(self, symbols: int) -> float:
        """The most requests (weight) the poller sends in a minute."""
        return 0.0 if not self.levels_oi_poll_seconds else 60.0 / self.spacing(symbols)


_PARSERS = {
    "levels_live": _bool,
    "levels_oi_poll_seconds": _float(0.0, 86_400.0),
    "levels_oi_max_per_minute": _int(1, 1200),
    "levels_live_tick_seconds": _float(0.05, 600.0),
    "levels_refresh_views": _int(0, 256),
    "levels_refresh_minutes": _float(0.1, 1440.0),
    "levels_refresh_stale_seconds": _float(0.0, 3600.0),
}


def parse_open_interest(body: Any, symbol: str) -> OpenInterest | None:
    """``{"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}``, or None
    when it is not that (a wrong symbol, a negative or non-finite amount, a time out of range)."""
    if not isinstance(body, dict) or body.get("symbol") != symbol:
        return None
    try:
        amount, when = float(body["openInterest"]), int(body["time"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(amount) and amount >= 0 and EARLIEST_MS <= when <= LATEST_MS):
        return None
    return OpenInterest("binance", symbol, when, amount, None)


class OpenInterestPoller:
    """Polls the tracked symbols in turn on the caller's thread (``run`` until ``stop``)."""

    def __init__(
        self,
        rest: BinanceRest,
        symbols: Callable[[], tuple[str, ...]],
        sink: Callable[[OpenInterest], None],
        settings: LiveLevelsSettings,
        stop: threading.Event,
    ) -> None:
        self.rest, self.symbols, self.sink = rest, symbols, sink
        self.settings, self._stop = settings, stop
        self.requests = self.readings = self.skipped = self.errors = 0
        self.last_error: str | None = None
        self._turn = 0

    def run(self) -> None:
        """Until the stop event; the first request waits one spacing (start-up belongs to the
        universe and the backfill)."""
        if self._stop.wait(self.settings.spacing(len(self.symbols()))):
            return
        while not self._stop.is_set():
            symbols = self.symbols()
            if not symbols or symbols == ("all",):
                self._stop.wait(1.0)
                continue
            pause = self.poll(symbols[self._turn % len(symbols)])
            self._turn += 1
            self._stop.wait(max(pause, self.settings.spacing(len(symbols))))

    def poll(self, symbol: str) -> float:
        """One request; returns how long to pause before the next one (beyond the spacing)."""
        used = self.rest.used_weight
        if used is not None and used > SKIP_ABOVE_WEIGHT:
            self.skipped += 1
            return 0.0
        try:
            self.requests += 1
            body = self.rest.get(PATH, {"symbol": symbol})
        except RestUnavailable as exc:
            self.errors += 1
            if self.last_error is None:
                log.info("open-interest poll failed (said once): %s", exc)
            self.last_error = str(exc)
            return max(0.0, retry_at(exc) - time.monotonic())
        reading = parse_open_interest(body, symbol)
        if reading is None:
            self.errors += 1
            self.last_error = f"{PATH} {symbol}: not an open-interest answer"
            return 0.0
        self.readings += 1
        self.sink(reading)
        return 0.0

    def status(self) -> dict[str, Any]:
        count = len(self.symbols())
        return {
            "requests": self.requests,
            "readings": self.readings,
            "skipped_for_weight": self.skipped,
            "errors": self.errors,
            "last_error": self.last_error,
            "every_seconds": self.settings.levels_oi_poll_seconds,
            "requests_per_minute_max": round(self.settings.requests_per_minute(count), 2),
        }
