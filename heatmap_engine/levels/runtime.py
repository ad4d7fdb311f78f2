"""The live levels inside a running service: the tracker's and the poller's loops.

``LevelsRuntime`` builds the ``LevelsTracker`` and the ``OpenInterestPoller`` and hands the
service two loops to run on named threads (``heatmap-levels``, ``heatmap-levels-oi``), both ending
with the service's stop event. A polled reading goes to the tracker and, when the service keeps
history, to the store (``open_interest`` table, period ``live``: the backfill's 5m series stays
as Binance publishes it), so runs over stored series see it too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.levels.oi_poll import LiveLevelsSettings, OpenInterestPoller
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
        self.failures = 0
        if self.settings.levels_live:
            source.live = self.tracker

    def loops(self) -> dict[str, Callable[[], None]]:
        """Thread name -> loop (none when ``HEATMAP_LEVELS_LIVE=0``; no poller when
        ``HEATMAP_LEVELS_OI_POLL_SECONDS=0``)."""
        if not self.settings.levels_live:
            return {}
        loops = {"heatmap-levels": self.run_tracker}
        if self.settings.levels_oi_poll_seconds:
            loops["heatmap-levels-oi"] = self.poller.run
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
                "tick_failures": self.failures}  # fmt: skip
