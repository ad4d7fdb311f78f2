"""Bounded send queues: a slow reader paces the publisher, a dead one is dropped, the demo
market follows its consumer, and the product measures how far its data is behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import websocket

from heatmap_engine.config import Settings
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance
from market_sim.hub import wait_until
from market_sim.sim.market import MarketSimulation
from market_sim.sim.runner import MarketRunner
from market_sim.sim.source import SimulatedMarket

MakeFake = Callable[..., FakeBinance]
Connect = Callable[..., websocket.WebSocket]
STREAM = "test@stream"


def test_a_slow_reader_paces_the_publisher_and_misses_nothing(
    make_fake: MakeFake, connect: Connect
) -> None:
    fake = make_fake(max_queued_frames=8)
    ws = connect(f"{fake.ws_market_base}/ws/{STREAM}")
    assert fake.wait_for_subscribers(STREAM)
    total, filler = 300, "x" * 20_000  # ~6 MB: far more than the socket buffers hold
    queued: list[int] = []

    def publish() -> None:
        for n in range(total):
            fake.publish(STREAM, {"n": n, "pad": filler})
            queued.append(fake.stats()["queued_frames_max"])

    publisher = threading.Thread(target=publish)
    publisher.start()
    received = [ws.recv() for _ in range(total)]
    publisher.join(10)
    assert not publisher.is_alive()
    assert [int(text.split(",")[0].split(":")[1]) for text in received] == list(range(total))
    stats = fake.stats()
    assert stats["publish_waits"] > 0 and stats["frames_dropped"] == 0
    assert max(queued) <= 8  # never more than the bound waiting in the fake


def test_a_reader_that_stops_reading_is_dropped_and_the_publisher_goes_on(
    make_fake: MakeFake, connect: Connect
) -> None:
    fake = make_fake(max_queued_frames=4, slow_consumer_seconds=0.3)
    connect(f"{fake.ws_market_base}/ws/{STREAM}")  # and never read
    assert fake.wait_for_subscribers(STREAM)
    filler = "x" * 100_000
    for _ in range(10_000):  # bounded: the kernel buffers fill within a few hundred
        if fake.publish(STREAM, {"pad": filler}) == 0:
            break
    stats = fake.stats()
    assert stats["slow_consumer_closes"] == 1 and stats["frames_dropped"] >= 1
    assert fake.wait_for_stats(lambda s: s["open_connections"] == 0)


def test_the_runner_waits_while_its_consumer_is_behind(
    make_fake: MakeFake, make_sim_config: Callable
) -> None:
    market = SimulatedMarket(MarketSimulation(make_sim_config()))
    runner = MarketRunner(market, speed=0)
    behind, asked = [True], [0]

    def lag() -> float:
        asked[0] += 1
        return 60.0 if behind[0] else 0.0

    runner.follow(lag, max_lead_seconds=10.0)
    runner.start(make_fake(symbols=list(market.sim.symbols)))
    try:
        assert wait_until(lambda: asked[0] >= 20, 5.0)
        assert runner.ticks == 0  # asked many times, never stepped
        behind[0] = False
        assert wait_until(lambda: runner.ticks >= 5, 5.0)
    finally:
        runner.stop()


def test_the_service_reports_how_far_its_data_is_behind_the_market_clock(
    make_sim_config: Callable, tmp_path: Path
) -> None:
    market = SimulatedMarket(MarketSimulation(make_sim_config()))
    runner = MarketRunner(market, speed=0)
    runner.prefill_until(market.sim.now_ms + 60_000)
    with FakeBinance(symbols=list(market.sim.symbols), clock=market.clock) as fake:
        fake.attach_market(market)
        env = {"HEATMAP_BINANCE_WS_URL": fake.ws_market_base, "HEATMAP_DATA_DIR": str(tmp_path),
               "HEATMAP_BINANCE_REST_URL": fake.rest_base, "HEATMAP_HISTORY": "0"}  # fmt: skip
        clock = lambda: market.sim.now_ms  # noqa: E731 - the demo's reference "now"
        service = HeatmapService(Settings.from_env(env), mode="demo", event_time=True,
                                 clock=clock).start()  # fmt: skip
        try:
            assert service.feed_lag_seconds() is None  # nothing received yet
            runner.follow(service.feed_lag_seconds, 10.0)
            runner.start(fake)
            assert wait_until(lambda: runner.ticks >= 30, 10.0)
            runner.stop()  # every published frame is on its way; the last mark is "now"
            assert wait_until(lambda: service.feed_lag_seconds() == 0.0, 5.0)
            with market.lock:
                for _ in range(30):  # 30 simulated seconds nobody publishes
                    market.sim.step()
            assert service.feed_lag_seconds() == 30.0
            assert service.status()["feed_lag_seconds"] == 30.0
            assert service.status()["feed"]["lag_seconds"] == 30.0  # what /api/stats shows
        finally:
            assert service.stop(5.0)


def test_a_burst_longer_than_the_slow_consumer_time_is_not_mistaken_for_a_dead_reader(
    make_fake: MakeFake, connect: Connect
) -> None:
    slow = 1.0  # a reader sending nothing this long while full is dropped
    fake = make_fake(max_queued_frames=4, slow_consumer_seconds=slow)
    ws = connect(f"{fake.ws_market_base}/ws/{STREAM}", timeout=5.0)
    assert fake.wait_for_subscribers(STREAM)
    burst = [{"n": n, "pad": "x" * 2_000} for n in range(3_000)]  # one item, ~6 MB
    fake.publish_many(STREAM, burst)

    def publish_after() -> None:
        fake.publish(STREAM, {"n": len(burst)})  # waits behind the burst

    later = threading.Thread(target=publish_after)
    later.start()
    received, started = 0, time.monotonic()
    for _ in range(len(burst) + 1):
        ws.recv()
        received += 1
        if received % 500 == 0:  # a reader whose burst outlasts ``slow``, each pause well within it
            time.sleep(slow / 4)
    later.join(10)
    assert received == len(burst) + 1
    assert time.monotonic() - started > slow  # the scenario: the burst outlasted ``slow``
    assert fake.stats()["slow_consumer_closes"] == 0 and fake.stats()["frames_dropped"] == 0
