"""History in a running service: restart continuity, kill -9 safety, backfill manners, real data."""

from __future__ import annotations

import csv
import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from binance_frames import force_order, mark_price
from helpers import ROOT, real_data_dir, wait_until

from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.history.backfill import Backfill
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

LIQ = "!forceOrder@arr"
pytestmark = pytest.mark.slow


@pytest.fixture
def fake():
    server = FakeBinance().start()
    yield server
    server.stop()


def env_for(fake: FakeBinance, data_dir, **extra: str) -> dict[str, str]:
    env = {
        "HEATMAP_BINANCE_WS_URL": fake.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": fake.rest_base,
        "HEATMAP_UPDATE_INTERVAL": "0.05",
        "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.02",
        "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.1",
        "HEATMAP_PRICE_STALE_SECONDS": "60",
        "HEATMAP_DATA_DIR": str(data_dir),
        "HEATMAP_BACKFILL": "0",
        "HEATMAP_MIN_CLUSTER_SIZE": "3",
    }
    env.update({f"HEATMAP_{k.upper()}": v for k, v in extra.items()})
    return env


def cluster_view(service: HeatmapService, symbol: str):
    snap = service.snapshot(symbol)
    return [
        (c.cluster_id, c.side, c.liquidation_count, round(c.total_notional, 6))
        for c in snap.clusters
    ]


def test_restart_shows_the_same_heatmap_and_counts(fake, tmp_path):
    settings = Settings.from_env(env_for(fake, tmp_path))
    first = HeatmapService(settings).start()
    try:
        assert fake.wait_for_subscribers(LIQ)
        now = wall_clock_ms()
        fake.publish("!markPrice@arr@1s", [mark_price("ETHUSDT", 3100.0, now)])
        for i in range(12):
            side = "SELL" if i % 3 else "BUY"
            fake.publish(
                LIQ, force_order("ETHUSDT", side, 3000.0 + i, 1.0 + i / 10, now - i * 60_000)
            )
        wait_until(lambda: first.status()["engine"]["liquidations"] == 12)
        wait_until(lambda: cluster_view(first, "ETHUSDT"))
        before_clusters = cluster_view(first, "ETHUSDT")
        before_counts = first.status()["engine"]["by_side"]
    finally:
        assert first.stop(5.0)
    second = HeatmapService(settings).start()
    try:
        wait_until(lambda: cluster_view(second, "ETHUSDT"))
        assert cluster_view(second, "ETHUSDT") == before_clusters
        assert second.status()["engine"]["by_side"] == before_counts
        assert second.status()["history"]["restored_on_start"] == 12
        gaps = second.status()["history"]["gaps"]
        wait_until(lambda: second.status()["history"]["gaps"])
        assert (
            any(
                g["reason"] == "service was not running" for g in second.status()["history"]["gaps"]
            )
            or gaps
        )
        # the next liquidation continues the count, and a repeat of an old one is not new
        fake.wait_for_subscribers(LIQ)
        fake.publish(LIQ, force_order("ETHUSDT", "SELL", 3001.0, 1.1, now - 60_000))  # old repeat
        fake.publish(LIQ, force_order("ETHUSDT", "SELL", 2990.0, 2.0, now + 1))
        wait_until(lambda: second.status()["engine"]["liquidations"] == 13)
        assert second.status()["engine"]["duplicates"] == 1
    finally:
        assert second.stop(5.0)


CHILD = """
import sys
from heatmap_engine.__main__ import main
sys.exit(main())
"""


def test_kill_9_twenty_times_loses_nothing_committed(fake, tmp_path):
    env = {**os.environ, **env_for(fake, tmp_path, update_interval="1", symbols="SOLUSDT")}
    db = tmp_path / "heatmap.sqlite3"
    rng = random.Random(5)
    published = 0
    now = wall_clock_ms()
    for kill in range(20):
        child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            assert fake.wait_for_subscribers(LIQ, timeout=20)
            deadline = time.monotonic() + rng.uniform(0.3, 1.5)
            while time.monotonic() < deadline:
                frame = force_order(
                    "SOLUSDT", rng.choice(["BUY", "SELL"]), 150.0, 1.0 + published, now + published
                )
                published += fake.publish(LIQ, frame)
                time.sleep(rng.uniform(0, 0.01))
            reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            committed = {
                r for r in reader.execute("SELECT event_time_ms, quantity FROM liquidations")
            }
            reader.close()
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        store = SqliteStore(db)
        try:
            assert store.integrity_check() == "ok"
            after = {
                r for r in store._write.execute("SELECT event_time_ms, quantity FROM liquidations")
            }
            assert committed <= after, f"kill {kill}: committed rows vanished"
            count = store._write.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]
            assert count == len(after), "a liquidation was stored twice"
        finally:
            store.close()
    assert published > 100


