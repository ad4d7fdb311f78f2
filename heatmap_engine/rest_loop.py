"""The ``heatmap-rest`` thread: the universe from ``exchangeInfo``, then the price fallback.

With ``HEATMAP_SYMBOLS=all`` the universe is fetched first (retried until known). Then mark
prices are polled from ``/fapi/v1/premiumIndex`` only while the mark-price stream is stale. Every
failure is caught: REST outages are logged by ``BinanceRest`` once per state, a ban or a backoff
is waited out, and anything unexpected is logged once (``Failures``) and the loop carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges.base import Event, TimeWindow
from heatmap_engine.exchanges.binance_rest import BinanceRest, RestUnavailable, RestUnreachable
from heatmap_engine.failures import Failures
from heatmap_engine.symbols import perpetuals_from_exchange_info

log = logging.getLogger("heatmap_engine.service")
TICK_SECONDS = 0.5


def retry_at(exc: RestUnavailable) -> float:
    """The monotonic time before which asking again is pointless (a ban, a backoff)."""
    until = getattr(exc, "until", None)
    return time.monotonic() + max(0.0, until - time.time()) if until else 0.0


class RestLoop:
    def __init__(
        self,
        settings: Settings,
        rest: BinanceRest,
        engine: Engine,
        submit: Callable[[tuple[Event, ...]], None],
        on_universe: Callable[[tuple[str, ...]], None],
        stop: threading.Event,
        window: TimeWindow,
        failures: Failures,
    ):
        self.settings, self.rest, self.engine = settings, rest, engine
        self.submit, self.on_universe = submit, on_universe
        self.stop, self.window, self.failures = stop, window, failures
        self.started_at = time.monotonic()
        self.universe_error: str | None = None  # plain words, for status

    def run(self) -> None:
        self.started_at = time.monotonic()
        if self.settings.all_symbols:
            self.load_universe()
        next_poll = 0.0
        while not self.stop.wait(TICK_SECONDS):
            if not self.prices_stale() or time.monotonic() < next_poll:
                continue
            next_poll = time.monotonic() + self.settings.rest_poll_seconds
            try:
                prices = self.rest.mark_prices(self.window)
            except RestUnavailable as exc:  # logged once per outage by BinanceRest itself
                log.debug("REST price fallback unavailable: %s", exc)
                next_poll = max(next_poll, retry_at(exc))
                continue
            except Exception as exc:  # the loop boundary: never end the fallback
                self.failures.record("the REST price fallback", exc)
                continue
            self.submit(tuple(prices))

    def load_universe(self) -> None:
        delay, category = 1.0, None
        while not self.stop.is_set():
            try:
                symbols = perpetuals_from_exchange_info(self.rest.exchange_info())
            except RestUnavailable as exc:  # plain words; an outage is logged by BinanceRest
                if exc.category != category:  # unreachable: BinanceRest said so already
                    level = logging.DEBUG if isinstance(exc, RestUnreachable) else logging.WARNING
                    log.log(level, "the universe (exchangeInfo) is not known yet: %s", exc)
                category, self.universe_error = exc.category, str(exc)
                self.stop.wait(max(delay, retry_at(exc) - time.monotonic()))
                delay = min(60.0, delay * 2)
                continue
            except Exception as exc:  # the loop boundary
                self.failures.record("loading the universe", exc)
                self.stop.wait(delay)
                delay = min(60.0, delay * 2)
                continue
            self.universe_error = None
            self.on_universe(symbols)
            log.info("tracking %d USDⓈ-M perpetuals from exchangeInfo", len(symbols))
            return

    def prices_stale(self) -> bool:
        """True when no mark price has come from the stream for ``price_stale_seconds``."""
        last = self.engine.last_stream_price_at
        if last is None:
            last = self.started_at  # nothing yet: stale once the start is that long ago
        return time.monotonic() - last >= self.settings.price_stale_seconds
