"""The engine core: dedupe, counting, eviction, snapshots and versions."""

from __future__ import annotations

import dataclasses

import pytest

from heatmap_engine.buffers import DedupeWindow
from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.models import Liquidation, MarkPrice, Skipped

NOW = 1_800_000_000_000
MIN = 60_000


def liq(symbol="BTCUSDT", side="long", price=100.0, qty=1.0, t=NOW, received=NOW):
    return Liquidation("binance", symbol, side, price, qty, price * qty, t, received)


def engine(**env) -> tuple[Engine, list[int]]:
    clock = [NOW]
    settings = Settings.from_env({f"HEATMAP_{k.upper()}": str(v) for k, v in env.items()})
    return Engine(settings, clock=lambda: clock[0]), clock


def test_duplicates_are_counted_once_and_reported():
    eng, _ = engine()
    event = liq()
    eng.process([event, event, dataclasses.replace(event, received_at_ms=NOW + 5)])
    status = eng.status()
    assert status["liquidations"] == 1
    assert status["duplicates"] == 2
    assert status["events_held"] == 1


def test_orders_sharing_a_millisecond_are_told_apart_and_each_repeat_is_caught():
    eng, _ = engine()
    orders = [liq(), liq(symbol="ETHUSDT"), liq(side="short"), liq(qty=2.0), liq(price=100.5)]
    eng.process(orders)
    eng.process([dataclasses.replace(o, received_at_ms=NOW + 7) for o in reversed(orders)])
    status = eng.status()
    assert (status["liquidations"], status["duplicates"]) == (len(orders), len(orders))


