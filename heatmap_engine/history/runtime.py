"""Wires the history store into a running service: rebuild on start, write, backfill, gaps.

Constructing a ``HistoryRuntime`` opens the data folder (``data_dir.open_data_dir``): it takes
the folder's lock and proves it writable, or raises ``DataDirError`` before anything starts.
``stop`` ends the backfill, flushes the writer, then closes the store and releases the lock, each
only once the step before it has really ended.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.history.backfill import Backfill
from heatmap_engine.history.data_dir import open_data_dir
from heatmap_engine.history.rebuild import CandleRebuild
from heatmap_engine.history.writer import Gap, HistoryWriter, Retention

log = logging.getLogger(__name__)
DB_NAME = "heatmap.sqlite3"
# 1-minute candles the engine keeps per symbol while history is kept (three hours): the page
# reads older ones from the store (``callbacks.sources.candles``); without history it keeps a
# day. 1,440 cost ~75 KiB a symbol, 43 MiB at 570 symbols
CANDLE_MEMORY = 180


class HistoryRuntime:
    def __init__(self, settings: Settings, rest: BinanceRest):
        self.settings = settings
        self.lock, self.store = open_data_dir(Path(settings.data_dir), DB_NAME)
        retention = Retention(
            settings.retention_liquidations_days,
            settings.retention_mark_prices_days,
            settings.retention_candles_days,
            settings.retention_open_interest_days,
        )
        self.writer = HistoryWriter(
            self.store, max_queue=settings.history_queue_size, retention=retention
        )
        self.backfill = Backfill(
            rest,
            self.store,
            self._emit_backfill,
            kline_days=settings.backfill_kline_days,
            oi_days=settings.backfill_oi_days,
            five_minute_days=settings.backfill_5m_days,
            hourly_days=settings.backfill_1h_days,
            weight_per_minute=settings.backfill_weight_per_minute,
            oi_requests_per_5min=settings.backfill_oi_requests_per_5min,
        )
        self._engine: Engine | None = None
        self._submit_to_engine: Callable[[Any], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restored = 0
        self.rebuild_seconds = 0.0
        self.candles: CandleRebuild | None = None
        self._final_status: dict[str, Any] | None = None

    def attach(self, engine: Engine, submit_to_engine: Callable[[Any], None]) -> None:
        """Before the engine thread starts: rebuild the clusters' window (the decay window of
        stored liquidations: per-symbol index searches) and carry the counts on. The day of
        stored candles is loaded later, while the service already answers (``start``)."""
        started = time.perf_counter()
        now = int(time.time() * 1000)
        newest = self.store.newest_liquidation_ms()
        # replay/demo engines run on the exchange's clock: rebuild up to the newest stored event
        reference = (newest or now) if engine.event_time else now
        since = reference - engine.params.decay_window_ms
        symbols = self.store.symbols() if engine.state.accept_any else engine.symbols
        self.restored = engine.restore_from(self.store, symbols, since)
        self.rebuild_seconds = time.perf_counter() - started
        last_alive = self.store.get_meta("last_alive_ms")
        if last_alive is not None and int(last_alive) < now:
            self.writer.submit(Gap("liquidations", int(last_alive), now, "service was not running"))
        engine.history_sink = self.writer.submit
        self._engine, self._submit_to_engine = engine, submit_to_engine
        engine.state.candle_memory = CANDLE_MEMORY
        self.candles = CandleRebuild(self.store, engine, submit_to_engine, now, self._stop)
        log.info("history: %d liquidations restored in %.2fs", self.restored, self.rebuild_seconds)

    def _emit_backfill(self, items) -> None:
        """Backfilled candles and open interest: to the store, candles to the engine too."""
        items = list(items)
        for item in items:
            self.writer.submit(item)
        candles = tuple(i for i in items if not isinstance(i, tuple))
        if candles and self._submit_to_engine is not None:
            self._submit_to_engine(candles)

    def record_gap(self, start_ms: int, end_ms: int, reason: str) -> None:
        self.writer.submit(Gap("liquidations", start_ms, end_ms, reason))

    def start(self, symbols: Callable[[], tuple[str, ...]], reconnects: Callable[[], int]) -> None:
        self.writer.start()
        if self.candles is not None:
            self.candles.start(symbols)
        if self.settings.backfill:
            self._thread = threading.Thread(
                target=self._run_backfill, args=(symbols, reconnects), name="heatmap-backfill",
                daemon=True,
            )  # fmt: skip
            self._thread.start()

    def _run_backfill(self, symbols, reconnects) -> None:
        """A pass on start, after every reconnect, every ``backfill_every_minutes`` after the
        last complete one (open interest and the longer candles have no stream: their newest
        rows come only from here), and again (sooner) after an incomplete one."""
        seen_reconnects, needed = reconnects(), True
        every = self.settings.backfill_every_minutes * 60.0
        completed_at = time.monotonic()
        while not self._stop.is_set():
            current = reconnects()
            if current != seen_reconnects:
                seen_reconnects, needed = current, True
            if every > 0 and time.monotonic() - completed_at >= every:
                needed = True
            banned = self.backfill.status()["banned_for_seconds"] > 0
            if needed and symbols() and not banned:
                try:
                    needed = not self.backfill.run(symbols())
                except Exception:  # the loop boundary
                    log.exception("backfill run failed")
                if needed:  # again later: after the REST client's backoff, if longer
                    self._stop.wait(max(10.0, self.backfill.retry_in()))
                else:
                    completed_at = time.monotonic()
            self._stop.wait(1.0)

    def stop_backfill(self, timeout: float = 5.0) -> bool:
        """The backfill is a producer: it ends with the feed, before the engine and the writer."""
        self._stop.set()
        self.backfill.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Backfill (if still running), writer (flushed), then the store and the lock; True
        when everything queued was written and every step ended. The store stays open while
        its writer thread still runs (closing it under a write would fail that write)."""
        deadline = time.monotonic() + timeout
        ok = self.stop_backfill(0.0 if self._stop.is_set() else timeout)  # once is enough
        if self.candles is not None:
            self.candles.join(max(0.0, deadline - time.monotonic()))
        ok = self.writer.stop(max(0.5, deadline - time.monotonic())) and ok
        if self.writer.alive:
            log.error("history writer did not end: the store stays open until the process exits")
            return False
        if self._final_status is None:
            self._final_status = self.status()  # what status() answers once the store is closed
            self.store.close()
            self.lock.release()
        return ok

    @property
    def state(self) -> str:
        """ "rebuilding" while the stored candles are still being loaded, then "ready"."""
        return "ready" if self.candles is None or self.candles.done else "rebuilding"

    def threads(self) -> list[threading.Thread]:
        return [t for t in (self.writer.thread, self._thread) if t is not None]

    def problems(self) -> list[str]:
        """What is wrong with history now, in words for ``/api/health`` and the page."""
        out = self.writer.problems()
        out += [f"thread {t.name} has stopped" for t in self.threads() if not t.is_alive()]
        return out

    def status(self) -> dict[str, Any]:
        if self._final_status is not None:
            return self._final_status
        return {
            "path": str(self.store.path),
            "writer_pid": os.getpid(),
            "size_bytes": self.store.size_bytes(),
            "state": self.state,
            "restored_on_start": self.restored,
            "rebuild_seconds": round(self.rebuild_seconds, 3),
            "candles_rebuild": self.candles.status() if self.candles is not None else None,
            "writer": self.writer.status(),
            "backfill": self.backfill.status(),
            "gaps": self.store.gaps(20),
        }
