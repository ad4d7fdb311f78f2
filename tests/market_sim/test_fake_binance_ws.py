"""Stream delivery and control messages of the fake Binance websocket (§1.1–1.3)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import websocket

from market_sim.fake_binance import FakeBinance

Connect = Callable[..., websocket.WebSocket]
FORCE_ORDER = {
    "e": "forceOrder",
    "E": 1791565603055,
    "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.190", "p": "82338.30",
          "ap": "82651.90", "X": "FILLED", "l": "0.155", "z": "0.190", "T": 1791565602120,
          "ps": "BTCUSDT", "st": 1},
}  # fmt: skip


def recv_json(ws: websocket.WebSocket) -> Any:
    return json.loads(ws.recv())


def request(ws: websocket.WebSocket, message: dict[str, Any] | str) -> Any:
    ws.send(message if isinstance(message, str) else json.dumps(message))
    return recv_json(ws)


def assert_silent(ws: websocket.WebSocket, seconds: float = 0.2) -> None:
    ws.settimeout(seconds)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()


def test_combined_connection_wraps_payload_with_stream_name(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/stream?streams=!forceOrder@arr/!markPrice@arr@1s")
    assert fake.publish("!forceOrder@arr", FORCE_ORDER) == 1
    frame = ws.recv()
    assert json.loads(frame) == {"stream": "!forceOrder@arr", "data": FORCE_ORDER}
    assert " " not in frame  # compact, like Binance


def test_raw_connection_gets_bare_payload(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(f"{fake.ws_market_base}/ws/btcusdt@kline_1m/ethusdt@kline_1m")
    assert fake.publish("ethusdt@kline_1m", {"e": "kline", "s": "ETHUSDT"}) == 1
    assert recv_json(ws) == {"e": "kline", "s": "ETHUSDT"}


def test_set_property_combined_makes_a_raw_connection_wrap(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/ws")
    assert request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 1}) == {
        "result": False,
        "id": 1,
    }
    subscribe = {"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 2}
    assert request(ws, subscribe) == {"result": None, "id": 2}
    set_combined = {"method": "SET_PROPERTY", "params": ["combined", True], "id": 3}
    assert request(ws, set_combined) == {"result": None, "id": 3}
    assert request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 4})["result"]
    fake.publish("btcusdt@markPrice@1s", {"e": "markPriceUpdate"})
    assert recv_json(ws) == {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate"}}


def test_bare_stream_path_subscribes_by_json_and_lists_in_order(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/stream")
    streams = ["btcusdt@forceOrder", "nosuchcoinusdt@forceOrder", "!forceOrder@arr"]
    assert request(ws, {"method": "SUBSCRIBE", "params": streams, "id": 7}) == {
        "result": None,
        "id": 7,
    }  # unknown symbols are acked, never rejected
    assert fake.wait_for_subscribers("!forceOrder@arr", timeout=1.0)
    unsubscribe = {"method": "UNSUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 8}
    assert request(ws, unsubscribe) == {"result": None, "id": 8}
    listed = request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 9})
    assert listed == {"result": ["nosuchcoinusdt@forceOrder", "!forceOrder@arr"], "id": 9}
    assert fake.publish("btcusdt@forceOrder", FORCE_ORDER) == 0
    stats = fake.stats()
    assert (stats["subscribes"], stats["unsubscribes"], stats["messages_received"]) == (1, 1, 3)


def test_stream_names_match_exactly_as_the_client_sent_them(
    fake: FakeBinance, connect: Connect
) -> None:
    connect(f"{fake.ws_market_base}/ws/BTCUSDT@kline_1m")
    assert fake.publish("btcusdt@kline_1m", {"e": "kline"}) == 0
    assert fake.publish("BTCUSDT@kline_1m", {"e": "kline"}) == 1


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ('{"method":"SUBSCRIBE","params":["btcusdt@forceOrder"],"id":"1"}',
         {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
        ('{"method":"SUBSCRIBE","params":[]}',
         {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
        ("{not json", {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}),
        ('{"method":"SUBSCRIBEE","params":[],"id":1}',
         {"code": 2, "msg": "Invalid request: unknown variant `SUBSCRIBEE`, expected one of "
          "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` "
          "at line 1 column 22"}),
        ('{"params":["btcusdt@forceOrder"],"id":12}',
         {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 41"}),
        ('{"method":"SET_PROPERTY","params":["speed",true],"id":5}',
         {"code": 0, "msg": "Unknown property", "id": 5}),
        ('{"method":"SET_PROPERTY","params":["combined","yes"],"id":5}',
         {"code": 1, "msg": "Invalid value type: expected Boolean"}),
        ('{"method":"GET_PROPERTY","params":[1],"id":5}',
         {"code": 2, "msg": "Invalid request: property name must be a string"}),
        ('{"method":"GET_PROPERTY","params":["combined","x"],"id":5}',
         {"code": 2, "msg": "Invalid request: too many parameters"}),
    ],
)  # fmt: skip
def test_error_frames_match_binance_table(
    fake: FakeBinance, connect: Connect, message: str, reply: dict[str, Any]
) -> None:
    ws = connect(f"{fake.ws_market_base}/stream")
    assert request(ws, message) == reply
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 99}) == {"result": [], "id": 99}


@pytest.mark.parametrize("path", ["/ws/!forceOrder@arr", "/stream?streams=!forceOrder@arr"])
def test_unrouted_connection_acks_but_never_gets_market_data(
    fake: FakeBinance, connect: Connect, path: str
) -> None:
    unrouted = connect(fake.ws_root + path)
    routed = connect(f"{fake.ws_market_base}/stream?streams=!forceOrder@arr")
    subscribe = {"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1}
    assert request(unrouted, subscribe) == {"result": None, "id": 1}
    listed = request(unrouted, {"method": "LIST_SUBSCRIPTIONS", "id": 2})["result"]
    assert listed == ["!forceOrder@arr", "btcusdt@markPrice@1s"]
    assert fake.publish("!forceOrder@arr", FORCE_ORDER) == 1  # the routed one only
    assert recv_json(routed)["data"] == FORCE_ORDER
    assert_silent(unrouted)
    assert fake.stats()["connections_by_route"] == {"unrouted": 1, "market": 1}


def test_public_route_only_gets_public_publishes(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(f"{fake.ws_public_base}/ws/btcusdt@bookTicker")
    assert fake.publish("btcusdt@bookTicker", {"e": "bookTicker"}) == 0
    assert fake.publish("btcusdt@bookTicker", {"e": "bookTicker"}, route="public") == 1
    assert recv_json(ws) == {"e": "bookTicker"}


@pytest.mark.parametrize("path", ["/ws/!forceOrder@arr", "/stream?streams=!forceOrder@arr"])
@pytest.mark.parametrize("payload", ['{"stream":"!forceOrder@arr","data":{"e":', "not json"])
def test_verbatim_text_is_delivered_unchanged_and_unwrapped(
    fake: FakeBinance, connect: Connect, path: str, payload: str
) -> None:
    ws = connect(fake.ws_market_base + path)
    assert fake.publish("!forceOrder@arr", payload) == 1
    assert ws.recv() == payload


def test_bytes_go_out_verbatim_as_text_or_binary_frames(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/stream?streams=!forceOrder@arr")
    fake.publish("!forceOrder@arr", b'{"e":"forceOrder"')
    fake.publish("!forceOrder@arr", b"\x00\xff\x01", binary=True)
    assert ws.recv_data() == (websocket.ABNF.OPCODE_TEXT, b'{"e":"forceOrder"')
    assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\x00\xff\x01")


def test_publish_many_keeps_order_per_connection(fake: FakeBinance, connect: Connect) -> None:
    raw = connect(f"{fake.ws_market_base}/ws/!markPrice@arr@1s")
    combined = connect(f"{fake.ws_market_base}/stream?streams=!markPrice@arr@1s")
    payloads: list[Any] = [[{"s": "BTCUSDT", "p": str(i)}] for i in range(300)]
    assert fake.publish_many("!markPrice@arr@1s", payloads[:150]) == 2
    for payload in payloads[150:]:
        fake.publish("!markPrice@arr@1s", payload)
    assert [recv_json(raw) for _ in payloads] == payloads
    assert [recv_json(combined)["data"] for _ in payloads] == payloads
    assert fake.wait_for_stats(lambda stats: stats["frames_sent"] == 600, timeout=1.0)


def test_publish_from_several_threads_keeps_each_threads_order(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")

    def publish_series(tag: int) -> None:
        for seq in range(100):
            fake.publish("!forceOrder@arr", {"tag": tag, "seq": seq})

    threads = [threading.Thread(target=publish_series, args=(tag,)) for tag in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    received = [recv_json(ws) for _ in range(400)]
    for tag in range(4):
        assert [m["seq"] for m in received if m["tag"] == tag] == list(range(100))


def test_wait_for_subscribers_counts_live_market_connections(
    fake: FakeBinance, connect: Connect
) -> None:
    assert not fake.wait_for_subscribers("!forceOrder@arr", timeout=0.05)
    connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")
    connect(f"{fake.ws_market_base}/stream?streams=!forceOrder@arr")
    connect(f"{fake.ws_root}/ws/!forceOrder@arr")
    assert fake.wait_for_subscribers("!forceOrder@arr", count=2, timeout=1.0)
    assert not fake.wait_for_subscribers("!forceOrder@arr", count=3, timeout=0.05)
