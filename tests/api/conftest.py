"""Fixtures of the API tests: real engine, real parser, real replay; settings from literal maps.

The main ``service`` is never started: a ``ReplaySource`` plays a JSONL recording of raw Binance
frames through the real parser straight into the engine, then the engine refreshes once at a
fixed "now". Nothing runs in the background, so every response is deterministic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from binance_frames import force_order, mark_price
from helpers import wait_until

from api.resources.meta import spec_document
from api.settings import ApiSettings
from app import create_app
from heatmap_engine.config import Settings
from heatmap_engine.exchanges import binance
from heatmap_engine.history.runtime import DB_NAME
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation, MarkPrice, OpenInterest, iso_utc
from heatmap_engine.recording import ReplaySource
from heatmap_engine.service import HeatmapService

# The engine's "now" in these tests: fixed for the session, near the wall clock so that the
# service's REST thread (which compares price times with the wall clock) never finds prices stale.
NOW_MS = time.time_ns() // 1_000_000 // 1000 * 1000
MINUTE_MS = 60_000
# The stored history of the ``history_service``: the market as it was two hours before NOW_MS
# (older than the decay window, so a start restores none of it into the live engine), 1m
# candles and 5m open interest of BTCUSDT over the two days up to NOW_MS.
PAST_MS = NOW_MS - 2 * 60 * MINUTE_MS
HISTORY_DAYS = 2
BTC_PRICE = 90_000.0
PEPE_PRICE = 0.0120

TEST_ENV = {
    "HEATMAP_SYMBOLS": "BTCUSDT,ETHUSDT,1000PEPEUSDT",
    "HEATMAP_UPDATE_INTERVAL": "0.05",
    "HEATMAP_MIN_CLUSTER_SIZE": "5",
    # Loopback addresses nothing listens on: a test never reaches the real exchange.
    "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market",
    "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9",
    "HEATMAP_PRICE_STALE_SECONDS": "3600",
    "HEATMAP_FEED_SILENCE_SECONDS": "15",
    "HEATMAP_BACKFILL": "0",
}


LIQUIDATIONS = "!forceOrder@arr"
MARK_PRICES = "!markPrice@arr@1s"


def combined(stream: str, data: object) -> str:
    """A raw combined-stream frame, exactly as Binance sends it."""
    return orjson.dumps({"stream": stream, "data": data}).decode()


def market_frames(now_ms: int) -> list[tuple[int, str]]:
    """A market: BTC longs liquidated below the price (strong, near), shorts above, a stronger
    long cluster 11 % below (outside the default 10 % distance), PEPE longs; ETH stays silent."""
    frames: list[tuple[int, str]] = []

    def add(symbol: str, side: str, price: float, qty: float, count: int, age_min: float):
        for i in range(count):
            t = now_ms - int(age_min * MINUTE_MS) + i * 1_000
            event = force_order(symbol, side, price, qty + i / 1000, t)
            frames.append((t + 20, combined(LIQUIDATIONS, event)))

    add("BTCUSDT", "SELL", 89_500.0, 2.0, 6, 5)  # long cluster 0.56 % below price
    add("BTCUSDT", "BUY", 91_000.0, 1.0, 5, 10)  # short cluster 1.1 % above
    add("BTCUSDT", "SELL", 80_000.0, 4.0, 5, 2)  # strongest, 11.1 % below
    add("BTCUSDT", "BUY", 95_000.0, 0.1, 2, 1)  # too few to be a cluster
    add("1000PEPEUSDT", "SELL", 0.0118, 2_000_000.0, 5, 3)
    frames.sort()
    prices = [
        mark_price(s, p, now_ms - 1_000)
        for s, p in (("BTCUSDT", BTC_PRICE), ("1000PEPEUSDT", PEPE_PRICE))
    ]
    frames.append((now_ms - 500, combined(MARK_PRICES, prices)))
    return frames


def write_recording(path: Path, frames: list[tuple[int, str]]) -> Path:
    with path.open("wb") as handle:
        for received_at_ms, frame in frames:
            handle.write(orjson.dumps({"received_at_ms": received_at_ms, "frame": frame}) + b"\n")
    return path


@pytest.fixture
def market_at() -> Callable[[int], list[tuple[int, str]]]:
    """The market's raw frames for a given "now", for tests that publish frames themselves."""
    return market_frames


