"""What the simulated market publishes: sampling (§1.4), wire format, candles, open interest."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np

from heatmap_engine.exchanges import binance
from heatmap_engine.models import Candle, Liquidation, MarkPrice, Skipped
from market_sim.hub import encode_frames
from market_sim.sim import render
from market_sim.sim.frames import LIQUIDATION_STREAM, MARK_PRICE_STREAM, kline_stream
from market_sim.sim.sampling import latest_per_symbol
from market_sim.sim.source import SimulatedMarket

RecordedRun = Any  # tests/market_sim/conftest.py: RecordedRun (frames + per-step checks)
MINUTE = 60_000


def usdm_orders(run: RecordedRun) -> list[dict[str, Any]]:
    return [p["o"] for p in run.payloads(LIQUIDATION_STREAM) if p["o"]["st"] == 1]


def truth(run: RecordedRun) -> list[dict[str, Any]]:
    return run.sim.truth.records(run.sim.truth.select())


def test_stream_never_carries_two_liquidations_of_one_symbol_in_one_second(
    busy_run: RecordedRun,
) -> None:
    orders = usdm_orders(busy_run)
    seconds = Counter((order["s"], order["T"] // 1000) for order in orders)
    assert seconds and max(seconds.values()) == 1


def test_stream_pushes_the_latest_per_symbol_second_and_less_than_the_truth_when_busy(
    busy_run: RecordedRun,
) -> None:
    by_second: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for record in truth(busy_run):
        by_second[(record["symbol"], record["time_ms"] // 1000)].append(record)
    pushed = {(o["s"], o["T"] // 1000): o for o in usdm_orders(busy_run)}
    assert set(pushed) == set(by_second)  # every second with a liquidation pushes one
    busy = {key: records for key, records in by_second.items() if len(records) > 1}
    assert len(busy) >= 10
    assert len(busy) < sum(len(records) for records in busy.values())  # stream < truth
    for key, records in by_second.items():
        assert pushed[key]["T"] == max(r["time_ms"] for r in records)
        assert [r["sampled"] for r in records].count(True) == 1
    steps = list(zip(busy_run.sampled_per_step, busy_run.truth_per_step, strict=True))
    assert all(pushed_count <= true_count for pushed_count, true_count in steps)
    assert sum(busy_run.sampled_per_step) < sum(busy_run.truth_per_step)


def test_pushed_frames_carry_exactly_the_sampled_truth(busy_run: RecordedRun) -> None:
    sampled = {
        (r["symbol"], r["time_ms"]): r for r in truth(busy_run) if r["sampled"]
    }  # fmt: skip
    orders = usdm_orders(busy_run)
    assert len(orders) == len(sampled) == busy_run.sim.truth.sampled
    for order in orders:
        record = sampled[(order["s"], order["T"])]
        assert (order["ap"], order["p"], order["z"], order["q"]) == (
            record["price"], record["limit_price"], record["quantity"], record["quantity"]
        )  # fmt: skip
        assert order["S"] == record["order_side"]
        assert Decimal(order["l"]) <= Decimal(order["z"])


def test_latest_per_symbol_breaks_ties_towards_the_later_event() -> None:
    sym = np.array([0, 1, 0, 0, 1])
    times = np.array([5, 9, 7, 7, 3])
    assert latest_per_symbol(sym, times).tolist() == [1, 3]


def test_the_real_client_parser_reads_every_frame(busy_run: RecordedRun) -> None:
    kinds: Counter[str] = Counter()
    for stream, payload in busy_run.frames:
        raw = encode_frames(stream, [payload], False, True)[0][0]
        result = binance.parse(raw, 0)
        assert result.errors == (), (stream, raw[:200])
        for event in result.events:
            kinds[type(event).__name__ if not isinstance(event, Skipped) else event.reason] += 1
    assert kinds[Liquidation.__name__] == busy_run.sim.truth.sampled
    assert kinds["coin_margined"] == busy_run.sim.coin_margined > 0
    assert kinds[MarkPrice.__name__] == 2400 * (len(busy_run.sim.symbols) + 4)
    assert kinds[Candle.__name__] == 2400 * len(busy_run.sim.symbols)
    orders = [p["o"] for p in busy_run.payloads(LIQUIDATION_STREAM)]
    assert any(o["l"] != o["z"] for o in orders)  # partial fills, as the live stream shows


def test_mark_price_tick_is_split_into_two_array_messages(busy_run: RecordedRun) -> None:
    messages = busy_run.payloads(MARK_PRICE_STREAM)
    assert len(messages) == 2 * 2400
    first, second = messages[0], messages[1]
    assert [entry["s"] for entry in first] == list(busy_run.sim.symbols)
    assert {entry["s"] for entry in second} == {"CATUSDT", "TSLAUSDT", "AAPLUSDT", "XAUUSDT"}
    assert first[0]["E"] == second[0]["E"] == busy_run.sim.config.start_ms + 1000


def closed_candles(run: RecordedRun, symbol: str) -> list[dict[str, Any]]:
    return [p["k"] for p in run.payloads(kline_stream(symbol)) if p["k"]["x"]]


def test_candles_bound_every_mark_and_liquidation_of_their_minute(busy_run: RecordedRun) -> None:
    marks: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
    for message in busy_run.payloads(MARK_PRICE_STREAM):
        for entry in message:
            marks[entry["s"]].append((entry["E"], Decimal(entry["p"])))
    liquidations = truth(busy_run)
    for symbol in busy_run.sim.symbols:
        candles = closed_candles(busy_run, symbol)
        assert len(candles) == 40
        for k in candles:
            low, high = Decimal(k["l"]), Decimal(k["h"])
            inside = [p for t, p in marks[symbol] if k["t"] <= t < k["t"] + MINUTE]
            assert len(inside) == (59 if k is candles[0] else 60)  # no mark at the start instant
            assert all(low <= p <= high for p in inside)
            own = [r for r in liquidations if r["symbol"] == symbol]
            prices = [Decimal(r["price"]) for r in own if k["t"] <= r["time_ms"] <= k["T"]]
            assert all(low <= p <= high for p in prices)
            assert Decimal(k["V"]) <= Decimal(k["v"]) and k["n"] > 0
            assert k["L"] - k["f"] + 1 == k["n"]
        assert all(a["c"] == b["o"] and a["T"] + 1 == b["t"] for a, b in pairwise(candles))


def test_taker_volume_is_consistent_with_the_liquidations(busy_run: RecordedRun) -> None:
    step = {p.symbol: p.step for p in busy_run.sim.profiles}
    per_minute: dict[tuple[str, int, str], Decimal] = defaultdict(Decimal)
    for r in truth(busy_run):
        per_minute[(r["symbol"], r["time_ms"] // MINUTE * MINUTE, r["order_side"])] += Decimal(
            r["quantity"]
        )
    for symbol in busy_run.sim.symbols:
        for k in closed_candles(busy_run, symbol):
            bought, volume = Decimal(k["V"]), Decimal(k["v"])
            assert bought >= per_minute[(symbol, k["t"], "BUY")]  # shorts liquidated = buys
            assert volume - bought >= per_minute[(symbol, k["t"], "SELL")]
            assert volume % step[symbol] == 0


def test_open_interest_history_is_the_open_interest_at_those_instants(
    busy_run: RecordedRun,
) -> None:
    sim = busy_run.sim
    market = SimulatedMarket(sim)
    for i, profile in enumerate(sim.profiles):
        rows = market.open_interest_rows(profile.symbol, "5m", sim.now_ms, (None, None), 500)
        assert len(rows) == 2400 // 300
        for row in rows:
            assert row["timestamp"] % 300_000 == 0
            lots = busy_run.oi_at[row["timestamp"]][i]
            assert Decimal(row["sumOpenInterest"]) == lots * profile.step
        assert sim.open_interest_text(i) == render.lots(
            int(sim.book.oi_lots[i]), profile.qty_decimals
        )
