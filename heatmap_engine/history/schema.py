"""The store's schema and its migrations, applied in order and recorded in ``user_version``."""

from __future__ import annotations

import sqlite3

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
)


def migrate(conn: sqlite3.Connection) -> int:
    """Applies the migrations the database has not seen; returns the resulting version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this program ({len(MIGRATIONS)})"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