@pytest.fixture
def market() -> list[tuple[int, str]]:
    """The recorded market's frames (what the ``service`` fixture holds)."""
    return market_frames(NOW_MS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The test settings; the service's files (the SQLite history) go to the test's own dir."""
    return Settings.from_env({**TEST_ENV, "HEATMAP_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def recording(tmp_path: Path, market) -> Path:
    return write_recording(tmp_path / "market.jsonl", market)


@pytest.fixture
def service(settings: Settings, recording: Path) -> HeatmapService:
    """A service whose engine holds the recorded market, refreshed once at NOW_MS; not started."""
    service = HeatmapService(settings, clock=lambda: NOW_MS)
    ReplaySource(recording, binance.ADAPTER, service.engine.process).run()
    service.engine.refresh(NOW_MS)
    return service


@pytest.fixture
def live_service(settings: Settings, recording: Path) -> Iterator[HeatmapService]:
    """The recorded market in a started service whose feed reports live and recent."""
    feed = {"state": "live", "seconds_since_last_frame": 0.2, "parse_errors": {}}
    service = HeatmapService(
        settings, source_factory=lambda sink: StatusSource(feed), clock=lambda: NOW_MS
    )
    ReplaySource(recording, binance.ADAPTER, service.engine.process).run()
    service.engine.refresh(NOW_MS)
    service.start()
    yield service
    assert service.stop(5.0)


def market_events(tmp_path: Path, now_ms: int) -> list:
    """The market's frames for ``now_ms`` through the real parser: liquidations and prices."""
    events: list = []
    recording = write_recording(tmp_path / f"market-{now_ms}.jsonl", market_frames(now_ms))
    ReplaySource(recording, binance.ADAPTER, events.extend).run()
    return events


def synthetic_candles(symbol: str, start_ms: int, minutes: int) -> list[Candle]:
    """1m candles with a slow wave in price and a volume that grows through each hour."""
    waves = [(start_ms + m * MINUTE_MS, 90_000.0 + 500.0 * ((m % 240) - 120) / 120,
              1.0 + (m % 60) / 10, 10 + m % 7) for m in range(minutes)]  # fmt: skip
    return [
        Candle("binance", symbol, "1m", t, t + MINUTE_MS - 1, mid - 5, mid + 20, mid - 20,
               mid + 5, volume, volume * mid, volume / 2, trades)
        for t, mid, volume, trades in waves
    ]  # fmt: skip


def fill_history(store: SqliteStore, tmp_path: Path) -> None:
    """Write the stored history described at ``PAST_MS`` (see ``StoredHistory``)."""
    facts = StoredHistory()
    events = market_events(tmp_path, facts.past_ms)
    interest = [
        ("5m", OpenInterest("binance", "BTCUSDT", facts.first_oi_ms + i * 300_000,
                            80_000.0 + i, (80_000.0 + i) * 90_000.0))
        for i in range(facts.open_interest)
    ]  # fmt: skip
    store.write_batch(
        [e for e in events if isinstance(e, Liquidation)],
        [e for e in events if isinstance(e, MarkPrice)],
        synthetic_candles("BTCUSDT", facts.first_candle_ms, facts.candles),
        interest,
    )


@pytest.fixture
def make_history_client(tmp_path: Path, make_client):
    """A started service with a live-looking feed over a store first written by
    ``fill(store)`` (and an engine that first replayed ``replay``, if given); returns a client
    of it and the service. ``env`` adds settings. Every service is stopped at the end."""
    started: list[HeatmapService] = []

    def make(fill: Callable[[SqliteStore], object], replay: Path | None = None, **env: str):
        data_dir = tmp_path / f"history-{len(started)}"
        store = SqliteStore(data_dir / DB_NAME)
        try:
            fill(store)
        finally:
            store.close()
        settings = Settings.from_env({**TEST_ENV, "HEATMAP_DATA_DIR": str(data_dir), **env})
        feed = {"state": "live", "seconds_since_last_frame": 0.2, "parse_errors": {}}
        service = HeatmapService(
            settings, source_factory=lambda sink: StatusSource(feed), clock=lambda: NOW_MS
        )
        if replay is not None:
            ReplaySource(replay, binance.ADAPTER, service.engine.process).run()
            service.engine.refresh(NOW_MS)
        started.append(service.start())
        return make_client(svc=service), service

    yield make
    for service in started:
        assert service.stop(5.0)


@pytest.fixture
def history_service(make_history_client, recording: Path, tmp_path: Path) -> HeatmapService:
    """``live_service``'s market and live feed, plus a filled history store (see PAST_MS)."""
    return make_history_client(lambda store: fill_history(store, tmp_path), replay=recording)[1]


@pytest.fixture
def history_client(make_client, history_service):
    return make_client(svc=history_service)


def follow_next_start(client, url: str, key: str) -> list[dict]:
    """Every item of a paged candles or open-interest query (``url`` has ``&start=`` and
    ``&end=``): each next page starts at the previous page's ``next_start_ms``."""
    items: list[dict] = []
    head, _, end = url.partition("&end=")
    head = head.split("&start=")[0]
    for _ in range(10_000):
        body = client.get(url).get_json()
        assert body["success"], body
        items += body[key]
        if body["next_start_ms"] is None:
            assert body["next_start"] is None
            return items
        last = body[key][-1]
        assert body["next_start_ms"] > last.get("open_time_ms", last.get("time_ms"))
        assert body["next_start"] == iso_utc(body["next_start_ms"])
        url = f"{head}&start={body['next_start_ms']}&end={end}"
    raise AssertionError("paging never ended")


@pytest.fixture
def follow():
    return follow_next_start


@dataclass(frozen=True)
class StoredHistory:
    """What ``history_service``'s store holds, for tests to ask about."""

    now_ms: int = NOW_MS
    past_ms: int = PAST_MS  # the market (liquidations, mark prices) as at this time
    first_candle_ms: int = NOW_MS - NOW_MS % MINUTE_MS - HISTORY_DAYS * 1440 * MINUTE_MS
    candles: int = HISTORY_DAYS * 1440  # BTCUSDT 1m candles from first_candle_ms
    first_oi_ms: int = NOW_MS - NOW_MS % 300_000 - HISTORY_DAYS * 288 * 300_000
    open_interest: int = HISTORY_DAYS * 288  # BTCUSDT 5m samples from first_oi_ms


@pytest.fixture
def stored() -> StoredHistory:
    return StoredHistory()


@pytest.fixture
def make_client(settings: Settings, service: HeatmapService):
    """Build a test client with its own web-layer env (CORS, rate limit ...) and service."""

    def make(api_env: dict[str, str] | None = None, svc: HeatmapService | None = None):
        api_settings = ApiSettings.from_env(api_env or {})
        app = create_app(settings, svc or service, start_engine=False, api_settings=api_settings)
        return app.server.test_client()

    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return spec_document()


@pytest.fixture(scope="session")
def spec_schema(spec):
    """The spec as schemathesis reads it, to validate real responses against it."""
    return schemathesis.openapi.from_dict(spec)


@pytest.fixture
def check_spec(spec, spec_schema):
    """Assert that a response's status is documented and its body matches the spec."""

    def check(response, path: str, method: str = "GET") -> None:
        documented = spec["paths"][path][method.lower()]["responses"]
        assert str(response.status_code) in documented, (path, response.status_code)
        spec_schema[path][method].validate_response(response)

    return check


class StatusSource:
    """A message source that carries no frames and reports a chosen status: for health states
    the replay cannot reach (a live socket, a silent one, a reconnecting one)."""

    def __init__(self, status: dict[str, Any]):
        self._status = status

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 5.0) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return dict(self._status)


