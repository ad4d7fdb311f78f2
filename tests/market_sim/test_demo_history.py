"""A day of demo history reaches the real product through its own client: the backfill over
the fake's REST (30 days of candles and open interest, the last day fully simulated) and the
liquidation stream's prefill burst. Checked against the simulator's truth, not itself."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from heatmap_engine.config import Settings
from heatmap_engine.service import HeatmapService
from market_sim.demo import DemoMarket, start_demo_market
from market_sim.hub import wait_until

SYMBOLS = ["BTCUSDT", "1000PEPEUSDT", "SOLUSDT"]
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoMarket]:
    # starting now: the product's backfill asks for "the last N days" by its own clock
    market = start_demo_market(seed=5, speed=1.0, symbols=SYMBOLS, history_days=3.0)
    # the default prefill: 24 hours
    try:
        yield market
    finally:
        market.stop()


@pytest.fixture(scope="module")
def service(demo: DemoMarket, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeatmapService]:
    env = {
        "HEATMAP_BINANCE_WS_URL": demo.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": demo.rest_base,
        "HEATMAP_SYMBOLS": ",".join(SYMBOLS),
        "HEATMAP_DATA_DIR": str(tmp_path_factory.mktemp("demo-history")),
        "HEATMAP_KLINE_STREAMS": "0",  # every stored candle comes from the backfill
        "HEATMAP_BACKFILL_KLINE_DAYS": str(demo.history_days),
        # Binance's whole limits (the fake's): 30 days of open interest then take 16 s
        "HEATMAP_BACKFILL_WEIGHT_PER_MINUTE": "2400",
        "HEATMAP_BACKFILL_OI_REQUESTS_PER_5MIN": "1000",
    }
    svc = HeatmapService(Settings.from_env(env), mode="demo", event_time=True, clock=demo.clock_ms)
    svc.start()
    try:
        done = wait_until(lambda: _settled(svc, demo), 60.0)
        assert done, svc.status()["history"]
        demo.runner.stop()  # freeze the market; what was sent is on its way
        # the market went on while the backfill's pass ran (longer on a busy machine): one more
        # pass, as the service's own every HEATMAP_BACKFILL_EVERY_MINUTES, fills its last minutes
        assert svc.history.backfill.run(SYMBOLS)
        minute = demo.sim.now_ms - demo.sim.now_ms % 60_000
        assert wait_until(lambda: _settled(svc, demo) and _candles_to(svc, minute), 10.0)
        yield svc
    finally:
        assert svc.stop(5.0)


def _candles_to(svc: HeatmapService, minute_ms: int) -> bool:
    store = svc.history.store
    return all(store.last_time("candles", s, "1m") == minute_ms for s in SYMBOLS)


def _settled(svc: HeatmapService, demo: DemoMarket) -> bool:
    """Backfill done and every published liquidation stored."""
    backfill = svc.status()["history"]["backfill"]
    stored = sum(len(svc.history.store.window_rows(symbol, 0)) for symbol in SYMBOLS)
    return (
        backfill["runs"] >= 1 and backfill["pending_symbols"] == 0
        and stored == demo.market.published_force_orders > 0
    )  # fmt: skip


def test_the_history_spans_a_day_of_liquidations_and_the_older_candles(
    demo: DemoMarket, service: HeatmapService
) -> None:
    store, now = service.history.store, demo.sim.now_ms
    full_start = demo.sim.config.start_ms
    live_start = full_start + DAY_MS  # at least: the prefill starts on a 5-minute step before
    assert now >= live_start
    times = [row[0] for symbol in SYMBOLS for row in store.window_rows(symbol, 0)]
    assert full_start <= min(times) < full_start + 3_600_000  # from the day's first hour
    assert max(times) >= live_start - 3_600_000  # to its last
    first = demo.market.view.first_minute_ms
    for symbol in SYMBOLS:
        candles = store.candles(symbol, "1m", 0, now + 60_000, 10_000)
        opens = [c.open_time_ms for c in candles]
        assert opens[0] == now - now % 60_000 - (len(opens) - 1) * 60_000  # no minute missing
        assert opens[0] == first <= now - 3 * DAY_MS + 600_000  # the older path: 3 days in all
        hist = store.open_interest(symbol, "5m", 0, now + 1, 10_000)
        times = [row.time_ms for row in hist]
        assert times == list(range(first + 300_000, now + 1, 300_000))  # every 5 minutes


def test_candles_hold_every_true_liquidation_price(
    demo: DemoMarket, service: HeatmapService
) -> None:
    store = service.history.store
    for symbol in SYMBOLS:
        truth = demo.market.liquidations(symbol)
        assert len(truth) > 100
        candles = {c.open_time_ms: c for c in store.candles(symbol, "1m", 0, 2**62, 10_000)}
        for record in truth:
            candle = candles[record["time_ms"] // 60_000 * 60_000]
            assert candle.low <= float(record["price"]) <= candle.high, record
        sampled = [r for r in truth if r["sampled"]]
        stored = store.window_rows(symbol, 0)
        assert [row[0] for row in stored] == [r["time_ms"] for r in sampled]
        assert np.allclose([row[1] for row in stored], [float(r["price"]) for r in sampled])


def test_stored_open_interest_is_the_books_at_each_instant(
    demo: DemoMarket, service: HeatmapService
) -> None:
    store, sim = service.history.store, demo.sim
    for i, profile in enumerate(sim.profiles):
        recorded = sim.candles.open_interest.window(i, 0, 2**62)  # book.oi_lots at each instant
        book = dict(zip(recorded["time_ms"].tolist(), recorded["oi_lots"].tolist(), strict=True))
        stored = store.open_interest(profile.symbol, "5m", sim.config.start_ms + 1, 2**62, 1000)
        assert len(stored) >= 287
        for row in stored:
            assert row.open_interest == pytest.approx(book[row.time_ms] * float(profile.step))
        older = store.open_interest(profile.symbol, "5m", 0, sim.config.start_ms + 1, 10_000)
        assert older[-1].time_ms == sim.config.start_ms  # the older path ends at the book's
        start_lots = sim.older.oi_end_lots[i]
        assert older[-1].open_interest == pytest.approx(start_lots * float(profile.step))
