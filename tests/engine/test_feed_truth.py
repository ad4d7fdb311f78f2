"""What counts as life on a connection: the real feed against the fake Binance on 127.0.0.1.

Only frames carrying market data make a connection live, reset the watchdog and end a gap;
error frames and bytes that are not JSON do not. Gaps say what happened.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from binance_frames import force_order
from helpers import free_port, wait_until

from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.exchanges import binance
from heatmap_engine.feed import LiveFeed
from heatmap_engine.models import Liquidation
from market_sim.fake_binance import FakeBinance

LIQ = "!forceOrder@arr"
ERROR_FRAME = '{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}'
pytestmark = pytest.mark.slow


class Recorder:
    """The feed's sink and gap callback: what it delivered, in order."""

    def __init__(self) -> None:
        self.events: list = []
        self.gaps: list[tuple[int, int, str]] = []
        self._lock = threading.Lock()

    def sink(self, events) -> None:
        with self._lock:
            self.events.extend(events)

    def gap(self, start: int, end: int, reason: str) -> None:
        with self._lock:
            self.gaps.append((start, end, reason))

    def liquidations(self) -> list[Liquidation]:
        with self._lock:
            return [e for e in self.events if isinstance(e, Liquidation)]


@pytest.fixture
def fake():
    server = FakeBinance().start()
    yield server
    server.stop()


@pytest.fixture
def feed_factory():
    feeds: list[LiveFeed] = []

    def make(url: str, record: Recorder, **options) -> LiveFeed:
        options = {"silence_seconds": 30.0, "backoff_initial": 0.02, "backoff_max": 0.1,
                   "rng": random.Random(3), **options}  # fmt: skip
        feed = LiveFeed(binance.ADAPTER, url, record.sink, name="market", on_gap=record.gap,
                        **options)  # fmt: skip
        feeds.append(feed)
        feed.start()
        return feed

    yield make
    for feed in feeds:
        assert feed.stop(5.0)


def order(i: int) -> dict:
    return force_order("BTCUSDT", "SELL", 90_000.0 + i, 0.1, wall_clock_ms())


def make_live(fake: FakeBinance, feed: LiveFeed, record: Recorder, i: int = 0) -> None:
    """Publish one order once the feed subscribed and wait until it arrived."""
    before = len(record.liquidations())
    assert fake.wait_for_subscribers(LIQ)
    fake.publish(LIQ, order(i))
    wait_until(lambda: len(record.liquidations()) > before)
    assert feed.status()["state"] == "live"


def test_error_frames_and_garbage_never_make_a_connection_live(fake, feed_factory):
    record = Recorder()
    feed = feed_factory(fake.ws_market_base, record, silence_seconds=0.6)
    assert fake.wait_for_subscribers(LIQ)
    for _ in range(3):
        fake.publish(LIQ, ERROR_FRAME)
        fake.publish(LIQ, "<html>not json</html>")
    # they did not feed the watchdog: it closes the connection
    wait_until(lambda: feed.status()["last_disconnect_reason"])
    status = feed.status()
    assert status["watchdog_trips"] == 1
    assert status["parse_errors"]["error_frame"] == 3
    assert status["parse_errors"]["not_json"] == 3
    assert status["data_frames"] == 0 and status["last_data_at"] is None
    assert status["last_disconnect_reason"] == "error frame from server"
    assert record.events == [] and record.gaps == []


def test_error_frames_after_a_reconnect_do_not_end_the_gap(fake, feed_factory):
    record = Recorder()
    feed = feed_factory(fake.ws_market_base, record)
    make_live(fake, feed, record)
    first_data_ms = record.liquidations()[0].received_at_ms
    assert fake.drop_connections(abrupt=False) == 1  # a close frame from the server
    wait_until(lambda: feed.status()["connects"] == 2)
    assert fake.wait_for_subscribers(LIQ)
    fake.publish(LIQ, ERROR_FRAME)
    fake.publish(LIQ, "not json")
    wait_until(lambda: feed.status()["parse_errors"].get("not_json") == 1)
    assert record.gaps == []  # rejections are no data: the gap is still open
    assert feed.status()["state"] != "live"
    fake.publish(LIQ, order(1))
    wait_until(lambda: record.gaps)
    ((start, end, reason),) = record.gaps
    assert reason == "closed by server"
    assert start == first_data_ms  # the gap starts at the last data of the lost connection
    assert end == record.liquidations()[1].received_at_ms  # and ends with the next data
    assert feed.status()["state"] == "live"


