"""The live levels through the real parts: the service's kline client and open-interest poller
against the fake Binance on 127.0.0.1, the history store, and the API on top.

The fake's REST clock is the test's, so the polled readings carry times the test chooses; the
candles are kline frames on the fake's stream. Numbers are computed here from the definitions:
Binance's isolated-margin liquidation price of a 25x long (bracket 1 of the shipped table,
read from the JSON file) and the notional of the contracts opened, valued at the middle price
of the level's logarithmic bucket."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import orjson
import pytest
from helpers import wait_until

from app import create_app
from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.levels.oi_poll import PATH, LiveLevelsSettings
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

pytestmark = pytest.mark.slow
MINUTE = 60_000
P = 80_000.0
BRACKETS = Path(__file__).resolve().parents[2] / "heatmap_engine" / "levels" / "brackets.json"
G = math.log1p(0.1 / 100)  # the default bucket width (HEATMAP_LEVELS_BUCKET_PCT=0.1)


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def kline(symbol: str, open_ms: int, price: float, volume: float, taker_buy: float) -> dict:
    """A closed flat kline event (open = high = low = close), as Binance sends it."""
    p = f"{price:.2f}"
    return {"e": "kline", "E": open_ms + MINUTE, "s": symbol,
            "k": {"t": open_ms, "T": open_ms + MINUTE - 1, "s": symbol, "i": "1m", "o": p, "c": p,
                  "h": p, "l": p, "v": f"{volume}", "n": 10, "x": True, "q": f"{volume * price}",
                  "V": f"{taker_buy}", "Q": "0", "B": "0"}}  # fmt: skip


def settings_for(fake: FakeBinance, tmp_path: Path, **env: str) -> Settings:
    base = {
        "HEATMAP_SYMBOLS": "BTCUSDT",
        "HEATMAP_BINANCE_WS_URL": fake.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": fake.rest_base,
        "HEATMAP_UPDATE_INTERVAL": "0.05",
        "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.02",
        "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.1",
        "HEATMAP_PRICE_STALE_SECONDS": "3600",
        "HEATMAP_BACKFILL": "0",
        "HEATMAP_DATA_DIR": str(tmp_path / "data"),
    }
    return Settings.from_env({**base, **{f"HEATMAP_{k.upper()}": v for k, v in env.items()}})


@pytest.fixture
def live_env(monkeypatch):
    """The levels' settings are read from the environment: quick polls and ticks, no decay."""
    for name, value in {
        "HEATMAP_LEVELS_OI_POLL_SECONDS": "0.2",
        "HEATMAP_LEVELS_OI_MAX_PER_MINUTE": "600",
        "HEATMAP_LEVELS_LIVE_TICK_SECONDS": "0.05",
        "HEATMAP_LEVELS_HALF_LIFE_HOURS": "0",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def started():
    services: list[HeatmapService] = []
    yield services
    for service in services:
        assert service.stop(5.0)


def polls(fake: FakeBinance, symbol: str | None = None) -> int:
    return sum(1 for _, path, query in fake.rest_requests
               if path == PATH and (symbol is None or query.get("symbol") == symbol))  # fmt: skip


def test_open_interest_and_closed_candles_reach_the_live_book_and_the_api(
    tmp_path, live_env, started
):
    base = wall_clock_ms() // MINUTE * MINUTE - 10 * MINUTE  # ten minutes ago
    clock = Clock(base + 1_000)
    fake = FakeBinance(["BTCUSDT", "ETHUSDT"], clock=clock).start()
    try:
        fake.set_open_interest("BTCUSDT", "1000")
        service = HeatmapService(settings_for(fake, tmp_path))
        started.append(service.start())
        client = create_app(service.settings, service, start_engine=False).server.test_client()
        tracker = service.levels_live.tracker
        assert fake.wait_for_subscribers("btcusdt@kline_1m")
        # the first reading (1000 contracts, priced at the candle before it) starts the book:
        # all of it at unknown levels, half long, half short
        wait_until(lambda: polls(fake, "BTCUSDT") >= 1)
        fake.publish("btcusdt@kline_1m", kline("BTCUSDT", base - MINUTE, P, 5.0, 2.5))
        fake.publish("btcusdt@kline_1m", kline("BTCUSDT", base, P, 10.0, 10.0))  # all takers buy
        wait_until(lambda: tracker.bars_fed >= 2 and tracker.readings_fed >= 1)
        # the bar closed at base + 1 min; the next reading there says 400 contracts were opened
        fake.set_open_interest("BTCUSDT", "1400")
        clock.ms = base + MINUTE
        wait_until(lambda: tracker.readings_fed >= 2, timeout=15)
        body = wait_until(lambda: _map_after(client, base + MINUTE), timeout=15)
    finally:
        fake.stop()
    assert body["source"] == "live"
    lp = long_liquidation_price(25)
    expected = 400 * 0.25 * at_bucket(lp)  # tier weight 0.25, valued at its bucket
    row = next(b for b in body["profile"]["buckets"] if b["price_low"] <= lp < b["price_high"])
    assert row["tiers"]["25x"]["long_usd"] == pytest.approx(expected, rel=1e-6)
    assert row["tiers"]["25x"]["short_usd"] == 0  # every taker bought: no shorts opened
    unknown = body["profile"]["unknown_levels"]
    assert unknown["long_usd"] == pytest.approx(500 * P) == unknown["short_usd"]
    total_long = sum(b["long_usd"] for b in body["profile"]["buckets"])
    tiers = {5: 0.2, 10: 0.3, 25: 0.25, 50: 0.15, 100: 0.1}  # the default HEATMAP_LEVELS_TIERS
    by_hand = sum(400 * w * at_bucket(long_liquidation_price(lev)) for lev, w in tiers.items())
    assert total_long == pytest.approx(by_hand, abs=0.01 * len(tiers))


def long_liquidation_price(leverage: float) -> float:
    """Binance's isolated-margin LP of a long opened at P (§4.1), bracket 1 of the table."""
    table = json.loads(BRACKETS.read_text())
    btc = next(s for s in table["symbols"] if s["symbol"] == "BTCUSDT")["brackets"][0]
    mmr, cum = btc["maintMarginRatio"], btc["cum"]
    quantity = 2_000.0 / P  # HEATMAP_LEVELS_POSITION_USD picks the bracket
    wallet = quantity * P / leverage  # the position's isolated margin
    return (wallet + cum - quantity * P) / (quantity * mmr - quantity)


def at_bucket(price: float) -> float:
    """The middle price of the logarithmic bucket holding ``price``."""
    return math.exp((math.floor(math.log(price) / G) + 0.5) * G)


def _map_after(client, time_ms: int) -> dict | None:
    response = client.get("/api/levels/BTCUSDT/map?range=12h")
    if response.status_code != 200:
        return None
    body = response.get_json()
    if body["profile"]["time_ms"] < time_ms or body["source"] != "live":
        return None
    return body if body["profile"]["long_usd"] > 0 else None


def test_the_poller_stays_inside_its_stated_budget_and_reaches_every_symbol(
    tmp_path, monkeypatch, started
):
    monkeypatch.setenv("HEATMAP_LEVELS_OI_POLL_SECONDS", "1")
    monkeypatch.setenv("HEATMAP_LEVELS_OI_MAX_PER_MINUTE", "120")  # spacing 0.5 s, 2 a second
    symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
    fake = FakeBinance(list(symbols)).start()
    try:
        service = HeatmapService(settings_for(fake, tmp_path, symbols=",".join(symbols),
                                              history="0"))  # fmt: skip
        started.append(service.start())
        stated = LiveLevelsSettings.from_env().requests_per_minute(len(symbols))
        assert stated == 120  # 4 symbols every second would be 240: the cap holds it at 120
        wait_until(lambda: polls(fake) >= 1)
        began, first = time.monotonic(), polls(fake)
        wait_until(lambda: all(polls(fake, s) >= 2 for s in symbols), timeout=20)
        elapsed, count = time.monotonic() - began, polls(fake) - first
    finally:
        fake.stop()
    # at most one request per spacing (0.5 s) since the first: never above the stated rate
    assert count <= elapsed * stated / 60 + 1, (count, elapsed)
    assert service.levels_live.poller.readings >= 8
    assert stated / LiveLevelsSettings().requests_per_minute(570) >= 1  # defaults: 114/min
    assert LiveLevelsSettings().requests_per_minute(570) <= 0.05 * 2400


def test_kline_frames_the_engine_parses_carry_the_fields_the_book_needs():
    event = kline("BTCUSDT", 1_780_000_020_000 // MINUTE * MINUTE, P, 3.0, 1.0)
    assert orjson.loads(orjson.dumps(event))["k"]["V"] == "1.0"
