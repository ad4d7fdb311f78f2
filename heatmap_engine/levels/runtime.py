"""The live levels inside a running service: the tracker's, the poller's and the refresher's loops.

``LevelsRuntime`` builds the ``LevelsTracker``, the ``OpenInterestPoller`` and the
``LevelsRefresher`` and hands the service their loops to run on named threads (``heatmap-levels``,
``heatmap-levels-oi``, ``heatmap-levels-refresh``), all ending with the service's stop event.
A polled reading goes to the tracker and, when the service keeps history, to the store
(``open_interest`` table, period ``live``: the backfill's 5m series stays as Binance publishes
it), so runs over stored series see it too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.levels.oi_poll import LiveLevelsSettings, OpenInterestPoller
from heatmap_engine.levels.refresher import LevelsRefresher
from heatmap_engine.levels.source import LIVE_PERIOD, LevelsSource
from heatmap_engine.levels.tracker import LevelsTracker
from heatmap_engine.models import OpenInterest

log = logging.getLogger(__name__)


class LevelsRuntime:
    def __init__(
        self,
        source: LevelsSource,
        rest: BinanceRest,
        symbols: Callable[[], tuple[str, ...]],
        candles: Callable[[str], tuple],
        history_sink: Callable[[], Callable[[Any], object] | None],
        wall_ms: Callable[[], int],
        stop: threading.Event,
        settings: LiveLevelsSettings | None = None,
    ) -> None:
        self.settings = settings or LiveLevelsSettings.from_env()
        self.symbols = symbols
        self.tracker = LevelsTracker(source.settings, source.table, candles, source.store, wall_ms)
        self._history_sink = history_sink
        self._stop = stop  # the service's: set when it stops
        self.poller = OpenInterestPoller(rest, symbols, self._reading, self.settings, self._stop)
        s = self.settings
        self.refresher = LevelsRefresher(
            source, self._stop, views=s.levels_refresh_views,
            read_within_seconds=s.levels_refresh_minutes * 60.0,
            stale_seconds=s.levels_refresh_stale_seconds, tick_seconds=s.levels_live_tick_seconds,
        )  # fmt: skip
        self.failures = 0
        if s.levels_live:
            source.live = self.tracker
        if s.levels_refresh_views:
            source.refresher = self.refresher

    def loops(self) -> dict[str, Callable[[], None]]:
        """Thread name -> loop (no tracker nor poller when ``HEATMAP_LEVELS_LIVE=0``; no poller
        when ``HEATMAP_LEVELS_OI_POLL_SECONDS=0``; no refresher when
        ``HEATMAP_LEVELS_REFRESH_VIEWS=0``)."""
        loops: dict[str, Callable[[], None]] = {}
        if self.settings.levels_live:
            loops["heatmap-levels"] = self.run_tracker
            if self.settings.levels_oi_poll_seconds:
                loops["heatmap-levels-oi"] = self.poller.run
        if self.settings.levels_refresh_views:
            loops["heatmap-levels-refresh"] = self.refresher.run
        return loops

    def _reading(self, reading: OpenInterest) -> None:
        self.tracker.add_reading(reading)
        sink = self._history_sink()
        if sink is not None:
            sink((LIVE_PERIOD, reading))

    def run_tracker(self) -> None:
        while not self._stop.wait(self.settings.levels_live_tick_seconds):
            symbols = self.symbols()
            if symbols == ("all",):
                continue
            try:
                self.tracker.tick(symbols)
            except Exception:  # the loop boundary: the next tick tries again
                self.failures += 1
                if self.failures == 1:
                    log.exception("the live levels tick failed (said once)")

    def status(self) -> dict[str, Any]:
        return {**self.tracker.status(), "open_interest_poll": self.poller.status(),
                "tick_failures": self.failures, "refresh": self.refresher.status()}  # fmt: skip
