"""The store's file: WAL journal, the schema and its migrations (applied in order, recorded in
``user_version``)."""

from __future__ import annotations

import sqlite3
import time

from heatmap_engine.history.failures import classify

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE liquidations (
        id INTEGER PRIMARY KEY,
        exchange TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side INTEGER NOT NULL,              -- 0: a long was liquidated, 1: a short
        price REAL NOT NULL,
        quantity REAL NOT NULL,
        notional_usd REAL NOT NULL,
        event_time_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        -- the natural key; led by (symbol, time) it also serves every per-symbol range query
        UNIQUE (symbol, event_time_ms, side, quantity, price, exchange)
    );
    CREATE TABLE mark_prices (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, time_ms INTEGER NOT NULL,
        price REAL NOT NULL,
        PRIMARY KEY (exchange, symbol, time_ms)
    ) WITHOUT ROWID;
    CREATE TABLE candles (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, interval TEXT NOT NULL,
        open_time_ms INTEGER NOT NULL, close_time_ms INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume REAL NOT NULL, quote_volume REAL NOT NULL, taker_buy_volume REAL NOT NULL,
        trades INTEGER NOT NULL, closed INTEGER NOT NULL,
        PRIMARY KEY (exchange, symbol, interval, open_time_ms)
    ) WITHOUT ROWID;
    CREATE TABLE open_interest (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, period TEXT NOT NULL,
        time_ms INTEGER NOT NULL, open_interest REAL NOT NULL, open_interest_usd REAL,
        PRIMARY KEY (exchange, symbol, period, time_ms)
    ) WITHOUT ROWID;
    CREATE TABLE gaps (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- what is missing, e.g. 'liquidations'
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 2: keys led by what every query filters by (symbol, then kind and time; the exchange
    # last), rebuilt in place with their rows; liquidation totals kept by triggers, so a start
    # reads two rows instead of summing the whole table
    """
    CREATE TABLE mark_prices_v2 (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, time_ms INTEGER NOT NULL,
        price REAL NOT NULL,
        PRIMARY KEY (symbol, time_ms, exchange)
    ) WITHOUT ROWID;
    INSERT INTO mark_prices_v2 SELECT exchange, symbol, time_ms, price FROM mark_prices;
    DROP TABLE mark_prices;
    ALTER TABLE mark_prices_v2 RENAME TO mark_prices;
    CREATE TABLE candles_v2 (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, interval TEXT NOT NULL,
        open_time_ms INTEGER NOT NULL, close_time_ms INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume REAL NOT NULL, quote_volume REAL NOT NULL, taker_buy_volume REAL NOT NULL,
        trades INTEGER NOT NULL, closed INTEGER NOT NULL,
        PRIMARY KEY (symbol, interval, open_time_ms, exchange)
    ) WITHOUT ROWID;
    INSERT INTO candles_v2 SELECT exchange, symbol, interval, open_time_ms, close_time_ms, open,
        high, low, close, volume, quote_volume, taker_buy_volume, trades, closed FROM candles;
    DROP TABLE candles;
    ALTER TABLE candles_v2 RENAME TO candles;
    CREATE TABLE open_interest_v2 (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, period TEXT NOT NULL,
        time_ms INTEGER NOT NULL, open_interest REAL NOT NULL, open_interest_usd REAL,
        PRIMARY KEY (symbol, period, time_ms, exchange)
    ) WITHOUT ROWID;
    INSERT INTO open_interest_v2 SELECT exchange, symbol, period, time_ms, open_interest,
        open_interest_usd FROM open_interest;
    DROP TABLE open_interest;
    ALTER TABLE open_interest_v2 RENAME TO open_interest;
    CREATE TABLE liquidation_totals (
        side INTEGER PRIMARY KEY, count INTEGER NOT NULL, notional_usd REAL NOT NULL
    );
    INSERT INTO liquidation_totals VALUES (0, 0, 0.0), (1, 0, 0.0);
    UPDATE liquidation_totals SET
        count = (SELECT COUNT(*) FROM liquidations WHERE side = liquidation_totals.side),
        notional_usd = (SELECT COALESCE(SUM(notional_usd), 0.0) FROM liquidations
                        WHERE side = liquidation_totals.side);
    CREATE TRIGGER liquidation_totals_insert AFTER INSERT ON liquidations BEGIN
        UPDATE liquidation_totals SET count = count + 1, notional_usd = notional_usd
            + NEW.notional_usd WHERE side = NEW.side;
    END;
    CREATE TRIGGER liquidation_totals_delete AFTER DELETE ON liquidations BEGIN
        UPDATE liquidation_totals SET count = count - 1, notional_usd = notional_usd
            - OLD.notional_usd WHERE side = OLD.side;
    END;
    CREATE INDEX gaps_by_start ON gaps (start_ms);
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Applies the migrations the database has not seen; returns the resulting version.

    Each runs in a ``BEGIN IMMEDIATE`` transaction that first reads the version again, so
    several connections opening one fresh file at once apply each migration exactly once (the
    others wait for the write lock, then find it done). ``conn`` must be in autocommit mode.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return len(MIGRATIONS)  # up to date: no write lock needed
    for number in range(1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema version {version} is newer than this program"
                    f" ({len(MIGRATIONS)})"
                )
            if version < number:
                for statement in _statements(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """A script's statements (``executescript`` would commit the surrounding transaction)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete statement in a migration: {pending.strip()[:60]!r}")
    return statements


def enter_wal(conn: sqlite3.Connection, patience: float = 5.0) -> None:
    """``journal_mode=WAL``. Switching a fresh file needs its exclusive lock, and SQLite answers
    "database is locked" at once (no busy wait) while another connection opens it too: wait
    for that one, as a busy wait would."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if classify(exc) != "locked" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
