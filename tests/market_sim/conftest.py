"""Fixtures for the fake Binance tests: servers and clients that are always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket

from market_sim.fake_binance import FakeBinance

SMALL_UNIVERSE = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "1000PEPEUSDT"]


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBinance]]:
    """Build and start a FakeBinance with overrides; every one is stopped at teardown."""
    started: list[FakeBinance] = []

    def make(**overrides: Any) -> FakeBinance:
        overrides.setdefault("symbols", SMALL_UNIVERSE)
        fake = FakeBinance(**overrides).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(make_fake: Callable[..., FakeBinance]) -> FakeBinance:
    """A running fake with Binance's real keepalive timings (no pings during a test)."""
    return make_fake()


@pytest.fixture
def connect() -> Iterator[Callable[..., websocket.WebSocket]]:
    """Open websocket-client connections (2 s read timeout); all closed at teardown."""
    sockets: list[websocket.WebSocket] = []

    def open_socket(url: str, timeout: float = 2.0) -> websocket.WebSocket:
        ws = websocket.create_connection(url, timeout=timeout)
        sockets.append(ws)
        return ws

    yield open_socket
    for ws in sockets:
        ws.close(timeout=0.2)
        ws.shutdown()  # close() skips the socket when the server already closed it
