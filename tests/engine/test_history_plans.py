"""The store's keys lead with what its queries filter by, on new stores and on old ones.

A store made by the first schema (its DDL copied below as it shipped) opens, is migrated in
place with every row kept, and then every read the API, the dashboard, the start-up and the
backfill make is planned by SQLite as an index search, never a scan of a table.
"""

from __future__ import annotations

import sqlite3

import pytest

from heatmap_engine.history.past_heatmap import heatmap_at
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest

NOW = 1_800_000_000_000
TABLES = {"liquidations", "mark_prices", "candles", "open_interest", "gaps", "meta"}
# the first schema (user_version 1) exactly as main created it before the migration
SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE liquidations (
    id INTEGER PRIMARY KEY, exchange TEXT NOT NULL, symbol TEXT NOT NULL,
    side INTEGER NOT NULL, price REAL NOT NULL, quantity REAL NOT NULL,
    notional_usd REAL NOT NULL, event_time_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL, status TEXT NOT NULL,
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
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL, reason TEXT NOT NULL
);
PRAGMA user_version = 1;
"""
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def old_store(path) -> None:
    """A version-1 store with rows in every table, written with plain SQL."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V1)
    for n, symbol in enumerate(SYMBOLS):
        conn.executemany(
            "INSERT INTO liquidations (exchange, symbol, side, price, quantity, notional_usd,"
            " event_time_ms, received_at_ms, status) VALUES ('binance',?,?,?,?,?,?,?,'FILLED')",
            [(symbol, i % 2, 100.0 + n, 1.0 + i, (100.0 + n) * (1.0 + i), NOW - i * 1000,
              NOW - i * 1000 + 5) for i in range(10)],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO candles VALUES ('binance',?,'1m',?,?,1,2,0.5,1.5,10,15,5,7,1)",
            [(symbol, NOW - i * 60_000, NOW - i * 60_000 + 59_999) for i in range(5)],
        )
        conn.executemany(
            "INSERT INTO open_interest VALUES ('binance',?,'5m',?,1000,150000)",
            [(symbol, NOW - i * 300_000) for i in range(4)],
        )
        conn.executemany(
            "INSERT INTO mark_prices VALUES ('binance',?,?,?)",
            [(symbol, NOW - i * 1000, 100.0 + n) for i in range(3)],
        )
    conn.execute(
        "INSERT INTO gaps (kind, start_ms, end_ms, reason) VALUES ('liquidations',1,2,'x')"
    )
    conn.commit()
    conn.close()


def key_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    return [r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5])]


def test_a_store_of_the_first_schema_is_migrated_in_place_with_its_rows(tmp_path):
    path = tmp_path / "heatmap.sqlite3"
    old_store(path)
    store = SqliteStore(path)
    try:
        raw = store._write
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
        assert key_columns(raw, "candles") == ["symbol", "interval", "open_time_ms", "exchange"]
        assert key_columns(raw, "open_interest") == ["symbol", "period", "time_ms", "exchange"]
        assert key_columns(raw, "mark_prices") == ["symbol", "time_ms", "exchange"]
        for symbol in SYMBOLS:
            assert len(store.window_rows(symbol, 0)) == 10
            candles = store.candles(symbol, "1m", 0, 2**62, 100)
            assert [c.open_time_ms for c in candles] == [NOW - i * 60_000 for i in range(4, -1, -1)]
            assert candles[0].close == 1.5 and candles[0].trades == 7 and candles[0].closed
            oi = store.open_interest(symbol, "5m", 0, 2**62, 100)
            assert [o.open_interest_usd for o in oi] == [150000.0] * 4
            assert store.mark_price_at(symbol, NOW)[1] == NOW
        # the totals carried on at start are those of the rows, summed independently here
        count = {0: 0, 1: 0}
        for i in range(10):
            count[i % 2] += len(SYMBOLS)
        totals = store.totals()
        assert totals["long"]["count"] == count[0] and totals["short"]["count"] == count[1]
        expected_long = sum((100.0 + n) * (1.0 + i) for n in range(3) for i in range(0, 10, 2))
        assert totals["long"]["notional_usd"] == pytest.approx(expected_long)
        assert store.gaps() == [{"kind": "liquidations", "start_ms": 1, "end_ms": 2,
                                 "reason": "x"}]  # fmt: skip
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    reopened = SqliteStore(path)  # a second open finds nothing to migrate
    assert reopened.totals()["long"]["count"] == count[0]
    reopened.close()


