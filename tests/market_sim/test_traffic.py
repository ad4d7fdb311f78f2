"""`market_sim.traffic`: full-universe traffic, read through a real websocket and the product's
parsers, one second at a time (ticks driven by the test, no wall clock)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import websocket

from heatmap_engine.exchanges import binance
from heatmap_engine.models import Candle, Liquidation, MarkPrice
from heatmap_engine.symbols import perpetuals_from_exchange_info
from market_sim.traffic import MARK_MESSAGE_ENTRIES, Traffic, traffic_server

REPO = Path(__file__).resolve().parents[2]
START_MS = 1_795_000_200_000
SUBSCRIBED = ("btcusdt@kline_1m", "alt100usdt@kline_1m")


@pytest.fixture
def served() -> Iterator[Traffic]:
    fake, traffic = traffic_server(570, liquidations_per_second=5.0, seed=3)
    try:
        yield traffic
    finally:
        fake.stop()


def read_seconds(
    traffic: Traffic, connect: Callable[..., websocket.WebSocket], seconds: int
) -> list[dict]:
    streams = "/".join(("!markPrice@arr@1s", "!forceOrder@arr", *SUBSCRIBED))
    ws = connect(f"{traffic.fake.ws_market_base}/stream?streams={streams}")
    assert traffic.fake.wait_for_subscribers(SUBSCRIBED[-1])
    for second in range(1, seconds + 1):
        traffic.tick(START_MS + 1000 * second)
    stats = traffic.stats  # one frame per mark message, kline event and liquidation
    expected = stats.mark_messages + stats.kline_events + stats.liquidations
    frames = [json.loads(ws.recv()) for _ in range(expected)]
    ws.settimeout(0.2)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()  # and nothing more
    return frames


def test_exchange_info_lists_570_tradeable_perpetuals(served: Traffic) -> None:
    info = requests.get(f"{served.fake.rest_base}/fapi/v1/exchangeInfo", timeout=5).json()
    assert len(perpetuals_from_exchange_info(info)) == 570


def test_a_second_of_traffic_reads_as_the_real_stream_does(
    served: Traffic, connect: Callable[..., websocket.WebSocket]
) -> None:
    seconds = 120
    frames = read_seconds(served, connect, seconds)
    kinds: Counter[str] = Counter()
    marks_per_second: Counter[int] = Counter()
    liquidated: Counter[tuple[str, int]] = Counter()
    for frame in frames:
        result = binance.parse(json.dumps(frame), 0)
        assert result.errors == ()
        for event in result.events:
            kinds[type(event).__name__] += 1
            if isinstance(event, MarkPrice):
                marks_per_second[event.event_time_ms] += 1
            if isinstance(event, Liquidation):
                liquidated[(event.symbol, event.event_time_ms // 1000)] += 1
    mark_messages = [f for f in frames if f["stream"] == "!markPrice@arr@1s"]
    assert len(mark_messages) == seconds * 3  # 570 entries: 300 + 270, then the TradFi ones
    assert max(len(f["data"]) for f in mark_messages) == MARK_MESSAGE_ENTRIES
    assert set(marks_per_second.values()) == {570 + 4}  # every symbol, every second
    assert max(liquidated.values()) == 1  # at most one per symbol and second
    assert 3.5 * seconds <= kinds[Liquidation.__name__] <= 6.5 * seconds  # Poisson(5) a second
    klines = [f["data"]["k"] for f in frames if f["stream"].endswith("kline_1m")]
    assert kinds[Candle.__name__] == len(klines)
    for stream in SUBSCRIBED:  # an update every 2 s, and each minute's closed candle once
        own = [f["data"]["k"] for f in frames if f["stream"] == stream]
        assert sum(not k["x"] for k in own) == seconds // 2
        assert [k["t"] for k in own if k["x"]] == [START_MS]  # the one minute that closed
    closed = [k for k in klines if k["x"] and k["s"] == "BTCUSDT"]
    rest = requests.get(
        f"{served.fake.rest_base}/fapi/v1/klines",
        params={"symbol": "BTCUSDT", "interval": "1m", "startTime": closed[0]["t"], "limit": 1},
        timeout=5,
    ).json()
    assert rest[0][1:5] == [closed[0]["o"], closed[0]["h"], closed[0]["l"], closed[0]["c"]]


def test_cli_serves_the_urls_and_stops_after_its_seconds() -> None:
    command = [sys.executable, "-m", "market_sim.traffic", "--port", "0", "--symbols", "30",
               "--seconds", "1.5"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("HEATMAP_BINANCE_WS_URL=ws://127.0.0.1:")
    assert lines[0].endswith("/market") and lines[1].startswith("HEATMAP_BINANCE_REST_URL=")
    assert lines[-1].startswith("sent ")
