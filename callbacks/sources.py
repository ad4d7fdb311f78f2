"""Everything the dashboard reads from the running service, in one place.

Reads only what is safe from a request thread: published snapshots and candles (immutable,
swapped whole by the engine thread), the feed's status, and the history store through its
per-thread read-only connections. Never the engine's live buffers.
"""

from __future__ import annotations

import time

import numpy as np

from dashboard.outage import FeedFacts
from dashboard.points import Points, rows_table
from heatmap_engine.candle_book import merge as merge_tables
from heatmap_engine.candle_book import rows_table as candle_table
from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.lru import SizedLru
from heatmap_engine.models import Snapshot
from heatmap_engine.service import HeatmapService

MAX_STORED_CANDLES = 20_000  # 7 days of 1-minute candles is 10,080
COARSE_MS = INTERVAL_MS["5m"]


def snapshot(service: HeatmapService, symbol: str) -> Snapshot | None:
    return service.snapshot(symbol)


def now_ms(service: HeatmapService) -> int:
    """The engine's "now": the wall clock live, the newest exchange time in a demo or replay."""
    engine_now = service.engine.now_ms()
    return engine_now if engine_now > 0 else time.time_ns() // 1_000_000


def candle_key(service: HeatmapService, symbol: str) -> tuple:
    """Changes whenever the in-memory candles of ``symbol`` change (a new or updated candle)."""
    table, _ = service.engine.state.candle_table(symbol)
    if not len(table):
        return ()
    last = table[-1]
    return (len(table), int(last["open_time_ms"]), float(last["close"]), float(last["high"]),
            float(last["low"]))  # fmt: skip


def candles(
    service: HeatmapService, symbol: str, start_ms: int, end_ms: int, interval: str = "1m"
) -> np.ndarray:
    """Candles in [start, end) for a view of ``interval``, as one table (``CANDLE_DTYPE``,
    sorted by open time, one row per open time; no ``Candle`` objects built): the engine's own
    1-minute candles for the day in memory (a forming candle included), the store's 1-minute
    candles before it, and, before the first of those, the store's 5-minute candles (the
    30-day backfill) when the view's interval is a multiple of 5 minutes; the view merges them
    into its interval."""
    table, _ = service.engine.state.candle_table(symbol)
    opens = table["open_time_ms"]
    first_in, end_in = np.searchsorted(opens, [start_ms, end_ms]).tolist()
    memory = table[first_in:end_in]
    memory_start = int(opens[first_in]) if first_in < len(table) else end_ms
    if service.history is None or memory_start <= start_ms:
        return memory
    store = service.history.store
    rows = store.candle_rows(symbol, "1m", start_ms, memory_start, MAX_STORED_CANDLES)
    stored = candle_table(rows)
    first = rows[0][0] if rows else memory_start
    written = [stored, memory]  # later tables win an open time
    if INTERVAL_MS[interval] % COARSE_MS == 0 and first - first % COARSE_MS > start_ms:
        coarse_end = first - first % COARSE_MS  # whole 5 minutes before the first 1m one
        rows = store.candle_rows(symbol, "5m", start_ms, coarse_end, MAX_STORED_CANDLES)
        written.insert(0, candle_table(rows, COARSE_MS))
    return merge_tables(written, sum(len(t) for t in written))


HOUR_MS = 3_600_000
SETTLED_MS = 120_000  # an hour this long past is complete in the store (commits lag <= 1 s)


class HourTables:
    """Complete past hours of stored liquidations, read once per (store, symbol, hour) and kept
    (least recently used first out): a 24-hour view then reads only the hour in progress from
    SQLite on every refresh, and a first view reads all its missing hours in one query."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._tables = SizedLru(maxsize)

    def get(self, store, symbol: str, hours: range) -> list[np.ndarray]:
        found = {h: self._tables.get((store, symbol, h)) for h in hours}
        missing = [h for h, table in found.items() if table is None]
        if missing:  # one read from the first missing hour to the end of the last
            table = rows_table(store.window_rows(symbol, missing[0], missing[-1] + HOUR_MS))
            starts = np.asarray(missing)
            first = np.searchsorted(table["time"], starts)
            last = np.searchsorted(table["time"], starts + HOUR_MS)
            for h, a, b in zip(missing, first.tolist(), last.tolist(), strict=True):
                found[h] = table[a:b]
                self._tables.put((store, symbol, h), found[h])
        return [found[h] for h in hours]


_HOURS = HourTables()


def liquidations(service: HeatmapService, symbol: str, start_ms: int, end_ms: int) -> Points | None:
    """Stored liquidations in [start, end], as columns; None when no history is kept."""
    if service.history is None:
        return None
    store = service.history.store
    settled = (time.time_ns() // 1_000_000 - SETTLED_MS) // HOUR_MS * HOUR_MS
    first_hour = -(-start_ms // HOUR_MS) * HOUR_MS  # the first whole hour inside the range
    last_hour = min(settled, end_ms // HOUR_MS * HOUR_MS)  # cached hours end here
    if last_hour <= first_hour:
        return Points.from_rows(store.window_rows(symbol, start_ms), end_ms)
    tables = [rows_table(store.window_rows(symbol, start_ms, first_hour))]
    tables += _HOURS.get(store, symbol, range(first_hour, last_hour, HOUR_MS))
    tables.append(rows_table(store.window_rows(symbol, last_hour)))
    return Points.from_tables(tables, end_ms)


def feed(service: HeatmapService) -> tuple[str, float | None, float, float | None, list[str]]:
    """(state, seconds since the last frame, the silence limit, how far the data is behind) of
    the feed, and the service's problems beyond it (history not saved ...)."""
    status = service.source.status() if service.source is not None else {}
    return (
        service.feed_state(),
        status.get("seconds_since_last_frame"),
        service.settings.feed_silence_seconds,
        service.feed_lag_seconds(),
        service.problems(),
    )


def feed_facts(service: HeatmapService) -> FeedFacts:
    """The feed's state and its source's status fields (what ``dashboard.outage`` reads)."""
    status = service.source.status() if service.source is not None else {}
    return FeedFacts.from_status(
        service.feed_state(), service.mode, status, service.settings.feed_silence_seconds
    )
