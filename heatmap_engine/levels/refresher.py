"""Results kept fresh in the background: the ``heatmap-levels-refresh`` loop of a running service.

A run of the model takes hundreds of milliseconds for the long ranges (30 days: 15-minute bars
over 32 days of candles), and the data version of a symbol moves with every stored 1m candle and
open-interest reading, so the first reader after each new bar would wait for a run. Instead:

* **What is kept fresh.** The views (symbol, range, preset) that readers asked for, ending now,
  within the last ``levels_refresh_minutes``, at most ``levels_refresh_views`` of them (the ones
  read least recently leave first). A view no one reads stops costing anything.
* **When.** Every ``levels_live_tick_seconds`` the loop asks each such view's data version
  (three indexed reads) and runs the model for those whose stored data changed; at once when a
  reader was shown a previous result (``request``), that view first.
* **Stale while it runs.** ``LevelsSource.current`` (the dashboard) answers a view whose data
  changed with its previous result while the loop runs (``may_serve_stale``), never longer than
  ``levels_refresh_stale_seconds`` in a row, counted from the first stale read since the view's
  last refresh (then the reader waits for the run, as without a refresher), and never after
  the loop failed on that view (the reader runs it and sees why).
* **Failures.** A refresh that raises is counted (``failures``; the first is logged with its
  traceback) and the loop goes on with the next view; a view whose data is too short
  (``LevelsInputError``) is counted as ``no_data``, not logged (its readers are told why).

Nothing starts at import or construction: the service runs ``run`` on a named thread, which
ends with the service's stop event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from heatmap_engine.levels.series import LevelsInputError

log = logging.getLogger(__name__)
View = tuple[str, str, str]  # symbol, range, preset
STOP_POLL_SECONDS = 0.1  # how soon the loop notices the stop event while it waits


class LevelsRefresher:
    def __init__(
        self,
        source: Any,  # the LevelsSource (its refresh(view) runs one view)
        stop: threading.Event,
        *,
        views: int = 8,
        read_within_seconds: float = 600.0,
        stale_seconds: float = 15.0,
        tick_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source, self._stop, self._clock = source, stop, clock
        self.max_views, self.read_within = views, read_within_seconds
        self.stale_seconds, self.tick_seconds = stale_seconds, tick_seconds
        self._reads: OrderedDict[View, float] = OrderedDict()  # view -> last read, oldest first
        self._requested: dict[View, None] = {}  # shown stale: refreshed first, in order asked
        self._stale_since: dict[View, float] = {}  # view -> first read served stale in a row
        self._failed: set[View] = set()  # the last refresh of the view raised
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.running = False  # while run() loops
        self.passes = self.runs = self.failures = self.no_data = 0

    # -- readers (request threads) ----------------------------------------------------------
    def read(self, view: View) -> None:
        """A reader asked for ``view`` ending now."""
        with self._lock:
            self._reads[view] = self._clock()
            self._reads.move_to_end(view)
            while len(self._reads) > self.max_views:
                self._reads.popitem(last=False)

    def may_serve_stale(self, view: View) -> bool:
        """True while the loop runs, its last refresh of ``view`` did not fail and the view has
        not been served stale for longer than ``stale_seconds`` in a row."""
        if not self.running or not self.max_views:
            return False
        with self._lock:
            if view in self._failed or view not in self._reads:
                return False
            since = self._stale_since.setdefault(view, self._clock())
            return self._clock() - since <= self.stale_seconds

    def request(self, view: View) -> None:
        """A reader was shown ``view``'s previous result: refresh it next."""
        with self._lock:
            self._requested[view] = None
        self._wake.set()

    def served_fresh(self, view: View) -> None:
        with self._lock:
            self._stale_since.pop(view, None)

    # -- the loop ---------------------------------------------------------------------------
    def due(self) -> list[View]:
        """The views to look at now: those asked for first, then the others read within
        ``read_within`` seconds, the most recently read first (older reads are forgotten)."""
        now = self._clock()
        with self._lock:
            for view in [v for v, t in self._reads.items() if now - t > self.read_within]:
                del self._reads[view]
            for view in [v for v in self._stale_since if v not in self._reads]:
                del self._stale_since[view]
            self._failed.intersection_update(self._reads)
            asked = [v for v in self._requested if v in self._reads]
            self._requested.clear()
            recent = [v for v in reversed(self._reads) if v not in asked]
        return asked + recent

    def refresh_due(self) -> int:
        """One pass: each due view's result computed when its data changed. Returns the runs."""
        runs = 0
        for view in self.due():
            if self._stop.is_set():
                break
            try:
                ran = self._source.refresh(view)
            except LevelsInputError:
                self.no_data += 1
                self._mark(view, failed=True)
            except Exception:  # the loop boundary: the next view, the next pass try again
                self.failures += 1
                self._mark(view, failed=True)
                if self.failures == 1:
                    log.exception("refreshing the estimated levels of %s failed (said once)", view)
            else:
                self._mark(view, failed=False)
                runs += ran
        self.runs += runs
        self.passes += 1
        return runs

    def _mark(self, view: View, failed: bool) -> None:
        with self._lock:
            if failed:
                self._failed.add(view)
            else:  # its newest result is cached: a later stale read counts from then
                self._failed.discard(view)
                self._stale_since.pop(view, None)

    def run(self) -> None:
        """Refresh every ``tick_seconds``, or at once when a reader asks; until ``stop``."""
        self.running = True
        try:
            next_pass = self._clock()
            while not self._stop.is_set():
                if self._wake.is_set() or self._clock() >= next_pass:
                    self._wake.clear()
                    self.refresh_due()
                    next_pass = self._clock() + self.tick_seconds
                self._wake.wait(STOP_POLL_SECONDS)
        finally:
            self.running = False

    def status(self) -> dict[str, Any]:
        with self._lock:
            views = len(self._reads)
        return {"running": self.running, "views": views, "max_views": self.max_views,
                "passes": self.passes, "runs": self.runs, "failures": self.failures,
                "no_data": self.no_data}  # fmt: skip
