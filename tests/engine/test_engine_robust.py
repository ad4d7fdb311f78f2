"""Bad times and bad events: counted, skipped, never costing the rest; versions that mean it."""

from __future__ import annotations

import dataclasses
import json

from binance_frames import force_order, mark_price

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges import binance
from heatmap_engine.models import Liquidation, MarkPrice

NOW = 1_800_000_000_000
MIN = 60_000


def engine(**env) -> tuple[Engine, list[int]]:
    clock = [NOW]
    settings = Settings.from_env({f"HEATMAP_{k.upper()}": str(v) for k, v in env.items()})
    return Engine(settings, clock=lambda: clock[0]), clock


def frame(payload: dict) -> str:
    """A combined-stream frame; the standard library writes integers of any size."""
    return json.dumps({"stream": "!forceOrder@arr", "data": payload})


def ingest(eng: Engine, raw: str, received_ms: int = NOW) -> tuple[str, ...]:
    """Through the real parser into the engine, as the feed does; the parse errors."""
    result = binance.parse(raw, received_ms)
    eng.process(result.events)
    return result.errors


def test_a_far_future_trade_time_cannot_switch_off_duplicate_detection():
    eng, _ = engine()
    order = force_order("BTCUSDT", "SELL", 90_000.0, 0.2, NOW - 1_000)
    future = force_order("BTCUSDT", "BUY", 91_000.0, 0.3, NOW + 365 * 24 * 60 * MIN)
    assert ingest(eng, frame(order)) == ()
    assert ingest(eng, frame(future)) == ("time_in_future",)
    assert ingest(eng, frame(order), NOW + 50) == ()  # the same order again (a second socket)
    status = eng.status()
    assert (status["liquidations"], status["duplicates"]) == (1, 1)


def test_a_trade_time_beyond_64_bits_never_raises_anywhere():
    eng, _ = engine()
    for huge in (2**63 + 1, 2**64, 10**30):
        assert ingest(eng, frame(force_order("BTCUSDT", "SELL", 90_000.0, 0.2, huge))) == (
            "time_in_future",
        )
    # and one that reached the engine by another road (not the parser): counted, skipped
    direct = Liquidation("binance", "BTCUSDT", "long", 90_000.0, 0.2, 18_000.0, 2**64, NOW)
    eng.process([direct])
    eng.refresh()
    status = eng.status()
    assert status["liquidations"] == 0 and status["events_held"] == 0
    assert status["failed_events"] == {}
    assert eng.state.counters["time_out_of_range"] == 1


def test_one_bad_event_never_costs_the_rest_of_its_batch(caplog):
    eng, _ = engine(symbols="BTCUSDT,ETHUSDT,SOLUSDT")
    good = Liquidation("binance", "BTCUSDT", "long", 100.0, 1.0, 100.0, NOW - 1_000, NOW)
    broken = dataclasses.replace(good, liquidated_side="sideways", price=101.0)  # type: ignore
    later = dataclasses.replace(good, price=102.0)
    eng.process([good, broken, later, dataclasses.replace(broken, price=103.0)])
    status = eng.status()
    assert status["events_held"] == 2  # the good ones, before and after the broken ones
    assert status["failed_events"] == {"applying a Liquidation: KeyError": 2}
    assert len([r for r in caplog.records if r.exc_info]) == 1  # logged once, counted twice


def test_a_mark_price_array_is_one_batch_and_a_broken_entry_costs_only_itself():
    eng, _ = engine(symbols="BTCUSDT,ETHUSDT,SOLUSDT")
    eng.process([
        MarkPrice("binance", "BTCUSDT", 90_000.0, NOW),
        MarkPrice("binance", "ETHUSDT", 3_000.0, str(NOW)),  # type: ignore[arg-type]  # a str
        MarkPrice("binance", "SOLUSDT", 150.0, NOW),
    ])  # fmt: skip
    eng.refresh()
    assert eng.snapshot("BTCUSDT").current_price == 90_000.0
    assert eng.snapshot("SOLUSDT").current_price == 150.0
    assert eng.snapshot("ETHUSDT").current_price is None
    assert eng.status()["failed_events"] == {"applying a MarkPrice: TypeError": 1}


def busy_engine() -> tuple[Engine, list[int]]:
    """Two clusters of BTC liquidations over the last 20 minutes and a mark price."""
    eng, clock = engine(min_cluster_size=3)
    for i in range(12):
        side, price = ("SELL", 90_000.0 - i) if i % 2 else ("BUY", 92_500.0 + i)
        ingest(eng, frame(force_order("BTCUSDT", side, price, 0.5 + i / 10, NOW - i * 100_000)))
    ingest(eng, json.dumps({"stream": "!markPrice@arr@1s",
                            "data": [mark_price("BTCUSDT", 91_234.5678, NOW)]}))  # fmt: skip
    eng.refresh()
    return eng, clock


def test_the_version_stays_while_nothing_a_reader_sees_changes():
    eng, _ = busy_engine()
    first = eng.snapshot("BTCUSDT")
    assert len(first.clusters) == 2 and first.current_price == 91_234.6  # 6 significant digits
    eng.process([MarkPrice("binance", "BTCUSDT", 91_234.5721, NOW + 5)])  # same at 6 digits
    eng.refresh()
    assert eng.snapshot("BTCUSDT") is first
    eng.process([MarkPrice("binance", "BTCUSDT", 91_236.0, NOW + 6)])  # visible: a new version
    eng.refresh()
    second = eng.snapshot("BTCUSDT")
    assert second.version == first.version + 1 and second.current_price == 91_236.0
    assert [c.distance_from_price for c in second.clusters] != [
        c.distance_from_price for c in first.clusters
    ]


def test_published_figures_carry_the_stated_precision():
    eng, _ = busy_engine()
    snap = eng.snapshot("BTCUSDT")
    assert snap.current_price == float(f"{91_234.5678:.6g}")
    for c in snap.clusters:
        assert c.strength == round(c.strength, 4)
        assert c.weighted_notional == round(c.weighted_notional, 2)
        assert c.price_level == float(f"{c.price_level:.6g}")
        # derived from the published prices, so it moves only when one of them does
        assert c.distance_from_price == abs(c.price_level - snap.current_price) / 91_234.6 * 100
        assert c.price_low <= c.price_level < c.price_high


def test_a_snapshot_built_anywhere_publishes_the_same_precision():
    """The heatmap at a past time builds its own Snapshot: it gets the same rounding."""
    eng, _ = busy_engine()
    live = eng.snapshot("BTCUSDT")
    raw = [dataclasses.replace(c, strength=c.strength + 1e-9, price_level=c.price_level + 1e-7)
           for c in live.clusters]  # fmt: skip
    rebuilt = dataclasses.replace(live, clusters=tuple(raw), current_price=91_234.5678)
    assert rebuilt.same_content(live) and rebuilt.clusters == live.clusters
