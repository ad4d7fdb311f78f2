"""The ingest fast paths (a known symbol, the usual field types) give exactly what the checked
path gives: each frame is parsed once with the parser's symbol memory empty, which sends every
part through the checked path, and again once it knows the symbols. And the engine applies a
mark-price array as columns exactly as it applies the same prices one event at a time."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random

import orjson
import pytest
from helpers import FIXTURES

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges import binance
from heatmap_engine.exchanges.base import ParseResult, TimeWindow
from heatmap_engine.models import Liquidation, MarkPrice, MarkPriceColumns

RECEIVED = 1_788_936_948_152


def forget_symbols() -> None:  # test_replay_real does the same with the real recordings
    binance._MARK_SYMBOLS.clear()
    binance._USDM_SYMBOLS.clear()


def cold_and_warm(raw, received: int):
    forget_symbols()
    cold = binance.parse(raw, received)
    warm = binance.parse(raw, received)
    return cold, warm


def same(cold, warm) -> None:
    assert tuple(warm.events) == tuple(cold.events)
    assert [type(e) for e in warm.events] == [type(e) for e in cold.events]
    assert (warm.errors, warm.control, warm.carries_data) == (
        cold.errors,
        cold.control,
        cold.carries_data,
    )


@pytest.mark.parametrize("path", sorted((FIXTURES / "binance").iterdir()), ids=lambda p: p.name)
@pytest.mark.parametrize("received", [RECEIVED, 0])
def test_every_recorded_fixture_parses_alike_cold_and_warm(path, received):
    same(*cold_and_warm(path.read_text().strip(), received))


BROKEN = [
    ("p", True), ("p", ""), ("p", "nan"), ("p", "inf"), ("p", "1e400"), ("p", "-1"), ("p", 5),
    ("p", None), ("E", "1788936948002"), ("E", 2**64), ("E", 1_000), ("E", RECEIVED + 3.6e6),
    ("E", True), ("s", None), ("s", ""), ("s", ["X"]), ("e", "kline"),
]  # fmt: skip


def test_mark_price_arrays_with_broken_entries_parse_alike_cold_and_warm():
    rng = random.Random(3)
    names = [f"C{i}USDT" for i in range(30)] + ["btcusdt", "币安人生USDT"]
    for _ in range(200):
        entries: list = []
        for sym in rng.sample(names, 12):
            p = f"{rng.uniform(0.001, 90_000):.8f}"
            entry = {"e": "markPriceUpdate", "E": RECEIVED - rng.randint(0, 5_000), "s": sym,
                     "p": p, "i": p, "r": "", "T": 0}  # fmt: skip
            if rng.random() < 0.2:
                field, value = rng.choice(BROKEN)
                entry[field] = value
            entries.append(entry)
        if rng.random() < 0.1:
            entries.append(rng.choice([1, "x", None, []]))
        raw = json.dumps({"stream": "!markPrice@arr@1s", "data": entries})
        cold, warm = cold_and_warm(raw, RECEIVED)
        same(cold, warm)
        # and once more, warm, with another receive time (the window moves)
        later = binance.parse(raw, RECEIVED + 4_000)
        forget_symbols()
        same(binance.parse(raw, RECEIVED + 4_000), later)


def test_liquidation_frames_with_odd_fields_parse_alike_cold_and_warm(fixture_frame):
    base = orjson.loads(fixture_frame("force_order_live_2026_wrapped.json"))
    received = base["data"]["E"] + 150
    variants = [
        {"ap": "0"}, {"ap": 82651.9}, {"z": "0"}, {"z": None}, {"T": str(base["data"]["E"])},
        {"T": True}, {"T": received + 6 * 60_000}, {"st": 2}, {"S": "sell"}, {"S": ["SELL"]},
        {"X": 5}, {"ap": "inf"}, {"s": "btcusdt"}, {"s": "BTCUSD_PERP"},
    ]  # fmt: skip
    for change in variants:
        frame = json.loads(json.dumps(base))
        frame["data"]["o"].update(change)
        cold = binance.parse(json.dumps(frame), received)  # the symbol may be known already
        forget_symbols()
        same(binance.parse(json.dumps(frame), received), cold)
        top = json.loads(json.dumps(frame))
        top["data"]["o"].pop("st", None)
        top["data"]["st"] = 2  # COIN-M said at the top level only
        same(*cold_and_warm(json.dumps(top), received))
        assert all(e.reason == "coin_margined" for e in binance.parse(json.dumps(top), 0).events)


ODD_NUMBERS = [
    "1_000", " 1", "1 ", "+1", ".5", "5.", "-0", "0", "1e-400", "1e400", "nan", "NaN", "inf",
    "Infinity", "-1", "00012", "0x1", "\u0661", "", "true", "1e5", "0.1e1", "9007199254740993",
    82651.9, 1, 0, -1, 2**70, True, None, [], {},
]  # fmt: skip


def odd_times(t: int) -> list:
    return [str(t), f"{t}.0", f"{t}.5", float(t), t + 0.5, f"{t / 1000}e3", " " + str(t),
            2**64, -1, 0, True, None, "x"]  # fmt: skip


def test_the_typed_read_gives_what_the_checked_path_gives_for_odd_spellings(
    fixture_frame, monkeypatch
):
    """``parse`` reads the usual liquidation frame typed (msgspec); ``parse_decoded`` reads
    every frame through orjson and the checked path. With the symbol known, odd spellings of
    the fields the typed read takes (numbers as strings or not, times as floats or strings,
    status, contract type, a missing wrapper) read alike: where the typed read does not take
    a frame as it is, it hands it over."""
    base = orjson.loads(fixture_frame("force_order_live_2026_wrapped.json"))
    received = base["data"]["E"] + 150
    when = base["data"]["o"]["T"]
    changes = [{"ap": v} for v in ODD_NUMBERS] + [{"z": v} for v in ODD_NUMBERS]
    changes += [{"T": v} for v in odd_times(when)] + [{"T": received + 6 * 60_000}]
    changes += [{"X": v} for v in (5, None, "", "PARTIALLY_FILLED", "EXPIRED")]
    changes += [{"st": v} for v in ("2", 2.0, [2], None, 1, 2)] + [{"S": "sell"}, {"s": 5}]
    changes += [{"extra": [1, {"deep": [2.5, None, "\u00e9"]}]}]
    binance.parse(json.dumps(base), received)  # the symbol is known from here on
    frames = []
    for change in changes:
        frame = json.loads(json.dumps(base))
        frame["data"]["o"].update(change)
        frames.append(frame)
    for key in ("st", "ps", "T"):
        frame = json.loads(json.dumps(base))
        del frame["data"]["o"][key]
        frames.append(frame)
    frames.append(base["data"])  # unwrapped
    frames.append({"data": base["data"]})  # no stream name: not the combined stream's wrapper
    frames.append({**base, "data": {**base["data"], "e": "forceorder"}})
    frames.append({**base, "data": {**base["data"], "st": 2}})
    for frame in frames:
        raw = json.dumps(frame)
        for window in (binance.DEFAULT_WINDOW, TimeWindow(relative=False)):
            for at in (received, 0):
                same(binance.parse_decoded(raw, at, window), binance.parse(raw, at, window))
    # keys repeated in the text: the last one counts, for both readings
    raw = json.dumps(base).replace('"T": ', '"z": "7.5", "T": ', 1)  # after the first z
    assert binance.parse(raw, received).events[0].quantity == 7.5
    same(binance.parse_decoded(raw, received), binance.parse(raw, received))
    # and the usual frame, and plain spellings of its numbers, are read typed, not handed over
    handed: list = []
    checked = binance.parse_decoded
    monkeypatch.setattr(binance, "parse_decoded", lambda *a: handed.append(a) or checked(*a))
    for change in ({}, {"ap": "1e5"}, {"z": 1}, {"T": str(when)}, {"X": "EXPIRED"}):
        frame = json.loads(json.dumps(base))
        frame["data"]["o"].update(change)
        assert binance.parse(json.dumps(frame), received).events[0].symbol == "BTCUSDT"
    assert handed == []


def engine() -> tuple[Engine, list]:
    eng = Engine(Settings.from_env({"HEATMAP_SYMBOLS": "BTCUSDT,ETHUSDT"}), clock=lambda: RECEIVED)
    sunk: list = []
    eng.history_sink = sunk.append
    return eng, sunk


def test_a_mark_price_array_is_applied_as_columns_like_one_event_at_a_time():
    rng = random.Random(5)
    symbols = ["BTCUSDT", "ETHUSDT", "XAUUSDT"]
    arrays = []
    for second in range(40):
        t = RECEIVED - 40_000 + second * 1000 + rng.choice([0, 0, -3_000])  # some arrive late
        prices = [rng.choice([100.0, 100.5, 101.0]) for _ in symbols]
        arrays.append(MarkPriceColumns("binance", symbols, prices, [t] * len(symbols)))
    columns, columns_sunk = engine()
    events, events_sunk = engine()
    for array in arrays:
        columns.process(array)
        events.process(tuple(array))  # MarkPrice objects, one at a time
    assert columns_sunk == events_sunk and all(type(e) is MarkPrice for e in columns_sunk)
    assert {s: (e.price, e.time_ms, e.source) for s, e in columns.state.prices.items()} == {
        s: (e.price, e.time_ms, e.source) for s, e in events.state.prices.items()
    }
    assert columns.status()["mark_prices"] == events.status()["mark_prices"]
    # independently: the newest time per symbol wins; one sample per symbol per 5 s
    newest = max(a.times[0] for a in arrays)
    assert {e.time_ms for e in columns.state.prices.values()} == {newest}
    for symbol in symbols:
        times = [e.event_time_ms for e in columns_sunk if e.symbol == symbol]
        assert all(b - a >= 5_000 for a, b in itertools.pairwise(times))


def test_a_rest_price_newer_than_the_stream_is_replaced_by_the_next_stream_price():
    eng, _ = engine()
    eng.process([MarkPrice("binance", "BTCUSDT", 100.0, RECEIVED, "rest")])
    eng.process(MarkPriceColumns("binance", ["BTCUSDT"], [100.0], [RECEIVED + 1]))
    entry = eng.state.prices["BTCUSDT"]
    assert (entry.price, entry.time_ms, entry.source) == (100.0, RECEIVED + 1, "stream")
    eng.process(MarkPriceColumns("binance", ["BTCUSDT"], [99.0], [RECEIVED]))  # older: ignored
    assert eng.state.prices["BTCUSDT"].price == 100.0
    assert eng.status()["mark_prices"] == {"stream": 1, "rest": 1, "symbols_priced": 1}


def test_mark_price_columns_read_as_a_tuple_of_mark_prices():
    cols = MarkPriceColumns("binance", ["BTCUSDT", "ETHUSDT"], [1.0, 2.0], [5, 6])
    expected = (MarkPrice("binance", "BTCUSDT", 1.0, 5), MarkPrice("binance", "ETHUSDT", 2.0, 6))
    assert cols == expected and len(cols) == 2 and cols[1] == expected[1]
    empty: tuple = ()
    assert list(cols) == list(expected) and cols + empty == expected and empty + cols == expected
    assert cols[:1] == expected[:1] and hash(cols) == hash(expected)


def test_the_fast_path_makes_true_frozen_liquidations_and_parse_results():
    """The fast path builds its objects without their __init__: they are still the real frozen
    types, equal to (and hashing like) the same values built the ordinary way."""
    order = {"s": "BTCUSDT", "S": "BUY", "o": "LIMIT", "q": "0.500", "p": "60000.0",
             "ap": "60010.5", "X": "FILLED", "z": "0.500", "T": RECEIVED - 5, "st": 1}  # fmt: skip
    data = {"e": "forceOrder", "E": RECEIVED, "o": order}
    raw = orjson.dumps({"stream": "!forceOrder@arr", "data": data})
    binance.parse(raw, RECEIVED)  # the symbol known: the next parse takes the fast path
    result = binance.parse(raw, RECEIVED)
    expected = Liquidation("binance", "BTCUSDT", "short", 60010.5, 0.5, 60010.5 * 0.5,
                           RECEIVED - 5, RECEIVED, "FILLED")  # fmt: skip
    assert type(result) is ParseResult and result == ParseResult((expected,))
    (liq,) = result.events
    assert type(liq) is Liquidation and liq == expected and hash(liq) == hash(expected)
    assert (result.errors, result.control) == ((), False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        liq.price = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.events = ()  # type: ignore[misc]
    moved = dataclasses.replace(liq, price=60011.0)
    assert (moved.price, moved.symbol, type(moved)) == (60011.0, "BTCUSDT", Liquidation)
