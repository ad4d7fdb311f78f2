"""``/api/heatmap/<symbol>?at=``: the heatmap as it stood then, recomputed from the store, equals
what the live engine showed at that moment."""

from __future__ import annotations

import dataclasses
import random

import pytest
from helpers import wait_until

from api.resources.heatmap import heatmap_payload
from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.models import Liquidation, MarkPrice, iso_utc

MINUTE = 60_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PRICE_STEP_MS = 5_000  # the store keeps one mark price per symbol per 5 s


LEVELS = {"long": (-0.03, -0.012, -0.004), "short": (0.006, 0.02)}  # relative to the price


def market(seed: int = 11) -> tuple[list[Liquidation], list[MarkPrice]]:
    """Three hours of BTC liquidations before T0 around a drifting price (prices every 5 s),
    events exactly one decay window before the times asked about, and a PEPE cluster."""
    rng = random.Random(seed)
    liquidations, prices = [], []
    for t in range(T0 - 180 * MINUTE, T0 + 1, PRICE_STEP_MS):
        btc = 90_000 * (1 + 0.02 * (t - T0) / (180 * MINUTE))
        prices += [MarkPrice("binance", "BTCUSDT", btc, t),
                   MarkPrice("binance", "1000PEPEUSDT", 0.012 * btc / 90_000, t)]  # fmt: skip
        if rng.random() < 0.35:
            side = rng.choice(["long", "short"])
            level = btc * (1 + rng.choice(LEVELS[side]))
            qty = round(rng.uniform(0.01, 3.0), 3)
            # none after T0: a live engine counts a trade time ahead of its clock as age 0,
            # while the past heatmap's window ends at `at` (see the running-service test)
            when = min(t + rng.randrange(PRICE_STEP_MS), T0)
            liquidations.append(
                Liquidation("binance", "BTCUSDT", side, level, qty, level * qty, when, when + 9)
            )
    for at in (T0 - 60 * MINUTE, T0 - 30 * MINUTE):
        for edge in (at - 60 * MINUTE, at - 60 * MINUTE + 1, at):  # leaves, stays, newest
            liquidations += [_liq("BTCUSDT", 88_800.0, 1.0 + k, edge) for k in range(5)]
    liquidations += [_liq("1000PEPEUSDT", 0.0118, 2e6 + k, T0 - 40 * MINUTE + k) for k in range(6)]
    return liquidations, prices


def _liq(symbol: str, price: float, qty: float, time_ms: int) -> Liquidation:
    return Liquidation("binance", symbol, "long", price, qty, price * qty, time_ms, time_ms + 9)


def engine_at(settings: Settings, at_ms: int, liquidations, prices) -> Engine:
    """A live engine that saw everything up to ``at_ms`` in trade-time order, refreshed then."""
    engine = Engine(settings, clock=lambda: at_ms)
    events = [e for e in [*liquidations, *prices] if e.event_time_ms <= at_ms]
    engine.process(sorted(events, key=lambda e: e.event_time_ms))
    engine.refresh(at_ms)
    return engine


def assert_same_clusters(got: list[dict], expected: list[dict]) -> None:
    assert [c["cluster_id"] for c in got] == [c["cluster_id"] for c in expected]
    for a, b in zip(got, expected, strict=True):
        assert a.keys() == b.keys()
        for key, value in b.items():
            assert a[key] == (value if isinstance(value, str | int) or value is None
                              else pytest.approx(value, rel=1e-9)), key  # fmt: skip


@pytest.fixture
def past(make_history_client):
    liquidations, prices = market()
    # the market lies at a fixed date (T0) more than 30 days ago: keep its mark prices, or the
    # writer's first retention pass (30 days of mark prices by default, on the wall clock) would
    # prune them while the test reads
    client, service = make_history_client(
        lambda store: store.write_batch(liquidations, prices),
        HEATMAP_RETENTION_MARK_PRICES_DAYS="0",
    )
    return client, service, liquidations, prices


@pytest.mark.parametrize(
    "at_ms",
    [T0 - 150 * MINUTE, T0 - 60 * MINUTE, T0 - 30 * MINUTE, T0 - 30 * MINUTE + 2_500, T0],
)
@pytest.mark.parametrize("filters", ["", "&min_strength=0.3&max_distance=2.5"])
def test_the_past_heatmap_is_what_the_live_engine_showed_then(past, check_spec, at_ms, filters):
    client, service, liquidations, prices = past
    engine = engine_at(service.settings, at_ms, liquidations, prices)
    for symbol in ("BTCUSDT", "1000PEPEUSDT"):
        response = client.get(f"/api/heatmap/{symbol}?at={at_ms}{filters}")
        check_spec(response, "/api/heatmap/{symbol}")
        body = response.get_json()
        low, far = body["filters"]["min_strength"], body["filters"]["max_distance"]
        live = heatmap_payload(symbol, engine.snapshot(symbol), low, far, at_ms)
        assert body["at"] == body["timestamp"] == iso_utc(at_ms) and body["version"] == 0
        for key in ("current_price", "price_time", "total_clusters", "clusters_before_filters"):
            assert body[key] == live[key], key
        assert_same_clusters(body["clusters"], live["clusters"])
    assert engine.snapshot("BTCUSDT").clusters


def test_at_as_iso_with_any_offset_or_ms_is_the_same_heatmap(past):
    client = past[0]
    at = T0 - 30 * MINUTE
    forms = (str(at), "2025-12-31T23:30:00Z", "2025-12-31T23:30:00",
             "2026-01-01T00:30:00%2B01:00", "2025-12-31 18:30:00.000-05:00")  # fmt: skip
    bodies = [client.get(f"/api/heatmap/btc?at={value}").get_json() for value in forms]
    assert bodies[0]["clusters"] and all(b == bodies[0] for b in bodies)


def test_a_time_before_any_history_has_no_clusters_and_no_price(past):
    body = past[0].get("/api/heatmap/BTCUSDT?at=2020-01-01").get_json()
    assert body["success"] and body["clusters"] == [] and body["current_price"] is None


def test_at_now_from_the_store_equals_the_live_heatmap_of_a_running_service(make_history_client):
    """Liquidations and a price go through a running service (engine thread, history writer);
    the heatmap at the engine's "now", recomputed from what was stored, is the live one."""
    client, service = make_history_client(lambda store: None)
    now = service.engine.clock()
    liquidations, _ = market()
    shifted = [
        dataclasses.replace(e, event_time_ms=e.event_time_ms - T0 + now, received_at_ms=now)
        for e in liquidations
    ]
    service.submit((*shifted, MarkPrice("binance", "BTCUSDT", 90_100.0, now - 1_000)))
    wait_until(lambda: service.status()["engine"]["liquidations"] == len(shifted))
    assert service.history.writer.flush(10.0)
    wait_until(lambda: (s := service.snapshot("BTCUSDT")) and s.computed_at_ms == now
               and s.events_in_window > 0 and s.current_price == 90_100.0)  # fmt: skip
    live = client.get("/api/heatmap/BTCUSDT?max_distance=50").get_json()
    stored = client.get(f"/api/heatmap/BTCUSDT?max_distance=50&at={now}").get_json()
    assert live["clusters"]
    assert stored["current_price"] == live["current_price"]
    assert stored["clusters_before_filters"] == live["clusters_before_filters"]
    assert_same_clusters(stored["clusters"], live["clusters"])
