"""Fixtures of the API tests: real engine, real parser, real replay; settings from literal maps.

The main ``service`` is never started: a ``ReplaySource`` plays a JSONL recording of raw Binance
frames through the real parser straight into the engine, then the engine refreshes once at a
fixed "now". Nothing runs in the background, so every response is deterministic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from binance_frames import force_order, mark_price
from helpers import wait_until

from api.openapi import build_spec
from api.settings import ApiSettings
from app import create_app
from heatmap_engine.config import Settings
from heatmap_engine.exchanges import binance
from heatmap_engine.recording import ReplaySource
from heatmap_engine.service import HeatmapService

# The engine's "now" in these tests: fixed for the session, near the wall clock so that the
# service's REST thread (which compares price times with the wall clock) never finds prices stale.
NOW_MS = time.time_ns() // 1_000_000 // 1000 * 1000
MINUTE_MS = 60_000
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
    return build_spec()


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
