"""The SQLite store and its writer: natural-key dedupe, paging, totals, loud drops, retention."""

from __future__ import annotations

import sqlite3

import pytest

from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.history.writer import Gap, HistoryWriter, Retention
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest

NOW = 1_800_000_000_000


def liq(i: int, symbol="BTCUSDT", side="long", price=100.0) -> Liquidation:
    return Liquidation(
        "binance", symbol, side, price + i, 1.0 + i, (price + i) * (1.0 + i), NOW + i, NOW + i + 5
    )


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "h.sqlite3")
    yield s
    s.close()


def test_schema_is_versioned_and_wal(store, tmp_path):
    raw = sqlite3.connect(tmp_path / "h.sqlite3")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    SqliteStore(tmp_path / "h.sqlite3").close()  # reopening migrates nothing twice


def test_duplicates_are_stored_once_and_totals_add_up(store):
    events = [liq(i, side="long" if i % 3 else "short") for i in range(30)]
    assert store.write_batch(events) == 30
    assert store.write_batch(events[:10]) == 0
    totals = store.totals()
    assert totals["long"]["count"] == 20 and totals["short"]["count"] == 10
    assert totals["long"]["notional_usd"] + totals["short"]["notional_usd"] == pytest.approx(
        sum(e.notional_usd for e in events)
    )
    back = list(store.liquidations_since(NOW + 25))
    assert back == events[25:]  # the same normalised objects come back


def test_query_pages_filters_and_side(store):
    store.write_batch([liq(i, side="long" if i % 2 else "short") for i in range(50)])
    seen, after = [], None
    while page := store.query_liquidations("BTCUSDT", NOW, NOW + 100, limit=7, after=after):
        seen += [x for _, x in page]
        after = (page[-1][1].event_time_ms, page[-1][0])
    assert len(seen) == 50
    assert [x.event_time_ms for x in seen] == sorted(x.event_time_ms for x in seen)
    shorts = store.query_liquidations("BTCUSDT", NOW, NOW + 100, side="short", min_notional=1000)
    assert all(x.liquidated_side == "short" and x.notional_usd >= 1000 for _, x in shorts)
    assert store.query_liquidations("ETHUSDT", NOW, NOW + 100) == []


def test_candles_open_interest_prices_and_gaps(store):
    candle = Candle(
        "binance", "BTCUSDT", "1m", NOW, NOW + 59_999, 1, 2, 0.5, 1.5, 10, 15, 4, 7, False
    )
    store.write_batch(
        [],
        [MarkPrice("binance", "BTCUSDT", 101.0, NOW)],
        [candle],
        [("5m", OpenInterest("binance", "BTCUSDT", NOW, 5.0, 500.0))],
    )
    closed = Candle(*[getattr(candle, f) for f in candle.__slots__][:13], True)
    store.write_batch([], [], [closed], [])  # the later frame replaces the forming one
    assert store.candles("BTCUSDT", "1m", NOW, NOW + 1, 10) == [closed]
    assert store.last_time("candles", "BTCUSDT", "1m") == NOW
    assert store.open_interest("BTCUSDT", "5m", 0, NOW + 1, 10)[0].open_interest_usd == 500.0
    assert store.mark_price_at("BTCUSDT", NOW + 5) == (101.0, NOW)
    assert store.mark_price_at("BTCUSDT", NOW - 5) is None
    store.record_gap("liquidations", NOW, NOW + 10, "reconnect")
    assert store.gaps() == [
        {"kind": "liquidations", "start_ms": NOW, "end_ms": NOW + 10, "reason": "reconnect"}
    ]


def test_writer_commits_batches_and_flushes_on_stop(store):
    writer = HistoryWriter(store, commit_interval=0.05).start()
    for i in range(1000):
        assert writer.submit(liq(i))
    writer.submit(Gap("liquidations", 1, 2, "test"))
    assert writer.flush(5.0)
    assert store.totals()["long"]["count"] == 1000
    assert writer.status()["written"]["liquidations"] == 1000
    assert writer.stop(5.0)
    assert store.get_meta("last_alive_ms") is not None


