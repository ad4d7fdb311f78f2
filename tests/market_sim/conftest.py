"""Fixtures for the fake Binance tests: servers and clients that are always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import websocket

from market_sim.fake_binance import FakeBinance
from market_sim.sim.market import MarketSimulation
from market_sim.sim.params import SimConfig
from market_sim.sim.runner import wire_frames

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


# ---- the simulated market (issue 3) --------------------------------------------------------

SIM_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "1000PEPEUSDT", "WIFUSDT", "1000CATUSDT")
SIM_START_MS = 1_795_000_200_000  # on a 5-minute boundary: whole candles and OI periods


@dataclass
class RecordedRun:
    """One simulation run without a server: what it would publish and what was checked."""

    sim: MarketSimulation
    frames: list[tuple[str, Any]] = field(default_factory=list)  # (stream, payload) in order
    oi_matches: list[bool] = field(default_factory=list)  # per step: running OI == recount
    reached_after_step: list[int] = field(default_factory=list)  # open positions beyond LP
    oi_at: dict[int, list[int]] = field(default_factory=dict)  # sim ms -> OI lots per symbol
    sampled_per_step: list[int] = field(default_factory=list)
    truth_per_step: list[int] = field(default_factory=list)

    def payloads(self, stream: str) -> list[Any]:
        return [payload for name, payload in self.frames if name == stream]


def record_run(config: SimConfig, seconds: int, *, checks: bool = True) -> RecordedRun:
    """Step `seconds` times, collecting `wire_frames` (every stream subscribed)."""
    run = RecordedRun(MarketSimulation(config))
    sim = run.sim
    for _ in range(seconds):
        output = sim.step()
        for stream, payloads in wire_frames(sim, output, None):
            run.frames += [(stream, payload) for payload in payloads]
        run.sampled_per_step.append(output.sampled)
        run.truth_per_step.append(output.liquidations)
        if checks:
            run.oi_matches.append(bool((sim.book.oi_lots == sim.book.recount()).all()))
            run.reached_after_step.append(len(sim.book.crossed(sim.marks)))
            run.oi_at[sim.now_ms] = sim.book.oi_lots.tolist()
    return run


def sim_config(**overrides: Any) -> SimConfig:
    """The tests' market: six symbols (majors, memecoins, a 2.5 % MMR one), a fixed start."""
    values: dict[str, Any] = {"symbols": SIM_SYMBOLS, "seed": 11, "start_ms": SIM_START_MS}
    return SimConfig(**(values | overrides))


@pytest.fixture
def make_sim_config() -> Callable[..., SimConfig]:
    """`make_sim_config(**overrides)`: the tests' SimConfig with some fields changed."""
    return sim_config


@pytest.fixture
def record_sim() -> Callable[..., RecordedRun]:
    """`record_sim(config, seconds, checks=True)`: run without a server, collect frames."""
    return record_run


@pytest.fixture(scope="session")
def busy_run() -> RecordedRun:
    """40 simulated minutes of a volatile market (vol x2, frequent COIN-M events)."""
    return record_run(sim_config(vol_scale=2.0, coin_margined_per_hour=240.0), 2400)
