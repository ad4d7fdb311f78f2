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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson

from heatmap_engine.history.schema import enter_wal, migrate
from heatmap_engine.models import LONG, SHORT, Candle, Liquidation, MarkPrice, OpenInterest

SIDES = (LONG, SHORT)
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
LIQ_COLUMNS = (
    "id, exchange, symbol, side, price, quantity, notional_usd, event_time_ms, received_at_ms,"
    " status"
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


def _liquidation(row: sqlite3.Row | tuple) -> Liquidation:
    _, exchange, symbol, side, price, qty, notional, event_ms, received_ms, status = row
    return Liquidation(
        exchange, symbol, SIDES[side], price, qty, notional, event_ms, received_ms, status
    )


class SqliteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = self._connect(readonly=False)
        migrate(self._write)
        # one read connection per live thread; those of ended threads are closed when the next
        # reader is opened (a dev server starts a thread per request)
        self._readers: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._readers_lock = threading.Lock()

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
            before = conn.total_changes
            if liquidations:
                # One statement for the whole batch: SQLite walks the JSON array itself, so the
                # GIL is released once per batch instead of once per row (no convoy with the
                # ingesting thread). Floats survive JSON exactly (shortest round-trip repr).
                rows = orjson.dumps(
                    [(x.exchange, x.symbol, 0 if x.liquidated_side == LONG else 1, x.price,
                      x.quantity, x.notional_usd, x.event_time_ms, x.received_at_ms,
                      x.order_status) for x in liquidations]
                )  # fmt: skip
                conn.execute(INSERT_LIQUIDATIONS_JSON, (rows,))
            inserted = conn.total_changes - before
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
        return inserted

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
        cursor = self._write.execute(f"DELETE FROM {table} WHERE {column} < ?", (before_ms,))
        return cursor.rowcount

    # -- reads (any thread) -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def liquidations_since(
        self, start_ms: int, symbols: Iterable[str] | None = None
    ) -> Iterator[Liquidation]:
        """Stored liquidations with trade time >= ``start_ms`` (of ``symbols``, or all),
        oldest first within each symbol."""
        reader = self._reader()
        if symbols is None:
            symbols = [r[0] for r in reader.execute("SELECT DISTINCT symbol FROM liquidations")]
        for symbol in symbols:
            rows = reader.execute(
                f"SELECT {LIQ_COLUMNS} FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
                " ORDER BY event_time_ms",
                (symbol, start_ms),
            )
            for row in rows:
                yield _liquidation(row)

    def window_rows(self, symbol: str, start_ms: int, end_ms: int | None = None) -> list[tuple]:
        """(time, price, notional, side code, quantity, exchange) in [start_ms, end_ms), oldest
        first: the compact form a restart loads straight into the engine's columns."""
        return (
            self._reader()
            .execute(
                "SELECT event_time_ms, price, notional_usd, side, quantity, exchange"
                " FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
                " AND event_time_ms < ? ORDER BY event_time_ms",
                (symbol, start_ms, end_ms if end_ms is not None else 2**62),
            )
            .fetchall()
        )

    def symbols(self) -> list[str]:
        return [r[0] for r in self._reader().execute("SELECT DISTINCT symbol FROM liquidations")]

    def query_liquidations(
        self, symbol: str, start_ms: int, end_ms: int, *, min_notional: float = 0.0,
        side: str | None = None, limit: int = 1000, after: tuple[int, int] | None = None,
    ) -> list[tuple[int, Liquidation]]:  # fmt: skip
        """A page in (trade time, id) order; pass the last row's (time, id) as ``after`` for the
        next page (keyset paging: every page costs the same, however deep)."""
        sql = (f"SELECT {LIQ_COLUMNS} FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
               " AND event_time_ms < ? AND notional_usd >= ?")  # fmt: skip
        args: list[Any] = [symbol, start_ms, end_ms, min_notional]
        if after is not None:
            sql += " AND (event_time_ms > ? OR (event_time_ms = ? AND id > ?))"
            args += [after[0], after[0], after[1]]
        if side is not None:
            sql += " AND side = ?"
            args.append(SIDES.index(side))
        sql += " ORDER BY event_time_ms, id LIMIT ?"
        args.append(limit)
        return [(row[0], _liquidation(row)) for row in self._reader().execute(sql, args)]

    def window(self, symbol: str, start_ms: int, end_ms: int) -> list[Liquidation]:
        rows = self._reader().execute(
            f"SELECT {LIQ_COLUMNS} FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
            " AND event_time_ms <= ? ORDER BY event_time_ms",
            (symbol, start_ms, end_ms),
        )
        return [_liquidation(r) for r in rows]

    def mark_price_at(self, symbol: str, at_ms: int) -> tuple[float, int] | None:
        row = (
            self._reader()
            .execute(
                "SELECT price, time_ms FROM mark_prices WHERE symbol = ? AND time_ms <= ?"
                " ORDER BY time_ms DESC LIMIT 1",
                (symbol, at_ms),
            )
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int
    ) -> list[Candle]:
        rows = self._reader().execute(
            "SELECT * FROM candles WHERE symbol = ? AND interval = ? AND open_time_ms >= ?"
            " AND open_time_ms < ? ORDER BY open_time_ms LIMIT ?",
            (symbol, interval, start_ms, end_ms, limit),
        )
        return [Candle(*r[:13], bool(r[13])) for r in rows]

    def open_interest(
        self, symbol: str, period: str, start_ms: int, end_ms: int, limit: int
    ) -> list[OpenInterest]:
        rows = self._reader().execute(
            "SELECT exchange, symbol, time_ms, open_interest, open_interest_usd FROM open_interest"
            " WHERE symbol = ? AND period = ? AND time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms LIMIT ?",
            (symbol, period, start_ms, end_ms, limit),
        )
        return [OpenInterest(*r) for r in rows]

    def last_time(self, table: str, symbol: str, kind: str) -> int | None:
        """Newest stored candle open time (table 'candles', kind = interval) or OI time."""
        column, key = {
            "candles": ("open_time_ms", "interval"),
            "open_interest": ("time_ms", "period"),
        }[table]
        row = (
            self._reader()
            .execute(
                f"SELECT MAX({column}) FROM {table} WHERE symbol = ? AND {key} = ?", (symbol, kind)
            )
            .fetchone()
        )
        return row[0]

    def newest_liquidation_ms(self) -> int | None:
        return self._reader().execute("SELECT MAX(event_time_ms) FROM liquidations").fetchone()[0]

    def totals(self) -> dict[str, dict[str, float]]:
        rows = (
            self._reader()
            .execute(
                "SELECT side, COUNT(*), COALESCE(SUM(notional_usd), 0) FROM liquidations"
                " GROUP BY side"
            )
            .fetchall()
        )
        out = {side: {"count": 0, "notional_usd": 0.0} for side in SIDES}
        for side, count, notional in rows:
            out[SIDES[side]] = {"count": count, "notional_usd": notional}
        return out

    def gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._reader().execute(
            "SELECT kind, start_ms, end_ms, reason FROM gaps ORDER BY start_ms DESC LIMIT ?",
            (limit,),
        )
        return [{"kind": k, "start_ms": s, "end_ms": e, "reason": r} for k, s, e, r in rows]

    def integrity_check(self) -> str:
        return self._write.execute("PRAGMA integrity_check").fetchone()[0]

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.exists()
        )