def test_backfill_survives_429_then_stops_on_418_and_resumes_without_duplicates(fake, tmp_path):
    store = SqliteStore(tmp_path / "h.sqlite3")
    written = []

    def emit(items):
        items = list(items)
        written.extend(items)
        candles = [i for i in items if not isinstance(i, tuple)]
        oi = [i for i in items if isinstance(i, tuple)]
        store.write_batch([], [], candles, oi)

    rest = BinanceRest(fake.rest_base, timeout=5)
    backfill = Backfill(rest, store, emit, kline_days=2, oi_days=1)
    fake.fail_next_rest(429, count=1, retry_after=1)
    started = time.monotonic()
    assert backfill.run(["BTCUSDT"]) is True
    assert time.monotonic() - started >= 0.9, "the 429's Retry-After was not honoured"
    assert backfill.status()["rate_limited"] == 1
    first = store.candles("BTCUSDT", "1m", 0, 2**62, 10_000)
    assert len(first) >= 2 * 1440 - 2
    fake.fail_next_rest(418, count=1)
    requests_before = len(fake.rest_requests)
    assert backfill.run(["ETHUSDT"]) is False
    assert len(fake.rest_requests) - requests_before == 1, "kept asking while banned"
    assert backfill.status()["banned_for_seconds"] > 60
    rest.blocked_until = 0.0  # the ban is over
    assert backfill.run(["BTCUSDT", "ETHUSDT"]) is True
    btc = store.candles("BTCUSDT", "1m", 0, 2**62, 10_000)
    times = [c.open_time_ms for c in btc]
    assert times == sorted(set(times)), "duplicate or unordered candles"
    assert all(b - a == 60_000 for a, b in itertools.pairwise(times))
    assert len(store.candles("ETHUSDT", "1m", 0, 2**62, 10_000)) >= 2 * 1440 - 2
    assert store.open_interest("ETHUSDT", "5m", 0, 2**62, 1000)
    store.close()


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_real_klines_round_trip_through_rest_backfill_and_store(tmp_path):
    klines = real_data_dir("binance-um-klines-1m-2025-10") / "BTC-USDT-1m.csv"
    with klines.open() as handle:
        rows = list(csv.DictReader(handle))[:3000]
    rest_rows = [
        [_ms(r["datetime"]), r["open"], r["high"], r["low"], r["close"], r["volume"],
         _ms(r["datetime"]) + 59_999, "0", 0, "0", "0", "0"]
        for r in rows
    ]  # fmt: skip
    end_ms = rest_rows[-1][0] + 60_000
    store = SqliteStore(tmp_path / "h.sqlite3")
    with FakeBinance(clock=lambda: end_ms / 1000) as fake:
        fake.set_klines("BTCUSDT", rest_rows, interval="1m")
        emit = lambda items: store.write_batch([], [], *_split(list(items)))  # noqa: E731
        rest = BinanceRest(fake.rest_base)
        backfill = Backfill(rest, store, emit, kline_days=3, oi_days=0, clock=lambda: end_ms / 1000)
        assert backfill.run(["BTCUSDT"])
    stored = store.candles("BTCUSDT", "1m", 0, 2**62, 10_000)
    expected = [
        (r[0], float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rest_rows
    ]
    assert [(c.open_time_ms, c.open, c.high, c.low, c.close, c.volume) for c in stored] == expected
    store.close()


def test_real_open_interest_round_trips_through_rest_backfill_and_store(tmp_path):
    folder = real_data_dir("binance-btcusdt-5m-oi-2026-05-06")
    with (folder / "btcusdt_5m_oi_2026-05-25_to_06-08.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # the file's oi is in USD: base units = USD / close price, as openInterestHist reports both
    hist = [
        {"symbol": "BTCUSDT",
         "sumOpenInterest": f"{float(r['oi_close']) / float(r['price_close']):.8f}",
         "sumOpenInterestValue": r["oi_close"], "timestamp": int(r["timestamp"])}
        for r in rows
    ]  # fmt: skip
    hist = sorted({h["timestamp"]: h for h in hist}.values(), key=lambda h: h["timestamp"])
    end_ms = hist[-1]["timestamp"] + 300_000
    store = SqliteStore(tmp_path / "h.sqlite3")
    with FakeBinance(clock=lambda: end_ms / 1000) as fake:
        fake.set_open_interest("BTCUSDT", "1", hist)
        emit = lambda items: store.write_batch([], [], *_split(list(items)))  # noqa: E731
        rest = BinanceRest(fake.rest_base)
        backfill = Backfill(
            rest, store, emit, kline_days=0, oi_days=30, clock=lambda: end_ms / 1000
        )
        assert backfill.run(["BTCUSDT"])
    stored = store.open_interest("BTCUSDT", "5m", 0, 2**62, 100_000)
    assert [(o.time_ms, o.open_interest_usd) for o in stored] == [
        (h["timestamp"], float(h["sumOpenInterestValue"])) for h in hist
    ]
    store.close()


def _split(items):
    return [i for i in items if not isinstance(i, tuple)], [
        i for i in items if isinstance(i, tuple)
    ]


def test_record_then_replay_into_a_fresh_store(fake, tmp_path):
    import threading

    from heatmap_engine.cli import record, replay

    out = tmp_path / "frames.jsonl"
    stop = threading.Event()
    settings = Settings.from_env(env_for(fake, tmp_path / "live", history="0"))
    worker = threading.Thread(target=record, args=(settings, out, 30.0, stop))
    worker.start()
    try:
        assert fake.wait_for_subscribers(LIQ)
        now = wall_clock_ms()
        for i in range(9):
            fake.publish(
                LIQ, force_order("BNBUSDT", "SELL" if i % 2 else "BUY", 600.0 + i, 2.0, now + i)
            )
        fake.publish(LIQ, "garbage frame")

        def flushed():  # a frame every 0.2 s lets the recorder's one-second flush run
            fake.publish("!markPrice@arr@1s", [mark_price("BNBUSDT", 600.0, wall_clock_ms())])
            time.sleep(0.2)
            return out.exists() and out.read_text().count('\\"e\\":\\"forceOrder') == 9

        wait_until(flushed)
    finally:
        stop.set()
        worker.join(15)
    fresh = Settings.from_env(env_for(fake, tmp_path / "replayed"))
    status, stopped = replay(fresh, out, speed=0.0, stop=threading.Event())
    assert stopped
    assert status["feed"]["parse_errors"] == {"not_json": 1}
    store = SqliteStore(tmp_path / "replayed" / "heatmap.sqlite3")
    totals = store.totals()
    store.close()
    assert totals["long"]["count"] + totals["short"]["count"] == 9
    assert totals["long"]["count"] == 4  # SELL orders close longs
