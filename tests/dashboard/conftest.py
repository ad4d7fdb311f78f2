"""Fixtures of the dashboard tests: a made-up market, a real engine fed with it, real services.

Unit tests drive an ``Engine`` (process + refresh at a fixed "now"); the browser tests
(``browser/``) publish the same market over the fake Binance's websocket to ``python app.py``,
so every number on the page went through the real parser and engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from binance_frames import force_order, mark_price

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.history.runtime import HistoryRuntime
from heatmap_engine.models import Candle, Liquidation, MarkPrice, Snapshot
from heatmap_engine.service import HeatmapService

MINUTE_MS = 60_000
BTC_PRICE = 90_000.0
SYMBOLS = "BTCUSDT,ETHUSDT,1000PEPEUSDT,DOGEUSDT"


@dataclass(frozen=True)
class Burst:
    """``count`` liquidations of one side of one symbol around one price, ``age_min`` ago."""

    symbol: str
    side: str  # whose positions were liquidated: long / short
    price: float
    qty: float
    count: int
    age_min: float


# BTC around 90,000: near and far, strong and weak clusters on both sides, one cluster beyond
# the default 10 % distance, a pair too small to cluster; PEPE has one long cluster; ETH has a
# few liquidations but no cluster; DOGE has nothing at all.
MARKET: tuple[Burst, ...] = (
    Burst("BTCUSDT", "long", 89_350.0, 1.2, 8, 12),
    Burst("BTCUSDT", "long", 86_900.0, 0.15, 6, 30),  # weak
    Burst("BTCUSDT", "long", 84_100.0, 1.0, 12, 8),  # the strongest
    Burst("BTCUSDT", "long", 79_300.0, 1.5, 6, 5),  # 11.9 % below: beyond max_distance 10
    Burst("BTCUSDT", "short", 91_150.0, 1.0, 7, 20),
    Burst("BTCUSDT", "short", 94_600.0, 0.12, 5, 40),  # weak
    Burst("BTCUSDT", "short", 96_100.0, 0.3, 2, 3),  # too few: no cluster
    Burst("1000PEPEUSDT", "long", 0.00985, 3_000_000.0, 6, 15),
    Burst("ETHUSDT", "long", 2_950.0, 2.0, 3, 10),
)
PRICES = {"BTCUSDT": BTC_PRICE, "1000PEPEUSDT": 0.0100, "ETHUSDT": 3_000.0, "DOGEUSDT": 0.18}


def burst_times(burst: Burst, now_ms: int) -> list[int]:
    start = now_ms - int(burst.age_min * MINUTE_MS)
    return [start + i * 37_000 for i in range(burst.count)]


def liquidations(now_ms: int, market: tuple[Burst, ...] = MARKET) -> list[Liquidation]:
    out = []
    for b in market:
        for i, t in enumerate(burst_times(b, now_ms)):
            price = b.price * (1 + (i % 3 - 1) * 0.0003)
            qty = b.qty * (1 + i / 10)
            out.append(Liquidation("binance", b.symbol, b.side, price, qty, price * qty, t, t))
    return out


def force_orders(now_ms: int, market: tuple[Burst, ...] = MARKET) -> list[dict]:
    """The same market as Binance ``forceOrder`` payloads (``SELL`` = a long liquidated)."""
    return [
        force_order(
            x.symbol,
            "SELL" if x.liquidated_side == "long" else "BUY",
            x.price,
            x.quantity,
            x.event_time_ms,
        )
        for x in liquidations(now_ms, market)
    ]


def mark_prices(now_ms: int) -> list[dict]:
    return [mark_price(symbol, price, now_ms) for symbol, price in PRICES.items()]


# -- unit-test fixtures: a real engine --------------------------------------------------------
NOW_MS = 1_769_601_600_000  # 2026-01-28 12:00:00 UTC


def engine_settings(**overrides: str) -> Settings:
    env = {
        "HEATMAP_SYMBOLS": SYMBOLS,
        "HEATMAP_HISTORY": "0",
        "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market",
        "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9",
        **overrides,
    }
    return Settings.from_env(env)


def filled_engine(now_ms: int = NOW_MS, with_prices: bool = True) -> Engine:
    engine = Engine(engine_settings(), clock=lambda: now_ms)
    engine.process(liquidations(now_ms))
    if with_prices:
        engine.process([MarkPrice("binance", s, p, now_ms - 1000) for s, p in PRICES.items()])
    engine.refresh(now_ms)
    return engine


@pytest.fixture
def now_ms() -> int:
    return NOW_MS


@pytest.fixture
def market_liquidations() -> list[Liquidation]:
    return liquidations(NOW_MS)


@pytest.fixture
def engine() -> Engine:
    return filled_engine()


@pytest.fixture
def unpriced() -> Engine:
    """The same market before any mark price arrived."""
    return filled_engine(with_prices=False)


@pytest.fixture
def btc(engine: Engine) -> Snapshot:
    snapshot = engine.snapshot("BTCUSDT")
    assert snapshot is not None and snapshot.clusters
    return snapshot


def candles(symbol: str, now_ms: int, minutes: int, price: float) -> list[Candle]:
    """Closed 1-minute candles up to ``now_ms``, gently oscillating around ``price``."""
    start = now_ms - now_ms % MINUTE_MS - minutes * MINUTE_MS
    out = []
    for i in range(minutes):
        t = start + i * MINUTE_MS
        o = price * (1 + math.sin(i / 9) * 0.004)
        c = price * (1 + math.sin((i + 1) / 9) * 0.004)
        out.append(Candle("binance", symbol, "1m", t, t + MINUTE_MS - 1, o, max(o, c) * 1.0005,
                          min(o, c) * 0.9995, c, 10.0, 10.0 * c, 5.0, 100))  # fmt: skip
    return out


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., HeatmapService]]:
    """A service (never started) whose engine holds the market at NOW_MS and the last hour of
    BTC candles; with ``history=True`` its store also holds the liquidations and a day of
    candles, as a running service's writer would have put them there."""
    runtimes: list[HistoryRuntime] = []

    def make(history: bool = True) -> HeatmapService:
        settings = engine_settings(
            HEATMAP_HISTORY="1" if history else "0", HEATMAP_DATA_DIR=str(tmp_path / "data")
        )
        service = HeatmapService(settings, clock=lambda: NOW_MS)
        day = candles("BTCUSDT", NOW_MS, 1440, BTC_PRICE)
        if history:
            service.history = HistoryRuntime(settings, service.rest)
            runtimes.append(service.history)
            service.history.store.write_batch(liquidations(NOW_MS), candles=day[:-60])
        service.engine.process(liquidations(NOW_MS))
        service.engine.process([MarkPrice("binance", s, p, NOW_MS - 1000)
                                for s, p in PRICES.items()])  # fmt: skip
        service.engine.process(day[-60:])
        service.engine.refresh(NOW_MS)
        return service

    yield make
    for runtime in runtimes:
        runtime.stop(1.0)


@dataclass(frozen=True)
class MarketFrames:
    """The made-up market as Binance payloads, for the browser tests to publish."""

    symbols: str = SYMBOLS

    def force_orders(self, now_ms: int) -> list[dict]:
        return force_orders(now_ms)

    def mark_prices(self, now_ms: int) -> list[dict]:
        return mark_prices(now_ms)

    def burst(self, now_ms: int, symbol: str, side: str, price: float, qty: float, count: int):
        """``count`` new liquidations of one side, from ``now_ms`` on."""
        return force_orders(now_ms, (Burst(symbol, side, price, qty, count, 0),))


@pytest.fixture(scope="session")
def market_frames() -> MarketFrames:
    return MarketFrames()