@pytest.fixture
def status_service(settings: Settings):
    """Start a service whose source reports the given status; always stopped afterwards."""
    started: list[HeatmapService] = []

    def make(status: dict[str, Any], mode: str = "live") -> HeatmapService:
        svc = HeatmapService(settings, source_factory=lambda sink: StatusSource(status), mode=mode)
        started.append(svc.start())
        return svc

    yield make
    for svc in started:
        assert svc.stop(5.0)


@pytest.fixture
def replaying(settings: Settings):
    """Start services fed by a real ReplaySource that, after its frames, stays open (state
    ``replay``) until the test ends, like a feed between frames. ``extra`` raw frames follow the
    market. Yields a factory; every service is stopped afterwards."""
    release = threading.Event()
    started: list[HeatmapService] = []

    def make(extra: tuple[str, ...] = ()) -> HeatmapService:
        now = int(time.time() * 1000)

        def frames() -> Iterator[tuple[int, str]]:
            yield from market_frames(now)
            yield from ((now, raw) for raw in extra)
            release.wait(30)

        svc = HeatmapService(
            settings, source_factory=lambda sink: ReplaySource(frames, binance.ADAPTER, sink),
            mode="replay",
        )  # fmt: skip
        started.append(svc.start())
        expected = len(market_frames(now)) + len(extra)
        wait_until(lambda: svc.status()["feed"].get("frames") == expected)
        wait_until(lambda: (s := svc.snapshot("BTCUSDT")) and s.clusters)
        return svc

    yield make
    release.set()
    for svc in started:
        assert svc.stop(5.0)