def test_a_full_queue_is_said_loudly_not_silently(store, caplog):
    writer = HistoryWriter(store, max_queue=5)  # not started: nothing drains the queue
    results = [writer.submit(liq(i)) for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert writer.status()["dropped"] == {"liquidations": 3}
    assert "history queue full" in caplog.text


def test_retention_prunes_only_what_is_configured(store):
    import time

    now = int(time.time() * 1000)  # retention counts back from the wall clock
    old = now - 40 * 86_400_000
    store.write_batch(
        [liq(0)],
        [MarkPrice("binance", "BTCUSDT", 1.0, old), MarkPrice("binance", "BTCUSDT", 2.0, now)],
        [],
        [],
    )
    writer = HistoryWriter(store, retention=Retention(mark_prices_days=30))
    writer._prune()
    assert store.mark_price_at("BTCUSDT", old + 1) is None
    assert store.mark_price_at("BTCUSDT", now) == (2.0, now)
    assert store.totals()["long"]["count"] == 1  # liquidations are kept forever by default
    with pytest.raises(ValueError):
        store.prune("meta", "key", 0)


def test_heatmap_at_a_past_time_matches_the_live_engine(store):
    from heatmap_engine.clusters import ClusterParams
    from heatmap_engine.config import Settings
    from heatmap_engine.engine import Engine
    from heatmap_engine.history.past_heatmap import heatmap_at

    events = [liq(i % 7, side="long" if i % 2 else "short") for i in range(40)]
    events = [
        Liquidation(
            e.exchange,
            e.symbol,
            e.liquidated_side,
            e.price,
            e.quantity + i,
            e.notional_usd,
            NOW - i * 60_000,
            NOW,
        )
        for i, e in enumerate(events)
    ]
    store.write_batch(events, [MarkPrice("binance", "BTCUSDT", 104.0, NOW - 1)], [], [])
    at = NOW - 10 * 60_000
    past = heatmap_at(store, "BTCUSDT", at, ClusterParams(0.02, 5, 3_600_000))
    engine = Engine(Settings.from_env({"HEATMAP_SYMBOLS": "BTCUSDT"}), clock=lambda: at)
    engine.process([e for e in events if e.event_time_ms <= at])
    engine.refresh()
    live = engine.snapshot("BTCUSDT")
    assert past.clusters and [c.cluster_id for c in past.clusters] == [
        c.cluster_id for c in live.clusters
    ]
    for a, b in zip(past.clusters, live.clusters, strict=True):
        assert a.liquidation_count == b.liquidation_count
        assert a.strength == b.strength  # both published to 4 decimals
    assert past.current_price is None  # the only stored price is after `at`
    assert past.computed_at_ms == at


def test_candles_aggregate_to_longer_intervals():
    from heatmap_engine.candles import aggregate_candles

    base = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000
    ones = [
        Candle(
            "binance",
            "X",
            "1m",
            base + m * 60_000,
            base + m * 60_000 + 59_999,
            10 + m,
            20 + m,
            5 + m,
            11 + m,
            1.0,
            2.0,
            0.5,
            3,
            True,
        )
        for m in range(120)
    ]
    hours = aggregate_candles(ones, "1h")
    assert [h.open_time_ms for h in hours] == [base, base + 3_600_000]
    first = hours[0]
    assert (first.open, first.high, first.low, first.close) == (10, 79, 5, 70)
    assert first.volume == 60.0 and first.trades == 180 and first.closed


def test_read_connections_of_ended_threads_are_closed(store):
    import threading

    store.write_batch([liq(0)])
    for _ in range(50):
        worker = threading.Thread(target=store.totals)
        worker.start()
        worker.join()
    store.totals()
    assert store.open_readers() <= 2  # this thread's, and at most the last worker's
