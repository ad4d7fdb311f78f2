"""What history lost, kept so it stays visible for ever: gaps, and items a full queue dropped.

A ``Gap`` is a time span of one kind with nothing stored (a lost connection, the service not
running, a full queue). The ``LossLedger`` counts every item the writer's queue had no room for,
by kind, and keeps the time span of each run of such drops; when the queue has room again (or at
stop) the run becomes a gap. Gaps wait here, outside the bounded queue, until a commit takes
them: a gap is never dropped, even when it can only be written later.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from heatmap_engine.models import Candle, Liquidation, MarkPrice

log = logging.getLogger(__name__)
QUEUE_FULL = "history queue full: not stored"
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class Gap:
    kind: str
    start_ms: int
    end_ms: int
    reason: str


def kind_of(item: Any) -> str:
    """The table an item goes to: liquidations, mark_prices, candles, open_interest or gaps."""
    if isinstance(item, Liquidation):
        return "liquidations"
    if isinstance(item, MarkPrice):
        return "mark_prices"
    if isinstance(item, Candle):
        return "candles"
    if isinstance(item, Gap):
        return "gaps"
    return "open_interest"  # (period, OpenInterest)


def span_of(item: Any) -> tuple[int, int]:
    """The exchange-time span an item covers (an instant for all but candles), kept inside
    SQLite's integer range so the gap that records its loss can always be written."""
    if isinstance(item, Liquidation | MarkPrice):
        start = end = item.event_time_ms
    elif isinstance(item, Candle):
        start, end = item.open_time_ms, item.close_time_ms
    else:
        start = end = item[1].time_ms
    lo, hi = _INT64
    return max(lo, min(hi, int(start))), max(lo, min(hi, int(end)))


class LossLedger:
    """Dropped items counted by kind, the open spans of drops, and the gaps waiting to be
    written. Producers call ``lose``/``room_again`` from their threads; the writer ``take``s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.dropped: Counter[str] = Counter()
        self._runs: dict[str, list[int]] = {}
        self._gaps: list[Gap] = []
        self.dropping = False

    def lose(self, item: Any, capacity: int) -> bool:
        """An item the queue had no room for: a gap is kept (True: it will be written), any
        other item is counted as dropped and its time joins the current run of drops."""
        if isinstance(item, Gap):
            with self._lock:
                self._gaps.append(item)
            return True
        kind = kind_of(item)
        start, end = span_of(item)
        with self._lock:
            self.dropped[kind] += 1
            run = self._runs.setdefault(kind, [start, end])
            run[0], run[1] = min(run[0], start), max(run[1], end)
            first, self.dropping = not self.dropping, True
        if first:
            log.error(
                "history queue full (%d items): new items are dropped, counted and their time "
                "span recorded as a gap until it has room again", capacity,
            )  # fmt: skip
        return False

    def room_again(self) -> None:
        """The queue took an item again: each run of drops becomes a gap waiting to be written."""
        with self._lock:
            if not self.dropping:
                return
            self.dropping = False
            self._close_runs()
            dropped = dict(self.dropped)
        log.warning("history queue has room again; dropped so far: %s (recorded as gaps)", dropped)

    def close(self) -> None:
        """At stop: whatever run is open becomes a gap."""
        with self._lock:
            self.dropping = False
            self._close_runs()

    def _close_runs(self) -> None:
        for kind, (start, end) in self._runs.items():
            self._gaps.append(Gap(kind, start, end, QUEUE_FULL))
        self._runs.clear()

    def take(self) -> list[Gap]:
        with self._lock:
            gaps, self._gaps = self._gaps, []
        return gaps

    def put_back(self, gaps: list[Gap]) -> None:
        """Gaps a failed commit did not write: first in line again."""
        if gaps:
            with self._lock:
                self._gaps[:0] = gaps

    @property
    def gaps_waiting(self) -> int:
        """Gaps ready to be written."""
        return len(self._gaps)

    @property
    def waiting(self) -> int:
        """Gaps not yet written: the ready ones and the open runs of drops."""
        return len(self._gaps) + len(self._runs)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