def test_the_duplicate_memory_keeps_an_order_for_its_horizon_then_forgets_it():
    horizon = 120_000
    memory = DedupeWindow(horizon)
    first = [liq(symbol=s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]  # one millisecond
    assert all(memory.is_new(o) for o in first)
    again = [dataclasses.replace(o, received_at_ms=NOW + 9) for o in first]  # another socket
    assert not any(memory.is_new(o) for o in again)
    assert memory.is_new(liq(t=NOW - 1)) and not memory.is_new(liq(t=NOW - 1))  # late: kept
    assert len(memory) == 4 and memory.newest_ms == NOW
    # newer orders move the horizon; up to horizon_ms past an order's time it is still known
    assert memory.is_new(liq(symbol="XRPUSDT", t=NOW + horizon))
    assert not any(memory.is_new(o) for o in first)
    # once the newest time is more than the horizon and one slice past it, it is gone
    later = NOW + horizon + DedupeWindow.SLICE_MS
    assert memory.is_new(liq(symbol="XRPUSDT", t=later))
    assert len(memory) == 2 and memory.newest_ms == later
    assert memory.is_new(first[0])


def test_nothing_received_is_silently_dropped():
    eng, _ = engine()
    eng.process(
        [
            liq(symbol="NOTTRACKEDUSDT"),
            liq(t=NOW - 2 * 60 * MIN),  # older than the 60 min window on arrival
            Skipped("binance", "coin_margined", "BTCUSD_PERP", 3700.0),
            liq(side="short", price=101.0, qty=2.0),
        ]
    )
    s = eng.status()
    assert s["liquidations"] == 3
    assert s["untracked_symbol"] == 1
    assert s["older_than_window"] == 1
    assert s["skipped"] == {"coin_margined": {"count": 1, "notional_usd": 3700.0}}
    assert s["by_side"]["short"] == {"count": 1, "notional_usd": pytest.approx(202.0)}
    assert s["by_side"]["long"]["count"] == 2
    assert s["events_held"] == 1


def test_snapshot_versions_follow_changes_and_memory_is_released():
    eng, clock = engine(min_cluster_size=3)
    eng.process([liq(t=NOW - i * MIN, price=100 + i * 0.01) for i in range(4)])
    eng.process([MarkPrice("binance", "BTCUSDT", 101.0, NOW)])
    eng.refresh()
    first = eng.snapshot("BTCUSDT")
    assert first.version == 1 and len(first.clusters) == 1
    assert first.current_price == 101.0
    eng.refresh()
    assert eng.snapshot("BTCUSDT") is first  # nothing changed, same object, same version
    clock[0] += 30 * MIN
    eng.refresh()
    second = eng.snapshot("BTCUSDT")
    assert second.version == 2 and second.clusters[0].strength == 1.0
    assert second.clusters[0].weighted_notional < first.clusters[0].weighted_notional
    clock[0] += 60 * MIN
    eng.refresh()
    third = eng.snapshot("BTCUSDT")
    assert third.clusters == () and third.events_in_window == 0
    assert eng.status()["events_held"] == 0
    assert eng.status()["evicted"] == 4


def test_every_tracked_symbol_gets_a_snapshot_even_without_data():
    eng, _ = engine(symbols="BTCUSDT,ETHUSDT")
    eng.refresh()
    snap = eng.snapshot("ETHUSDT")
    assert snap is not None and snap.current_price is None and snap.clusters == ()
    assert eng.snapshot("SOLUSDT") is None


def test_mark_prices_merge_across_split_messages_and_older_ones_do_not_win():
    eng, _ = engine(symbols="BTCUSDT,ETHUSDT")
    eng.process([MarkPrice("binance", "BTCUSDT", 100.0, NOW)])
    eng.process([MarkPrice("binance", "ETHUSDT", 10.0, NOW)])
    eng.process([MarkPrice("binance", "BTCUSDT", 99.0, NOW - 1000, "rest")])
    eng.refresh()
    assert eng.snapshot("BTCUSDT").current_price == 100.0
    assert eng.snapshot("ETHUSDT").current_price == 10.0


def test_all_symbols_mode_holds_events_until_the_universe_is_known():
    eng, _ = engine(symbols="all")
    eng.process([liq(symbol="NEWCOINUSDT"), liq(symbol="CATUSDT"), liq(symbol="BTCUSDT")])
    assert eng.status()["events_held"] == 3
    eng.set_symbols(["BTCUSDT", "NEWCOINUSDT"])
    s = eng.status()
    assert s["events_held"] == 2
    assert s["untracked_symbol"] == 1  # CATUSDT (TradFi) is counted, not silently lost
    eng.refresh()
    assert set(eng.snapshots()) == {"BTCUSDT", "NEWCOINUSDT"}


def test_snapshot_is_immutable():
    eng, _ = engine()
    eng.refresh()
    snap = eng.snapshot("BTCUSDT")
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.version = 99  # type: ignore[misc]


def test_candles_latest_frame_wins_and_memory_is_capped():
    from heatmap_engine.models import Candle

    eng, _ = engine(symbols="BTCUSDT")
    eng.state.candle_memory = 3

    def candle(minute, close, closed=True):
        t = NOW + minute * MIN
        return Candle(
            "binance", "BTCUSDT", "1m", t, t + MIN - 1, 1, 2, 0.5, close, 10, 100, 4, 9, closed
        )

    eng.process(
        [candle(0, 1.0, False), candle(0, 1.5), candle(1, 2.0), candle(2, 3.0), candle(3, 4.0)]
    )
    eng.refresh()
    assert [c.close for c in eng.state.recent_candles("BTCUSDT")] == [2.0, 3.0, 4.0]
    eng.process([candle(3, 4.5, False)])
    eng.refresh()
    assert eng.state.recent_candles("BTCUSDT")[-1].close == 4.5


def test_a_symbol_whose_clusters_fail_is_recorded_and_every_other_one_is_refreshed(monkeypatch):
    """The refresh computes every symbol's clusters at once; when that raises, each symbol is
    computed alone, so only the failing one is left out (and the failure is counted)."""
    from heatmap_engine import state as state_module

    eng, _ = engine()
    eng.process([liq("BTCUSDT", price=100.0, t=NOW - i) for i in range(6)])
    eng.process([liq("ETHUSDT", price=200.0, t=NOW - i) for i in range(6)])
    alone = state_module.compute_clusters

    def batch(*args):
        raise ValueError("the batch")

    def one(times, prices, *rest):
        if len(prices) and prices[0] == 200.0:
            raise ValueError("ETHUSDT's events")
        return alone(times, prices, *rest)

    monkeypatch.setattr(state_module, "compute_many_clusters", batch)
    monkeypatch.setattr(state_module, "compute_clusters", one)
    eng.refresh(NOW)
    (cluster,) = eng.snapshot("BTCUSDT").clusters
    assert cluster.liquidation_count == 6 and cluster.price_level == 100.0
    assert eng.snapshot("ETHUSDT") is None
    assert eng.state.failures.as_dict() == {"refreshing ETHUSDT: ValueError": 1}
