"""Batched writes to the history store on their own thread, off the ingestion path.

Nothing is discarded while there is room. ``submit`` never blocks: it puts the item on a bounded
queue. The writer commits whatever is queued at least every ``commit_interval`` seconds (a crash
loses at most the last uncommitted second). A batch the store cannot write (disk full, read-only,
locked ...) stays at the head of the queue and is retried, in order, with capped, jittered
backoff (``failures.WriteHealth``); nothing counts as written before its transaction committed,
and a repeat after a failed commit is not a duplicate (natural keys; upserts). Only when the
queue is really full is a new item dropped: counted by kind and its time span kept as a gap
(``losses.LossLedger``), written with a later commit, so the loss stays visible for ever. An item
SQLite refuses outright (a number out of its range) is isolated by halving its batch, counted as
rejected and logged; the rest of the batch is written. The writer also prunes by retention.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heatmap_engine.history.failures import CAUSES, WriteHealth, classify
from heatmap_engine.history.losses import Gap, LossLedger, kind_of
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest

__all__ = ["Gap", "HistoryWriter", "Retention"]
log = logging.getLogger(__name__)
DAY_MS = 86_400_000
Item = Liquidation | MarkPrice | Candle | tuple[str, OpenInterest] | Gap


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
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ):
        self.store = store
        self.commit_interval = commit_interval
        self.batch_limit = batch_limit
        self.retention = retention or Retention()
        self.prune_every_seconds = prune_every_seconds
        self.clock = clock
        # a deque: append/popleft are atomic and lock-free, so submit() costs the engine thread
        # almost nothing; the bound is checked by hand
        self.max_queue = max_queue
        self._pending: deque[Item] = deque()
        self._head: list[Item] = []  # taken from the queue, not yet committed: retried first
        self._held = 0  # len(self._head), kept by the writer thread for submit()'s bound
        self._room = max_queue  # 0 once stopped
        self._dropping = False  # a copy of losses.dropping, read on every submit
        # when the queue was last taken empty: everything queued now came after it (the age
        # of the oldest unwritten item, to within a commit interval, without a clock per item)
        self._drained_at = clock()
        self._head_since = self._drained_at
        self._stop = threading.Event()  # finish: write everything queued, then end
        self._abandon = threading.Event()  # end now: stop's time is up
        self._closed = False
        self.thread: threading.Thread | None = None
        self.health = WriteHealth(
            retry_initial=retry_initial, retry_max=retry_max, clock=clock, jitter=jitter
        )
        self.losses = LossLedger()
        self.written: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.lost_at_stop = 0
        self._stopped: bool | None = None  # stop()'s answer, once it was called
        self.last_commit_at: float | None = None
        self.last_commit_seconds: float | None = None

    # -- producers (any thread) -------------------------------------------------------------
    def submit(self, item: Item) -> bool:
        """Queue ``item``; False when it was dropped (counted, and its span kept as a gap)."""
        # the hot path (the engine thread, every event): three loads, one append
        if len(self._pending) + self._held < self._room:
            self._pending.append(item)
            if self._dropping:
                self._room_again()
            return True
        return self._lose(item)

    def _lose(self, item: Item) -> bool:
        if self._closed:  # only a producer that outlived its own stop gets here
            if not self.lost_at_stop:
                log.error("history writer is stopped: a %s submitted later is not stored",
                          kind_of(item))  # fmt: skip
            self.lost_at_stop += 1
            return False
        kept = self.losses.lose(item, self.max_queue)
        self._dropping = self.losses.dropping
        return kept

    def _room_again(self) -> None:
        self._dropping = False
        self.losses.room_again()

    @property
    def queued(self) -> int:
        """Items submitted and not yet committed."""
        return len(self._pending) + self._held

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> HistoryWriter:
        self.thread = threading.Thread(target=self._run, name="heatmap-history", daemon=True)
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Write everything queued, then end the thread; True when all of it was committed.
        Past ``timeout`` (the store still failing) the thread is told to end and what is left
        is logged and counted as lost."""
        if self._stopped is not None:
            return self._stopped
        self.losses.close()  # the producers have stopped: an open run of drops becomes a gap
        self._dropping = False
        self._stop.set()
        if self.thread is None and (self.queued or self.losses.waiting):
            self.start()  # never started, but items were queued: write them now
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                self._abandon.set()
                self.thread.join(2.0)  # an attempt in progress ends within SQLite's busy wait
        self._closed, self._room = True, 0
        left = self.queued + self.losses.waiting
        if left and not self.alive:
            self.lost_at_stop += left
            cause = CAUSES.get(self.health.cause or "", "time ran out")
            log.error("history: %d items were not written before stop (%s)", left, cause)
        if not self.alive:
            self._stopped = not left
        return not self.alive and not left

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is committed (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while (self.queued or self.losses.gaps_waiting) and time.monotonic() < deadline:
            time.sleep(0.005)
        return not (self.queued or self.losses.gaps_waiting)

    def _run(self) -> None:
        next_prune = self.clock()
        while not self._abandon.is_set():
            self._fill_head()
            if not self._write_head():
                self._abandon.wait(self.health.retry_delay)
                continue
            if self.clock() >= next_prune:
                self._prune()
                next_prune = self.clock() + self.prune_every_seconds
            if self._stop.is_set() and not (self.queued or self.losses.waiting):
                return

    def _fill_head(self) -> None:
        """Waits up to one commit interval when idle, then tops the head batch up from the
        queue (oldest first) to ``batch_limit``."""
        if not self._head and not self._pending:
            self._stop.wait(self.commit_interval)
        now, pending = self.clock(), self._pending
        take = min(len(pending), self.batch_limit - len(self._head))
        if take > 0:
            if not self._head:
                self._head_since = self._drained_at
            self._head = self._head + [pending.popleft() for _ in range(take)]
            self._held = len(self._head)
        if not pending:
            self._drained_at = now

    def _write_head(self) -> bool:
        """Commits the waiting gaps and the head batch; False when the store failed (what was
        not committed stays first in line)."""
        gaps = self.losses.take()
        entries: list[Any] = [*gaps, *self._head]
        if not entries:
            return True
        done = self._commit(entries)
        self.losses.put_back(gaps[done:])
        self._head = self._head[max(0, done - len(gaps)) :]
        self._held = len(self._head)
        if done < len(entries):
            return False
        self.health.succeeded(self.queued)
        return True

    def _commit(self, entries: list[Any]) -> int:
        """Writes ``entries`` in one transaction; returns how many leading entries are done
        with (committed, or rejected as unstorable): fewer than all when the store failed."""
        started = time.perf_counter()
        liqs, prices, candles, interest, gaps = _split(entries)
        try:
            inserted = self.store.write_batch(
                liqs, prices, candles, interest, gaps=gaps,
                meta={"last_alive_ms": str(time.time_ns() // 1_000_000)},
            )  # fmt: skip
        except Exception as exc:  # the loop boundary: classified, counted, retried or isolated
            if classify(exc) != "bad_item":
                self.health.failed(exc, self.queued)
                return 0
            if len(entries) == 1:
                self._reject(entries[0], exc)
                return 1
            middle = len(entries) // 2
            done = self._commit(entries[:middle])
            return done if done < middle else middle + self._commit(entries[middle:])
        counts = Counter(kind_of(item) for item in entries)
        counts["liquidations"] = inserted  # new ones: a repeat (by natural key) is not counted
        self.written.update(counts)
        self.last_commit_at = time.time()
        self.last_commit_seconds = time.perf_counter() - started
        return len(entries)

    def _reject(self, item: Any, exc: Exception) -> None:
        kind = kind_of(item)
        if not self.rejected[kind]:
            log.error("history: a %s the store cannot take is not stored (%s: %s): %r",
                      kind, type(exc).__name__, exc, item)  # fmt: skip
        self.rejected[kind] += 1

    def _prune(self) -> None:
        if self.health.failing:
            return  # a delete needs room in the journal too; prune once writes work again
        now_ms = time.time_ns() // 1_000_000
        for table, column, days in self.retention.rules():
            if days > 0:
                try:
                    removed = self.store.prune(table, column, now_ms - int(days * DAY_MS))
                except Exception as exc:  # the loop boundary: counted; the next prune retries
                    self.health.errors[classify(exc)] += 1
                    log.warning("pruning %s failed (%s: %s)", table, type(exc).__name__, exc)
                    continue
                if removed:
                    log.info("pruned %d %s older than %s days", removed, table, days)

    # -- readers ----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What is wrong with history now, in words (empty when nothing is)."""
        out = []
        if (problem := self.health.problem(self.queued)) is not None:
            out.append(problem)
        if self.losses.dropping:
            out.append(f"history queue full: {self.losses.dropped_total:,} items dropped")
        return out

    def status(self) -> dict[str, Any]:
        since = self._head_since if self._head else (self._drained_at if self._pending else None)
        health = self.health.status()
        if self._closed:
            health["state"] = "stopped"
        elif self.thread is None:
            health["state"] = "not started"
        return {
            **health,
            "problems": self.problems(),
            "queued": self.queued,
            "queue_capacity": self.max_queue,
            "queue_full": self.losses.dropping,
            "oldest_queued_seconds": None if since is None else self.clock() - since,
            "gaps_waiting": self.losses.waiting,
            "written": dict(self.written),
            "dropped": dict(self.losses.dropped),
            "dropped_total": self.losses.dropped_total,
            "rejected": dict(self.rejected),
            "lost_at_stop": self.lost_at_stop,
            "last_commit_at": self.last_commit_at,
            "last_commit_duration_ms": (
                None if self.last_commit_seconds is None else self.last_commit_seconds * 1000
            ),
        }


def _split(items) -> tuple[list, list, list, list, list]:
    """Items by table, in order: liquidations, mark prices, candles, open interest, gaps."""
    liqs: list = []
    prices: list = []
    candles: list = []
    interest: list = []
    gaps: list = []
    by_type = {Liquidation: liqs, MarkPrice: prices, Candle: candles, Gap: gaps}
    for item in items:
        by_type.get(type(item), interest).append(item)
    return liqs, prices, candles, interest, gaps
