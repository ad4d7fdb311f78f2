"""``python app.py --demo`` has estimated levels with substance: the simulated market's candles
and open interest (its older REST history and the fully simulated part) reach the store through
the real client and the backfill, and ``/api/levels`` has standing levels in every column of the
day, long below and short above the price."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import wait_until

from app import create_app
from heatmap_engine.config import Settings
from heatmap_engine.service import HeatmapService
from market_sim.demo import start_demo_market

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path):
    """A small demo as ``app._demo_service`` builds it: BTCUSDT only, three days of history of
    which the last hour fully simulated, the service reading the market via the real client."""
    market = start_demo_market(seed=7, speed=1.0, prefill_minutes=60, symbols=["BTCUSDT"],
                               history_days=3.0)  # fmt: skip
    settings = Settings.from_env({
        "HEATMAP_SYMBOLS": "BTCUSDT",
        "HEATMAP_BINANCE_WS_URL": market.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": market.rest_base,
        "HEATMAP_DATA_DIR": str(tmp_path / "demo"),
        "HEATMAP_UPDATE_INTERVAL": "0.2",
    })  # fmt: skip
    settings = dataclasses.replace(settings, backfill_kline_days=market.history_days)
    service = HeatmapService(settings, mode="demo", event_time=True, clock=market.clock_ms)
    market.follow(service.feed_lag_seconds, 10.0)
    try:
        service.start()
        yield market, service
    finally:
        assert service.stop(10.0)
        market.stop()


def _levels(client) -> dict | None:
    response = client.get("/api/levels/BTCUSDT?range=24h")
    if response.status_code != 200:
        return None
    body = response.get_json()
    quality = body["data_quality"]
    # the backfill stores a day of candles, then of open interest: both must cover the range
    covered = quality["candle_coverage"] > 0.99 and quality["open_interest_coverage"] > 0.99
    return body if covered else None


def test_the_demo_day_has_standing_levels_in_every_column(demo):
    _market, service = demo
    client = create_app(service.settings, service, start_engine=False).server.test_client()
    body = wait_until(lambda: _levels(client), timeout=120, interval=0.5)
    columns = len(body["price_candlesticks"])
    assert columns >= 200  # a day of candles in screen-sized columns
    with_levels = {x for x, _, usd in body["liquidation_leverage_data"] if usd >= 1}
    assert with_levels == set(range(columns)), f"{columns - len(with_levels)} empty columns"
    quality = body["data_quality"]
    assert quality["open_interest_coverage"] > 0.95
    assert quality["range_end_ms"] - quality["range_start_ms"] == 86_400_000
    profile = body["profile"]
    price = profile["price"]
    long_below = sum(b["long_usd"] for b in profile["buckets"] if b["price_high"] <= price)
    short_above = sum(b["short_usd"] for b in profile["buckets"] if b["price_low"] >= price)
    assert long_below > 0 and short_above > 0
    assert sum(p["long_usd"] + p["short_usd"] for p in body["predicted_liquidations"]) > 0
