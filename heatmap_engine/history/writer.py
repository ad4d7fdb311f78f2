"""Batched writes to the history store on their own thread, off the ingestion path.

``submit`` never blocks: it puts the item on a bounded queue. When the queue is full the item is
not stored, and that is said loudly: counted per kind in ``status()`` (shown in ``/api/stats``)
and logged. The writer commits whatever is queued at least every ``commit_interval`` seconds,
so a crash loses at most the last uncommitted second; it also prunes old rows by retention.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Retention:
    """Days to keep per kind; 0 keeps forever."""

    liquidations_days: float = 0.0
    mark_prices_days: float = 30.0
    candles_days: float = 0.0
    open_interest_days: float = 0.0

    def rules(self) -> list[tuple[str, str, float]]:
        return [
            ("liquidations", "event_time_ms", self.liquidations_days),
            ("mark_prices", "time_ms", self.mark_prices_days),
            ("candles", "open_time_ms", self.candles_days),
            ("open_interest", "time_ms", self.open_interest_days),
        ]


@dataclass(frozen=True, slots=True)
class Gap:
    kind: str
    start_ms: int
    end_ms: int
    reason: str


class HistoryWriter:
    def __init__(
        self,
        store: SqliteStore,
        *,
        max_queue: int = 500_000,
        commit_interval: float = 0.5,
        batch_limit: int = 50_000,
        retention: Retention | None = None,
        prune_every_seconds: float = 3600.0,
    ):
        self.store = store
        self.commit_interval = commit_interval
        self.batch_limit = batch_limit
        self.retention = retention or Retention()
        self.prune_every_seconds = prune_every_seconds
        # a deque: append/popleft are atomic and lock-free, so submit() costs the engine thread
        # almost nothing; the bound is checked by hand
        self.max_queue = max_queue
        self._pending: deque[Any] = deque()
        self._in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.errors = 0
        self.last_commit_at: float | None = None
        self.last_commit_seconds: float | None = None
        self._last_drop_log = 0.0

    # -- producers (any thread) -------------------------------------------------------------
    def submit(
        self, item: Liquidation | MarkPrice | Candle | tuple[str, OpenInterest] | Gap
    ) -> bool:
        if len(self._pending) < self.max_queue:
            self._pending.append(item)
            return True
        kind = type(item).__name__ if not isinstance(item, tuple) else "OpenInterest"
        self.dropped[kind] += 1
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.error(
                "history queue full (%d items): %s NOT stored (dropped so far: %s)",
                self.max_queue, kind, dict(self.dropped),
            )  # fmt: skip
        return False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> HistoryWriter:
        self._thread = threading.Thread(target=self._run, name="heatmap-history", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Flush what is queued, then end the thread."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is committed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while (self._pending or self._in_flight) and time.monotonic() < deadline:
            time.sleep(0.005)
        return not (self._pending or self._in_flight)

    def _run(self) -> None:
        next_prune = time.monotonic()
        while True:
            batch = self._take()
            if batch:
                self._write(batch)
            if time.monotonic() >= next_prune:
                self._prune()
                next_prune = time.monotonic() + self.prune_every_seconds
            if self._stop.is_set() and not self._pending:
                return

    def _take(self) -> list[Any]:
        """Waits up to one commit interval, then takes everything queued (up to a batch)."""
        if not self._pending:
            self._stop.wait(self.commit_interval)
        pending, batch = self._pending, []
        take = min(len(pending), self.batch_limit)
        self._in_flight = take
        for _ in range(take):
            batch.append(pending.popleft())
        return batch

    def _write(self, batch: list[Any]) -> None:
        liqs, prices, candles, interest, gaps = [], [], [], [], []
        for item in batch:
            if isinstance(item, Liquidation):
                liqs.append(item)
            elif isinstance(item, MarkPrice):
                prices.append(item)
            elif isinstance(item, Candle):
                candles.append(item)
            elif isinstance(item, Gap):
                gaps.append(item)
            else:
                interest.append(item)
        started = time.perf_counter()
        try:
            for gap in gaps:
                self.store.record_gap(gap.kind, gap.start_ms, gap.end_ms, gap.reason)
            meta = {"last_alive_ms": str(time.time_ns() // 1_000_000)}
            self.written["liquidations"] += self.store.write_batch(
                liqs, prices, candles, interest, meta
            )
        except Exception:  # the loop boundary: keep the writer alive, count, log the traceback
            self.errors += 1
            log.exception("history write of %d items failed", len(batch))
        finally:
            self._in_flight = 0
        self.written["mark_prices"] += len(prices)
        self.written["candles"] += len(candles)
        self.written["open_interest"] += len(interest)
        self.written["gaps"] += len(gaps)
        self.last_commit_at = time.time()
        self.last_commit_seconds = time.perf_counter() - started

    def _prune(self) -> None:
        now_ms = time.time_ns() // 1_000_000
        for table, column, days in self.retention.rules():
            if days > 0:
                try:
                    removed = self.store.prune(table, column, now_ms - int(days * DAY_MS))
                except Exception:
                    self.errors += 1
                    log.exception("pruning %s failed", table)
                    continue
                if removed:
                    log.info("pruned %d %s older than %s days", removed, table, days)

    def status(self) -> dict[str, Any]:
        return {
            "queued": len(self._pending),
            "queue_capacity": self.max_queue,
            "written": dict(self.written),
            "dropped": dict(self.dropped),
            "dropped_total": sum(self.dropped.values()),
            "errors": self.errors,
            "last_commit_at": self.last_commit_at,
            "last_commit_duration_ms": (
                None if self.last_commit_seconds is None else self.last_commit_seconds * 1000
            ),
        }
