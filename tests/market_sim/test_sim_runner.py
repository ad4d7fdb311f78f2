"""The simulated market behind a running FakeBinance: runner, prefill burst, REST, truth routes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from market_sim.fake_binance import FakeBinance
from market_sim.hub import wait_until
from market_sim.sim.market import MarketSimulation
from market_sim.sim.params import SimConfig
from market_sim.sim.runner import MarketRunner, wire_frames
from market_sim.sim.source import SimulatedMarket

Connect = Callable[..., websocket.WebSocket]
LIQ = "!forceOrder@arr"


@pytest.fixture
def market(make_sim_config: Callable[..., SimConfig]) -> SimulatedMarket:
    """A simulated market with 10 minutes of history (nothing serving it yet)."""
    sim = MarketSimulation(make_sim_config(vol_scale=2.0))
    runner = MarketRunner(SimulatedMarket(sim), speed=0)
    runner.prefill_until(sim.now_ms + 600_000)
    return runner.market


@pytest.fixture
def served(market: SimulatedMarket) -> Iterator[FakeBinance]:
    """A fake serving `market` (not stepping: its state stays put during the test)."""
    fake = FakeBinance(symbols=list(market.sim.symbols), clock=market.clock)
    fake.attach_market(market)
    with fake:
        yield fake


def get(fake: FakeBinance, path: str, **params: Any) -> requests.Response:
    return requests.get(fake.rest_base + path, params=params, timeout=5)


def test_prefill_burst_then_live_frames_reach_the_first_subscriber(
    make_sim_config: Callable[..., SimConfig], connect: Connect
) -> None:
    market = SimulatedMarket(MarketSimulation(make_sim_config(vol_scale=2.0)))
    runner = MarketRunner(market, speed=40)
    prefill_end = market.sim.now_ms + 600_000
    runner.prefill_until(prefill_end)
    backlog = market.sim.truth.sampled + market.sim.coin_margined
    assert runner.stats()["backlog"] == backlog > 0
    with FakeBinance(symbols=list(market.sim.symbols), clock=market.clock) as fake:
        fake.attach_market(market)
        runner.start(fake)
        try:
            assert "market-sim" in {thread.name for thread in threading.enumerate()}
            ws = connect(f"{fake.ws_market_base}/stream?streams={LIQ}", timeout=5)
            assert wait_until(lambda: runner.ticks >= 40, 10)
        finally:
            runner.stop(5)
        total = market.published_force_orders + market.published_coin_margined
        received = [json.loads(ws.recv())["data"] for _ in range(total)]
    times = [frame["o"]["T"] for frame in received]
    assert times == sorted(times)  # the burst in time order, then live
    assert max(times[:backlog]) < prefill_end  # history first (live ones may follow)
    usdm = [frame for frame in received if frame["o"]["st"] == 1]
    assert len(usdm) == market.published_force_orders == market.sim.truth.sampled
    assert runner.missed == 0 and runner.stats()["backlog"] is None
    assert not runner.running


def test_runner_stops_cleanly_and_rejects_a_second_start(market: SimulatedMarket) -> None:
    runner = MarketRunner(market, speed=5)
    with FakeBinance(symbols=list(market.sim.symbols)) as fake:
        runner.start(fake)
        with pytest.raises(RuntimeError):
            runner.start(fake)
        with pytest.raises(RuntimeError):
            runner.prefill_until(market.sim.now_ms + 1000)
        runner.stop(5)
        runner.stop(5)  # idempotent
    assert not runner.running
    with pytest.raises(ValueError):
        MarketRunner(market, speed=-1)


def test_rest_klines_and_open_interest_are_what_the_streams_showed(
    make_sim_config: Callable[..., SimConfig],
) -> None:
    sim = MarketSimulation(make_sim_config(vol_scale=2.0))
    closed, oi_lots = [], {}
    for _ in range(600):
        output = sim.step()
        for stream, payloads in wire_frames(sim, output, {"btcusdt@kline_1m"}):
            closed += [p["k"] for p in payloads if stream.endswith("kline_1m") and p["k"]["x"]]
        oi_lots[sim.now_ms] = int(sim.book.oi_lots[0])
    market = SimulatedMarket(sim)
    with FakeBinance(symbols=list(sim.symbols), clock=market.clock) as served:
        served.attach_market(market)
        assert get(served, "/fapi/v1/time").json() == {"serverTime": sim.now_ms}
        rows = get(served, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=11).json()
        assert [r[:6] + r[8:10] for r in rows[:10]] == [
            [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["n"], k["V"]] for k in closed
        ]
        assert rows[-1][0] == sim.now_ms  # the candle forming now (none of its seconds yet)
        five = get(served, "/fapi/v1/klines", symbol="BTCUSDT", interval="5m").json()
        assert [row[0] % 300_000 for row in five] == [0, 0, 0]
        assert Decimal(five[0][5]) == sum(Decimal(k["v"]) for k in closed[:5])
        assert five[0][2] == max((k["h"] for k in closed[:5]), key=Decimal)
        assert five[0][3] == min((k["l"] for k in closed[:5]), key=Decimal)
        assert five[0][1] == closed[0]["o"] and five[0][4] == closed[4]["c"]
        oi = get(served, "/fapi/v1/openInterest", symbol="BTCUSDT").json()
        assert oi["openInterest"] == sim.open_interest_text(0) and oi["time"] == sim.now_ms
        hist = get(served, "/futures/data/openInterestHist", symbol="BTCUSDT", period="5m").json()
        step = sim.profiles[0].step
        assert [(r["timestamp"], Decimal(r["sumOpenInterest"])) for r in hist] == [
            (t, oi_lots[t] * step) for t in sorted(oi_lots) if t % 300_000 == 0
        ]
        quarter = get(
            served, "/futures/data/openInterestHist", symbol="BTCUSDT", period="15m"
        ).json()
        assert [r["timestamp"] for r in quarter] == [
            r["timestamp"] for r in hist if r["timestamp"] % 900_000 == 0
        ]


def test_rest_mark_prices_match_the_stream(served: FakeBinance, market: SimulatedMarket) -> None:
    entry = market.sim.mark_price_messages()[0][0]
    premium = get(served, "/fapi/v1/premiumIndex", symbol="BTCUSDT").json()
    assert premium["markPrice"] == entry["p"] and premium["indexPrice"] == entry["i"]
    assert premium["lastFundingRate"] == entry["r"]
    tickers = {t["symbol"]: t["price"] for t in get(served, "/fapi/v2/ticker/price").json()}
    assert tickers["BTCUSDT"] == entry["p"]
    symbols = {s["symbol"] for s in get(served, "/fapi/v1/exchangeInfo").json()["symbols"]}
    assert set(market.sim.symbols) <= symbols


def test_truth_routes_answer_liquidations_positions_and_summary(
    served: FakeBinance, market: SimulatedMarket
) -> None:
    sim = market.sim
    every = get(served, "/sim/truth/liquidations").json()
    assert every["count"] == sim.truth.total == len(every["liquidations"]) > 0
    first = every["liquidations"][0]
    window = {"symbol": first["symbol"], "start": first["time_ms"], "end": first["time_ms"]}
    one = get(served, "/sim/truth/liquidations", **window).json()["liquidations"]
    assert first in one and all(r["symbol"] == first["symbol"] for r in one)
    sampled = get(served, "/sim/truth/liquidations", sampled=1).json()["liquidations"]
    assert len(sampled) == sim.truth.sampled and all(r["sampled"] for r in sampled)
    positions = get(served, "/sim/truth/positions", symbol="ETHUSDT").json()["positions"]
    assert len(positions) == int(sim.book.counts[1])
    longs = [p for p in positions if p["side"] == "long"]
    assert all(p["liquidation_price"] < p["entry_price"] for p in longs)
    summary = get(served, "/sim/truth/summary").json()
    assert summary["liquidations"] == sim.truth.total and summary["sampled"] == sim.truth.sampled
    assert summary["open_interest"]["ETHUSDT"] == sim.open_interest_text(1)


def test_truth_routes_reject_bad_queries(served: FakeBinance, make_fake: Callable) -> None:
    bad_symbol = get(served, "/sim/truth/positions", symbol="NOPEUSDT")
    assert (bad_symbol.status_code, bad_symbol.json()["code"]) == (400, -1121)
    bad_time = get(served, "/sim/truth/liquidations", start="yesterday")
    assert (bad_time.status_code, bad_time.json()["code"]) == (400, -1100)
    plain = make_fake()
    assert get(plain, "/sim/truth/summary").status_code == 404


def test_export_truth_writes_json_lines(market: SimulatedMarket, tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    lines = market.export_truth(path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == lines == 1 + market.sim.truth.total + len(market.sim.book)
    assert records[0]["type"] == "header" and records[0]["seed"] == market.sim.config.seed
    kinds = [r["type"] for r in records[1:]]
    assert kinds == ["liquidation"] * market.sim.truth.total + ["position"] * len(market.sim.book)
