"""SQLite (WAL) implementation of the history store.

One connection writes (the history writer's thread); every other thread reads through its own
read-only connection, so API requests never wait for a write and never see a half batch.
WAL with ``synchronous=NORMAL`` keeps every committed transaction across a process crash
(``kill -9``); only a power loss can take the last commits.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

from heatmap_engine.history.reads import LIQ_COLUMNS, SIDES, StoreReads
from heatmap_engine.history.reads import liquidation as _liquidation
from heatmap_engine.history.schema import enter_wal, migrate
from heatmap_engine.models import LONG, Candle, Liquidation, MarkPrice, OpenInterest

__all__ = ["LIQ_COLUMNS", "SIDES", "HistoryStore", "SqliteStore", "_liquidation"]
PRUNABLE = {
    ("mark_prices", "time_ms"),
    ("liquidations", "event_time_ms"),
    ("candles", "open_time_ms"),
    ("open_interest", "time_ms"),
}
INSERT_LIQUIDATIONS_JSON = (
    "INSERT OR IGNORE INTO liquidations (exchange, symbol, side, price, quantity, notional_usd,"
    " event_time_ms, received_at_ms, status)"
    " SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,"
    " value->>7, value->>8 FROM json_each(?)"
)


class HistoryStore(Protocol):
    """What the engine, the writer and the runtime need from a durable store (a PostgreSQL
    implementation would provide the same)."""

    def write_batch(
        self,
        liquidations: list[Liquidation],
        prices: list[MarkPrice],
        candles: list[Candle],
        open_interest: list[tuple[str, OpenInterest]],
        meta: dict[str, str] | None = None,
        gaps: Iterable[Any] = (),
    ) -> int: ...
    def window_rows(self, symbol: str, start_ms: int, end_ms: int | None = None) -> list[tuple]: ...
    def symbols(self) -> list[str]: ...
    def totals(self) -> dict[str, dict[str, float]]: ...
    def close(self) -> None: ...


class SqliteStore(StoreReads):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = self._connect(readonly=False)
        migrate(self._write)
        # one read connection per live thread; those of ended threads are closed when the next
        # reader is opened (a dev server starts a thread per request)
        self._readers: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._readers_lock = threading.Lock()
        # symbol -> commits of this store that added closed candles or open interest of it:
        # readers caching results over those series (the estimated levels) key on it, so a
        # backfill filling an older hole is seen although the newest stored time is the same
        self._series_writes: dict[str, int] = {}

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            enter_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            # 16 MiB holds the right-hand edge of every key index for a few hundred symbols (where
            # new rows go); a miss is served by the OS page cache. It is allocated as the database
            # grows, so the cap is what a long run's memory settles at (64 MiB measured no faster)
            conn.execute("PRAGMA cache_size=-16384")
        # the writer is the only writer of its folder: a lock held by another program (a
        # backup, the sqlite3 shell) is waited out for a second, then retried with backoff
        conn.execute(f"PRAGMA busy_timeout={5000 if readonly else 1000}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        thread = threading.current_thread()
        entry = self._readers.get(thread.ident or 0)
        if entry is not None and entry[0] is thread:
            return entry[1]
        conn = self._connect(readonly=True)
        with self._readers_lock:
            for ident, (owner, old) in list(self._readers.items()):
                if not owner.is_alive() or ident == thread.ident:
                    old.close()
                    del self._readers[ident]
            self._readers[thread.ident or 0] = (thread, conn)
        return conn

    def open_readers(self) -> int:
        return len(self._readers)

    def close(self) -> None:
        with self._readers_lock:
            for _, conn in self._readers.values():
                conn.close()
            self._readers.clear()
        self._write.close()

    # -- writes (the writer thread) ---------------------------------------------------------
    def write_batch(
        self,
        liquidations: list[Liquidation],
        prices: list[MarkPrice] = (),  # type: ignore[assignment]
        candles: list[Candle] = (),  # type: ignore[assignment]
        open_interest: list[tuple[str, OpenInterest]] = (),  # type: ignore[assignment]
        meta: dict[str, str] | None = None,
        gaps: Iterable[Any] = (),
    ) -> int:
        """One transaction; duplicates (by natural key) are ignored, so a batch written again
        after a failed commit stores nothing twice. Returns the new liquidations. ``gaps`` are
        objects with ``kind``, ``start_ms``, ``end_ms`` and ``reason``."""
        conn = self._write
        conn.execute("BEGIN")
        try:
            inserted = 0
            if liquidations:
                # One statement for the whole batch: SQLite walks the JSON array itself, so the
                # GIL is released once per batch instead of once per row (no convoy with the
                # ingesting thread). Floats survive JSON exactly (shortest round-trip repr).
                rows = orjson.dumps(
                    [(x.exchange, x.symbol, 0 if x.liquidated_side == LONG else 1, x.price,
                      x.quantity, x.notional_usd, x.event_time_ms, x.received_at_ms,
                      x.order_status) for x in liquidations]
                )  # fmt: skip
                # rowcount: the rows this statement inserted (not the totals' trigger updates)
                inserted = conn.execute(INSERT_LIQUIDATIONS_JSON, (rows,)).rowcount
            conn.executemany(
                "INSERT OR REPLACE INTO mark_prices VALUES (?,?,?,?)",
                [(p.exchange, p.symbol, p.event_time_ms, p.mark_price) for p in prices],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO candles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(c.exchange, c.symbol, c.interval, c.open_time_ms, c.close_time_ms, c.open,
                  c.high, c.low, c.close, c.volume, c.quote_volume, c.taker_buy_volume, c.trades,
                  int(c.closed)) for c in candles],
            )  # fmt: skip
            conn.executemany(
                "INSERT OR REPLACE INTO open_interest VALUES (?,?,?,?,?,?)",
                [(o.exchange, o.symbol, period, o.time_ms, o.open_interest, o.open_interest_usd)
                 for period, o in open_interest],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO gaps (kind, start_ms, end_ms, reason) VALUES (?,?,?,?)",
                [(g.kind, g.start_ms, g.end_ms, g.reason) for g in gaps],
            )
            for key, value in (meta or {}).items():
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        written = {c.symbol for c in candles if c.closed} | {o.symbol for _, o in open_interest}
        for symbol in written:
            self._series_writes[symbol] = self._series_writes.get(symbol, 0) + 1
        return inserted

    def series_writes(self, symbol: str) -> int:
        """Commits of this store (since it was opened) that added closed candles or open
        interest of ``symbol``: moves with a backfill of an older hole as with a new bar."""
        return self._series_writes.get(symbol, 0)

    def _rollback(self) -> None:
        """Undo an open transaction. SQLite has already rolled back by itself after some errors
        (a full disk during COMMIT): then there is nothing to undo and nothing to report, so
        the caller's exception stays the one and only thing said about the failure."""
        if self._write.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # unusable: the original error says why
                self._write.execute("ROLLBACK")

    def record_gap(self, kind: str, start_ms: int, end_ms: int, reason: str) -> None:
        self._write.execute(
            "INSERT INTO gaps (kind, start_ms, end_ms, reason) VALUES (?,?,?,?)",
            (kind, start_ms, end_ms, reason),
        )

    def check_writable(self, now_ms: int) -> None:
        """A real write (``meta.last_open_ms``) in its own transaction: raises what the store
        would raise later (read-only database, full disk) while the service can still refuse
        to start."""
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_open_ms', ?)", (str(now_ms),))
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def prune(self, table: str, column: str, before_ms: int) -> int:
        if (table, column) not in PRUNABLE:
            raise ValueError(f"cannot prune {table}.{column}")
        # symbol by symbol: every key leads with the symbol, so each delete is an index search
        removed = 0
        for symbol in self.symbols(table):
            cursor = self._write.execute(
                f"DELETE FROM {table} WHERE symbol = ? AND {column} < ?", (symbol, before_ms)
            )
            removed += cursor.rowcount
        return removed

    def integrity_check(self) -> str:
        return self._write.execute("PRAGMA integrity_check").fetchone()[0]

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.exists()
        )
