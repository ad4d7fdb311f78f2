"""The part of a start's rebuild that may come after the service already answers: the day of
stored 1-minute candles the engine keeps in memory (``EngineState.candle_memory``).

It runs on its own short-lived thread (``heatmap-rebuild``): per symbol, one index search of the
store for the candles that opened before the start's minute (newer ones come from the live feed,
which must win), handed to the engine thread as a command, so the engine's state keeps its one
writer and nothing loaded is written back to the store. Until the engine has applied the last
of them, the history's state is "rebuilding" (``/api/health``, ``/api/stats``); the dashboard and
the API read older candles from the store meanwhile, so nothing they show is missing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from heatmap_engine.engine import Engine
from heatmap_engine.history.sqlite_store import SqliteStore

log = logging.getLogger(__name__)
MINUTE_MS = 60_000
UNIVERSE_WAIT_SECONDS = 0.2  # "all": the symbols are known once exchangeInfo answered


class CandleRebuild:
    def __init__(
        self,
        store: SqliteStore,
        engine: Engine,
        submit_to_engine: Callable[[Any], None],
        now_ms: int,
        stop: threading.Event,
    ):
        self.store, self.engine, self.submit = store, engine, submit_to_engine
        self.before_ms = now_ms - now_ms % MINUTE_MS  # the live feed owns this minute on
        self.memory = engine.state.candle_memory
        self._stop = stop
        self.thread: threading.Thread | None = None
        self.symbols_done = 0
        self.candles = 0
        self.done = False
        self.started_at: float | None = None
        self.seconds: float | None = None

    def start(self, symbols: Callable[[], tuple[str, ...]]) -> None:
        self.started_at = time.perf_counter()
        self.thread = threading.Thread(
            target=self._run, args=(symbols,), name="heatmap-rebuild", daemon=True
        )
        self.thread.start()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self, symbols: Callable[[], tuple[str, ...]]) -> None:
        try:
            while not symbols() and not self._stop.wait(UNIVERSE_WAIT_SECONDS):
                pass
            tracked = symbols()
            start = self.before_ms - self.memory * MINUTE_MS
            for symbol in tracked:
                if self._stop.is_set():
                    return
                rows = self.store.candle_rows(symbol, "1m", start, self.before_ms, self.memory)
                if rows:
                    self.submit(functools.partial(self._apply, symbol, rows))
                self.symbols_done += 1
            self.submit(self._finish)
        except Exception:  # the thread's boundary: the live feed fills the candles instead
            log.exception("loading the stored candles failed")
            self.done = True

    def _apply(self, symbol: str, rows: list[tuple]) -> None:
        """On the engine thread: one bulk load (later live frames still win)."""
        self.candles += self.engine.state.load_candles(symbol, rows)

    def _finish(self) -> None:
        """On the engine thread, after every candle command before it."""
        self.seconds = time.perf_counter() - (self.started_at or time.perf_counter())
        self.done = True
        log.info("history: %d stored candles of %d symbols loaded in %.2fs", self.candles,
                 self.symbols_done, self.seconds)  # fmt: skip

    def status(self) -> dict[str, Any]:
        return {
            "state": "ready" if self.done else "rebuilding",
            "symbols_done": self.symbols_done,
            "candles": self.candles,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }
