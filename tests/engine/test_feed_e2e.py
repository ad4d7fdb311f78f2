"""The real websocket client against the fake Binance on 127.0.0.1.

Uses short, configured intervals (backoff, watchdog, rollover) and bounded waits; nothing here
reaches beyond loopback.
"""

from __future__ import annotations

import time

import pytest
from binance_frames import force_order, mark_price
from helpers import wait_until

from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.exchanges import binance
from heatmap_engine.recording import ReplaySource
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

LIQ = "!forceOrder@arr"
MARK = "!markPrice@arr@1s"
pytestmark = pytest.mark.slow


@pytest.fixture
def fake():
    server = FakeBinance(ping_interval=0.2, pong_timeout=1.0).start()
    yield server
    server.stop()


def settings_for(fake: FakeBinance, **env: str) -> Settings:
    base = {
        "HEATMAP_BINANCE_WS_URL": fake.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": fake.rest_base,
        "HEATMAP_UPDATE_INTERVAL": "0.05",
        "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.02",
        "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.1",
        "HEATMAP_FEED_SILENCE_SECONDS": "5",
        "HEATMAP_PRICE_STALE_SECONDS": "60",
        "HEATMAP_HISTORY": "0",
    }
    base.update({f"HEATMAP_{k.upper()}": v for k, v in env.items()})
    return Settings.from_env(base)


@pytest.fixture
def service_factory():
    started: list[HeatmapService] = []

    def make(settings: Settings, **kwargs) -> HeatmapService:
        service = HeatmapService(settings, **kwargs).start()
        started.append(service)
        return service

    yield make
    for service in started:
        assert service.stop(5.0), "service threads did not stop"


def liquidations(service: HeatmapService) -> int:
    return service.status()["engine"]["liquidations"]


def test_clusters_appear_from_the_live_stream(fake, service_factory):
    service = service_factory(settings_for(fake))
    assert fake.wait_for_subscribers(LIQ) and fake.wait_for_subscribers(MARK)
    now = wall_clock_ms()
    fake.publish(MARK, [mark_price("BTCUSDT", 91_000.0, now)])
    fake.publish(MARK, [mark_price("ETHUSDT", 3_000.0, now)])  # the tick split in two messages
    for i in range(6):
        fake.publish(LIQ, force_order("BTCUSDT", "SELL", 90_000.0 + i, 0.1, now - i * 1000))
    snap = wait_until(lambda: (s := service.snapshot("BTCUSDT")) and s.clusters and s)
    (cluster,) = snap.clusters
    assert (cluster.side, cluster.liquidation_count) == ("long", 6)
    assert snap.current_price == 91_000.0
    wait_until(lambda: service.snapshot("ETHUSDT").current_price == 3_000.0)
    status = service.status()
    assert status["state"] == "live"
    assert status["feed"]["parse_errors"] == {}
    assert status["feed"]["seconds_since_last_frame"] < 5


def test_twenty_drops_twenty_reconnects_nothing_missed(fake, service_factory):
    service = service_factory(settings_for(fake))
    sent = 0
    now = wall_clock_ms()
    for round_ in range(21):
        assert fake.wait_for_subscribers(LIQ, count=1, timeout=5.0)
        for i in range(5):
            delivered = fake.publish(
                LIQ, force_order("SOLUSDT", "BUY", 150.0 + round_, 1.0 + i, now + round_ * 100 + i)
            )
            sent += delivered
        wait_until(lambda sent=sent: liquidations(service) == sent)
        if round_ < 20:
            assert fake.drop_connections(abrupt=round_ % 2 == 0) == 1
            wait_until(lambda n=round_ + 1: service.status()["feed"]["reconnects"] == n)
    assert sent == 21 * 5
    status = service.status()
    assert status["feed"]["reconnects"] == 20
    assert status["engine"]["liquidations"] == sent
    assert status["engine"]["duplicates"] == 0


def test_silent_route_trips_the_watchdog(fake, service_factory):
    settings = settings_for(fake, binance_ws_url=fake.ws_root, feed_silence_seconds="0.4")
    service = service_factory(settings)
    wait_until(lambda: service.status()["feed"]["watchdog_trips"] >= 2, timeout=10)
    fake.publish(LIQ, force_order("BTCUSDT", "SELL", 90_000.0, 0.1, wall_clock_ms()))
    status = service.status()
    assert status["engine"]["liquidations"] == 0
    assert status["feed"]["last_disconnect_reason"] == "silent route: no data for 0.4 s"
    assert status["feed"]["control_frames"] >= 2  # every SUBSCRIBE was acknowledged anyway
    assert status["state"] != "live"


def test_malformed_frames_are_counted_not_fatal(fake, service_factory, fixture_frame):
    service = service_factory(settings_for(fake))
    assert fake.wait_for_subscribers(LIQ)
    now = wall_clock_ms()
    bad = [
        fixture_frame("force_order_truncated.txt"),
        "not json",
        '{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"HOLD","q":"1","p":"1","T":1}}',
        '{"stream":"!forceOrder@arr","data":{"e":"surprise"}}',
    ]
    for i, raw in enumerate(bad):
        fake.publish(LIQ, raw)
        fake.publish(LIQ, force_order("ETHUSDT", "SELL", 3000.0 + i, 1.0, now + i))
    wait_until(lambda: liquidations(service) == len(bad))
    feed = service.status()["feed"]
    assert feed["parse_errors"] == {"not_json": 2, "bad_side": 1, "unexpected_frame": 1}
    assert feed["connects"] == 1 and feed["reconnects"] == 0


def test_rollover_before_the_24h_cut_misses_nothing(fake, service_factory):
    service = service_factory(settings_for(fake, feed_max_connection_seconds="1.0"))
    assert fake.wait_for_subscribers(LIQ)
    now, sent = wall_clock_ms(), 0
    deadline = time.monotonic() + 3.5
    i = 0
    while time.monotonic() < deadline:
        # publish() answers how many connections got the frame: 2 while old and new overlap
        sent += fake.publish(LIQ, force_order("XRPUSDT", "BUY", 2.0, 100.0 + i, now + i))
        i += 1
        time.sleep(0.01)
    engine = lambda: service.status()["engine"]  # noqa: E731
    # every published order arrives exactly once; a copy queued for a connection that was
    # rolled over may never be sent, so the duplicates are at most the extra copies
    wait_until(lambda: engine()["liquidations"] == i)
    status = service.status()
    assert status["feed"]["rollovers"] >= 2
    assert sent > i, "the successor must overlap the old connection"
    assert 0 < status["engine"]["duplicates"] <= sent - i
    assert status["feed"]["reconnects"] == 0  # a rollover is not a reconnect


def test_server_pings_are_answered_and_forced_close_reconnects(fake, service_factory):
    service = service_factory(settings_for(fake))
    assert fake.wait_for_subscribers(LIQ)
    time.sleep(1.5)  # several 0.2 s pings and past the 1.0 s pong timeout
    assert fake.stats()["pongs_received"] >= 3
    assert service.status()["feed"]["connects"] == 1


def test_forced_close_after_a_day_reconnects():
    with FakeBinance(max_connection_seconds=0.5) as fake:
        service = HeatmapService(settings_for(fake)).start()
        try:
            wait_until(lambda: service.status()["feed"]["reconnects"] >= 2, timeout=10)
            assert fake.stats()["forced_closes"] >= 2
        finally:
            assert service.stop(5.0)


def test_recorded_frames_replay_to_the_same_result(fake, service_factory, tmp_path):
    path = tmp_path / "frames.jsonl"
    live = service_factory(settings_for(fake, record_path=str(path)))
    assert fake.wait_for_subscribers(LIQ)
    now = wall_clock_ms()
    fake.publish(MARK, [mark_price("BTCUSDT", 90_500.0, now)])
    for i in range(7):
        fake.publish(
            LIQ, force_order("BTCUSDT", "BUY" if i % 2 else "SELL", 90_000.0 + i, 0.5, now + i)
        )
    wait_until(lambda: liquidations(live) == 7)
    live.stop(5.0)
    replay = HeatmapService(
        settings_for(fake),
        source_factory=lambda sink: ReplaySource(path, binance.ADAPTER, sink),
        mode="replay",
    )
    service_factory  # noqa: B018 - keeps the fixture's cleanup order
    replay.start()
    try:
        wait_until(lambda: liquidations(replay) == 7)
        assert replay.status()["engine"]["by_side"] == live.status()["engine"]["by_side"]
    finally:
        assert replay.stop(5.0)


def test_rest_price_fallback_only_while_the_stream_is_stale(fake, service_factory):
    fake.set_mark_prices({"BTCUSDT": "88000.5"})
    service = service_factory(
        settings_for(fake, price_stale_seconds="0.5", rest_poll_seconds="0.2")
    )
    snap = wait_until(lambda: (s := service.snapshot("BTCUSDT")) and s.current_price and s)
    assert snap.current_price == 88000.5
    assert service.status()["engine"]["mark_prices"]["rest"] >= 1
    polls = len([r for r in fake.rest_requests if r[1] == "/fapi/v1/premiumIndex"])
    now = wall_clock_ms()
    for _ in range(15):  # the stream comes back: REST polling stops
        fake.publish(MARK, [mark_price("BTCUSDT", 89_000.0, wall_clock_ms())])
        time.sleep(0.1)
    wait_until(lambda: service.snapshot("BTCUSDT").current_price == 89_000.0)
    later = len([r for r in fake.rest_requests if r[1] == "/fapi/v1/premiumIndex"])
    assert later - polls <= 2, f"REST polled {later - polls} times while the stream was live"
    assert now


def test_kline_stream_fills_candles(fake, service_factory, fixture_frame):
    service = service_factory(settings_for(fake, symbols="BTCUSDT,ETHUSDT"))
    assert fake.wait_for_subscribers("btcusdt@kline_1m")
    assert fake.wait_for_subscribers("ethusdt@kline_1m")
    import orjson

    recorded = orjson.loads(fixture_frame("kline_1m_forming.json"))["data"]
    minute = wall_clock_ms() // 60_000 * 60_000  # the recorded candle, as if it formed now
    k = {**recorded["k"], "t": minute, "T": minute + 59_999}
    frame = {**recorded, "E": minute + 47_361, "k": k}
    fake.publish("btcusdt@kline_1m", frame)
    closed = {**frame, "k": {**frame["k"], "c": "79100.00", "x": True}}
    fake.publish("btcusdt@kline_1m", closed)
    candles = wait_until(lambda: service.engine.state.recent_candles("BTCUSDT"))
    assert [(c.open_time_ms, c.close, c.closed) for c in candles] == [(minute, 79100.0, True)]
    assert service.status()["feed"]["connections"] == 1  # 4 streams share one connection


def test_all_symbols_from_exchange_info(fake, service_factory):
    service = service_factory(settings_for(fake, symbols="all"))
    wait_until(lambda: len(service.symbols) >= 400)
    # 400 kline streams do not fit one connection: they are spread over more
    wait_until(lambda: service.status()["feed"]["connections"] >= 3)
    assert fake.wait_for_subscribers("1000pepeusdt@kline_1m")
    assert "CATUSDT" not in service.symbols  # TradFi equity perpetual
    assert "1000CATUSDT" in service.symbols
    assert service.resolver.resolve("pepe") == "1000PEPEUSDT"