def test_totals_follow_inserts_duplicates_and_prunes(tmp_path):
    store = SqliteStore(tmp_path / "h.sqlite3")
    try:
        rows = [Liquidation("binance", "BTCUSDT", "long", 10.0, 1.0, 10.0, NOW - i, NOW)
                for i in range(5)]  # fmt: skip
        store.write_batch(rows)
        store.write_batch(rows)  # duplicates: not counted twice
        assert store.totals()["long"] == {"count": 5, "notional_usd": 50.0}
        assert store.prune("liquidations", "event_time_ms", NOW - 2) == 2  # NOW-4, NOW-3
        assert store.totals()["long"] == {"count": 3, "notional_usd": 30.0}
    finally:
        store.close()


def planned_statements(store: SqliteStore) -> list[str]:
    """Every statement the store's reads send, with their values, as the callers send them."""
    sent: list[str] = []
    reader = store._reader()
    reader.set_trace_callback(sent.append)
    store.window_rows("BTCUSDT", NOW - 3_600_000)
    store.window_rows("BTCUSDT", NOW - 3_600_000, NOW)
    store.window("BTCUSDT", NOW - 3_600_000, NOW)
    store.query_liquidations("BTCUSDT", 0, NOW, min_notional=5.0, side="long", after=(NOW, 3))
    list(store.liquidations_since(NOW - 60_000))
    store.mark_price_at("BTCUSDT", NOW)
    store.candles("BTCUSDT", "1m", NOW - 86_400_000, NOW, 1440)
    store.candle_bar_rows("BTCUSDT", "1m", NOW - 86_400_000, NOW, 1440)
    store.open_interest("BTCUSDT", "5m", NOW - 86_400_000, NOW, 288)
    store.last_time("candles", "BTCUSDT", "1m")
    store.last_time("open_interest", "BTCUSDT", "5m")
    store.holes("candles", "BTCUSDT", "1m", 60_000, NOW - 86_400_000, NOW)
    store.holes("open_interest", "BTCUSDT", "5m", 300_000, NOW - 86_400_000, NOW)
    store.newest_liquidation_ms()
    for table in ("liquidations", "candles", "open_interest", "mark_prices"):
        store.symbols(table)
    store.totals()
    store.gaps(20)
    store.get_meta("last_alive_ms")
    heatmap_at(store, "BTCUSDT", NOW, _params())
    reader.set_trace_callback(None)
    return sent


def _params():
    from heatmap_engine.config import Settings
    from heatmap_engine.engine import Engine

    return Engine(Settings.from_env({})).params


def test_every_read_is_an_index_search_never_a_table_scan(tmp_path):
    path = tmp_path / "heatmap.sqlite3"
    old_store(path)  # the migrated store: its plans are what a long-running install gets
    store = SqliteStore(path)
    try:
        store.write_batch([], [MarkPrice("binance", "BTCUSDT", 100.0, NOW)],
                          [Candle("binance", "BTCUSDT", "1m", NOW, NOW + 59_999, 1, 1, 1, 1, 1,
                                  1, 1, 1)],
                          [("5m", OpenInterest("binance", "BTCUSDT", NOW, 1.0, 1.0))])  # fmt: skip
        statements = planned_statements(store)
        assert len(statements) >= 20
        conn = store._write
        for sql in statements:
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
            scans = [step for step in plan if step.startswith("SCAN ")
                     and step.split()[1] in TABLES | {"liquidation_totals"}]  # fmt: skip
            assert not scans, f"{sql}\n  plans a table scan: {plan}"
            # a sort of the whole result is a scan in disguise ("RIGHT PART": ties within one
            # time, by id, are sorted as they come)
            sorts = [step for step in plan if step.startswith("USE TEMP B-TREE FOR ORDER BY")]
            assert not sorts, f"{sql}\n  sorts: {plan}"
            assert any(step.startswith("SEARCH ") for step in plan), f"{sql}\n  {plan}"
    finally:
        store.close()