def test_a_silent_route_gap_says_so(fake, feed_factory):
    record = Recorder()
    feed = feed_factory(fake.ws_market_base, record, silence_seconds=0.5)
    make_live(fake, feed, record)
    wait_until(lambda: feed.status()["watchdog_trips"] >= 1)
    wait_until(lambda: feed.status()["connects"] >= 2)
    make_live(fake, feed, record, 1)
    assert [reason for _, _, reason in record.gaps][:1] == ["silent route: no data for 0.5 s"]


def test_a_dropped_tcp_connection_is_a_network_error_gap(fake, feed_factory):
    record = Recorder()
    feed = feed_factory(fake.ws_market_base, record)
    make_live(fake, feed, record)
    assert fake.drop_connections(abrupt=True) == 1  # no close frame: the socket just ends
    wait_until(lambda: feed.status()["connects"] == 2)
    make_live(fake, feed, record, 1)
    ((_, _, reason),) = record.gaps
    assert reason == "network error: connection lost"


def test_a_gap_open_at_stop_ends_there_with_its_reason():
    record = Recorder()
    fake = FakeBinance().start()
    feed = LiveFeed(binance.ADAPTER, fake.ws_market_base, record.sink, on_gap=record.gap,
                    backoff_initial=0.02, backoff_max=0.1)  # fmt: skip
    feed.start()
    try:
        make_live(fake, feed, record)
        fake.stop()  # the server goes away: close frames, then connections are refused
        wait_until(lambda: feed.status()["failed_attempts"] >= 2)
        assert record.gaps == []
        stopped_at = wall_clock_ms()
    finally:
        assert feed.stop(5.0)
        fake.stop()
    ((start, end, reason),) = record.gaps
    assert reason == "closed by server"
    assert start == record.liquidations()[0].received_at_ms and end >= stopped_at
    status = feed.status()
    assert status["state"] == "stopped"
    assert status["reachable"] is False
    assert status["last_disconnect_reason"].endswith(": connection refused")


def test_a_rejected_rollover_successor_does_not_close_the_old_connection(fake, feed_factory):
    record = Recorder()
    feed = feed_factory(fake.ws_market_base, record, max_connection_seconds=0.3)
    make_live(fake, feed, record)
    assert fake.wait_for_subscribers(LIQ, count=2)  # the successor has subscribed
    fake.publish(LIQ, ERROR_FRAME)  # both get it: the successor's first frame is a rejection
    wait_until(lambda: feed.status()["parse_errors"].get("error_frame") == 2)
    time.sleep(0.5)  # four supervisor rounds (0.125 s each) to act on it, which it must not
    assert feed.status()["rollovers"] == 0
    assert len([t for t in feed.threads() if t != "heatmap-feed-market"]) == 2
    fake.publish(LIQ, order(1))  # real data: now the successor takes over
    wait_until(lambda: feed.status()["rollovers"] == 1)
    assert [liq.price for liq in record.liquidations()].count(90_001.0) == 2  # both had it
    assert record.gaps == []  # nothing was missed


class FailingOnce(random.Random):
    """A random source whose first draw fails: an error where the supervisor never expects one."""

    def __init__(self) -> None:
        super().__init__(5)
        self.failed = False

    def uniform(self, a: float, b: float) -> float:
        if not self.failed:
            self.failed = True
            raise RuntimeError("no randomness today")
        return super().uniform(a, b)


def test_the_supervisor_survives_an_unexpected_error(feed_factory, caplog):
    record = Recorder()
    rng = FailingOnce()
    url = f"ws://127.0.0.1:{free_port()}/market"  # nothing listens: every attempt fails
    feed = feed_factory(url, record, rng=rng, backoff_max=0.05)
    wait_until(lambda: feed.status()["failed_attempts"] >= 3)
    assert rng.failed
    assert feed.status()["loop_failures"] == {"feed market supervisor: RuntimeError": 1}
    assert feed.threads()["heatmap-feed-market"] is True
    logged = [r for r in caplog.records if "supervisor failed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
