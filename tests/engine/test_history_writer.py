"""The history writer never discards: failed batches are retried in order, counters count only
commits, a full queue's drops are counted and kept as gaps, an unstorable item costs only itself.

The store fails for real: ``PRAGMA max_page_count`` on the writer's own connection caps the
database at its current size, so the next write that needs a page gets SQLite's real
SQLITE_FULL ("database or disk is full"), the same result code a full disk gives (the full-disk
test with a real filesystem is in test_history_disk.py); raising the cap is the disk freed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest
from helpers import wait_until

from heatmap_engine.history.failures import WriteHealth, classify
from heatmap_engine.history.losses import QUEUE_FULL
from heatmap_engine.history.schema import MIGRATIONS
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.history.writer import Gap, HistoryWriter
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest

NOW = 1_800_000_000_000


def liq(i: int) -> Liquidation:
    return Liquidation("binance", "BTCUSDT", "long", 100.0 + i, 1.0 + i, (100.0 + i) * (1.0 + i),
                       NOW + i, NOW + i + 5)  # fmt: skip


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "h.sqlite3")
    yield s
    s.close()


def fill_up(store: SqliteStore) -> None:
    """No page beyond those the database has now: the next growth is SQLITE_FULL."""
    pages = store._write.execute("PRAGMA page_count").fetchone()[0]
    store._write.execute(f"PRAGMA max_page_count = {pages}")


def free_up(store: SqliteStore) -> None:
    store._write.execute("PRAGMA max_page_count = 4294967294")


def fast_writer(store: SqliteStore, **options) -> HistoryWriter:
    return HistoryWriter(store, commit_interval=0.01, retry_initial=0.01, retry_max=0.02, **options)


def stored_liquidations(store: SqliteStore) -> list[tuple[int, float]]:
    rows = store._write.execute("SELECT event_time_ms, quantity FROM liquidations ORDER BY id")
    return rows.fetchall()


def test_a_batch_a_full_disk_refused_stays_queued_and_is_written_once_in_order(store, caplog):
    caplog.set_level(logging.INFO)
    fill_up(store)
    writer = fast_writer(store).start()
    candle = Candle("binance", "BTCUSDT", "1m", NOW, NOW + 59_999, 1, 2, 0.5, 1.5, 10, 15, 4, 7)
    writer.submit(MarkPrice("binance", "BTCUSDT", 101.0, NOW))
    writer.submit(candle)
    writer.submit(("5m", OpenInterest("binance", "BTCUSDT", NOW, 5.0, 500.0)))
    writer.submit(Gap("liquidations", NOW - 10, NOW - 5, "reconnect"))
    events = [liq(i) for i in range(300)]
    for event in events[:200]:
        writer.submit(event)
    wait_until(lambda: writer.status()["errors"].get("disk_full", 0) >= 3)
    status = writer.status()
    assert status["state"] == "failing" and status["last_error"] == "disk full"
    assert status["written"] == {}, "nothing was committed, so nothing counts as written"
    assert status["queued"] == 204 and status["oldest_queued_seconds"] > 0
    assert writer.problems() == ["history not saved: disk full (204 items waiting, retrying)"]
    for event in events[200:]:  # more arrive while the store fails: they queue behind
        writer.submit(event)
    free_up(store)
    assert writer.flush(10.0)
    assert stored_liquidations(store) == [(e.event_time_ms, e.quantity) for e in events]
    assert store.candles("BTCUSDT", "1m", NOW, NOW + 1, 10) == [candle]
    assert store.mark_price_at("BTCUSDT", NOW) == (101.0, NOW)
    assert store.gaps() == [
        {"kind": "liquidations", "start_ms": NOW - 10, "end_ms": NOW - 5, "reason": "reconnect"}
    ]
    status = writer.status()
    assert status["state"] == "ok" and writer.problems() == []
    assert status["written"] == {"liquidations": 300, "mark_prices": 1, "candles": 1,
                                 "open_interest": 1, "gaps": 1}  # fmt: skip
    assert writer.stop(5.0)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot write" in m for m in messages) == 1, "one line per state change"
    assert sum("writes again" in m for m in messages) == 1
    assert not any("rollback" in m for m in messages), messages


def test_a_full_queue_drops_are_counted_and_their_span_becomes_a_gap(store):
    fill_up(store)
    writer = fast_writer(store, max_queue=10).start()
    assert all(writer.submit(liq(i)) for i in range(10))
    assert [writer.submit(liq(i)) for i in range(10, 15)] == [False] * 5
    assert writer.submit(Gap("liquidations", 1, 2, "reconnect")), "a gap is never dropped"
    status = writer.status()
    assert status["dropped"] == {"liquidations": 5} and status["queue_full"]
    assert "history queue full: 5 items dropped" in writer.problems()
    free_up(store)
    wait_until(lambda: writer.status()["queued"] == 0)
    assert writer.submit(liq(20))  # room again: the run of drops is closed into a gap
    assert writer.flush(5.0)
    assert {(g["start_ms"], g["end_ms"], g["reason"]) for g in store.gaps()} == {
        (NOW + 10, NOW + 14, QUEUE_FULL),
        (1, 2, "reconnect"),
    }
    assert [t for t, _ in stored_liquidations(store)] == [NOW + i for i in [*range(10), 20]]
    assert writer.status()["dropped_total"] == 5, "the loss stays counted"
    assert writer.problems() == []
    assert writer.stop(5.0)


def test_a_drop_run_still_open_at_stop_is_written_as_a_gap(store):
    writer = HistoryWriter(store, max_queue=2)  # not started: the queue fills at once
    writer.submit(liq(0))
    writer.submit(liq(1))
    assert not writer.submit(liq(7))
    assert writer.stop(5.0)  # starts, writes what is queued, and the gap of the drop
    assert store.gaps() == [
        {"kind": "liquidations", "start_ms": NOW + 7, "end_ms": NOW + 7, "reason": QUEUE_FULL}
    ]
    assert len(stored_liquidations(store)) == 2


def test_an_item_sqlite_cannot_store_costs_only_itself(store, caplog):
    writer = fast_writer(store).start()
    events = [liq(i) for i in range(100)]
    for event in events[:50]:
        writer.submit(event)
    writer.submit(MarkPrice("binance", "BTCUSDT", 1.0, 2**70))  # beyond SQLite's integers
    for event in events[50:]:
        writer.submit(event)
    assert writer.flush(5.0)
    assert stored_liquidations(store) == [(e.event_time_ms, e.quantity) for e in events]
    status = writer.status()
    assert status["rejected"] == {"mark_prices": 1}
    assert status["state"] == "ok" and status["errors"] == {}
    assert "cannot take" in caplog.text
    assert writer.stop(5.0)


def test_stop_while_the_store_still_fails_says_what_was_not_written(store, caplog):
    fill_up(store)
    writer = fast_writer(store).start()
    for i in range(300):
        writer.submit(liq(i))
    wait_until(lambda: writer.status()["state"] == "failing")
    assert writer.stop(0.2) is False
    assert writer.status()["lost_at_stop"] == 300
    assert "300 items were not written before stop (disk full)" in caplog.text
    assert not writer.submit(liq(999))  # a late producer: counted, not silently queued
    assert writer.status()["lost_at_stop"] == 301


def test_backoff_doubles_from_its_start_to_its_cap_with_jitter():
    draws = iter([0.0, 1.0] * 10)
    health = WriteHealth(retry_initial=0.5, retry_max=4.0, jitter=lambda: next(draws))
    error = sqlite3.OperationalError("database or disk is full")
    delays = [health.failed(error, 1) for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert delays == [c * (0.5 if i % 2 == 0 else 1.0) for i, c in enumerate(ceilings)]
    health.succeeded(0)
    assert health.failed(error, 1) == 0.25, "a new failing stretch starts from the beginning"


def test_causes_come_from_sqlite_and_the_os(tmp_path, store):
    fill_up(store)
    with pytest.raises(sqlite3.Error) as full:
        store.write_batch([liq(i) for i in range(500)])
    reader = sqlite3.connect(f"file:{tmp_path / 'h.sqlite3'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as read_only:
        reader.execute("INSERT INTO meta VALUES ('a', 'b')")
    other = sqlite3.connect(tmp_path / "h.sqlite3", timeout=0, isolation_level=None)
    free_up(store)
    store._write.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.Error) as locked:
        other.execute("BEGIN IMMEDIATE")
    store._write.execute("ROLLBACK")
    with open("/dev/full", "wb", buffering=0) as device, pytest.raises(OSError) as enospc:
        device.write(b"x")  # the kernel's always-full device: ENOSPC
    causes = [classify(e.value) for e in (full, read_only, locked, enospc)]
    assert causes == ["disk_full", "read_only", "locked", "disk_full"]
    reader.close()
    other.close()


def test_several_connections_opening_one_fresh_file_migrate_it_once(tmp_path):
    for round_ in range(20):
        path = tmp_path / f"fresh-{round_}.sqlite3"
        errors: list[BaseException] = []
        barrier = threading.Barrier(3)

        def open_store(path=path, errors=errors, barrier=barrier):
            barrier.wait()
            try:
                SqliteStore(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [], f"round {round_}: {errors}"
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        raw.close()
