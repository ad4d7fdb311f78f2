"""Keepalive, lifetime, rate and stream limits of fake Binance connections (§1.2, §1.12)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import websocket
from websocket import ABNF

from market_sim.connection import RateWindow
from market_sim.fake_binance import FakeBinance

Connect = Callable[..., websocket.WebSocket]
MakeFake = Callable[..., FakeBinance]
CLOSED = (websocket.WebSocketConnectionClosedException, ConnectionError)


def close_code(frame: ABNF) -> int:
    return int.from_bytes(frame.data[:2], "big")


def read_raw_until_close(ws: websocket.WebSocket) -> tuple[list[int], int | None]:
    """Read frames without answering pings; (opcodes seen, close code or None if no frame)."""
    opcodes: list[int] = []
    try:
        while True:
            frame = ws.recv_frame()
            opcodes.append(frame.opcode)
            if frame.opcode == ABNF.OPCODE_CLOSE:
                return opcodes, close_code(frame)
    except CLOSED:
        return opcodes, None


def next_close_frame(ws: websocket.WebSocket) -> ABNF:
    """Read (answering pings) until the close frame."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            return frame


def test_server_pings_and_counts_pongs(make_fake: MakeFake, connect: Connect) -> None:
    fake = make_fake(ping_interval=0.05, pong_timeout=1.0)
    ws = connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")
    opcodes = [ws.recv_data_frame(control_frame=True)[0] for _ in range(3)]
    assert opcodes == [ABNF.OPCODE_PING] * 3  # websocket-client answered each with a pong
    assert fake.wait_for_stats(lambda stats: stats["pongs_received"] >= 3, timeout=1.0)
    assert fake.stats()["pong_timeout_closes"] == 0


def test_client_that_never_pongs_is_dropped(make_fake: MakeFake, connect: Connect) -> None:
    fake = make_fake(ping_interval=0.05, pong_timeout=0.3)
    ws = connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")
    started = time.monotonic()
    opcodes, code = read_raw_until_close(ws)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert opcodes.count(ABNF.OPCODE_PING) >= 4
    assert code == 1008
    assert fake.stats()["pong_timeout_closes"] == 1


def test_connection_is_force_closed_after_max_lifetime(
    make_fake: MakeFake, connect: Connect
) -> None:
    fake = make_fake(max_connection_seconds=0.3)
    ws = connect(f"{fake.ws_market_base}/stream?streams=!forceOrder@arr")
    started = time.monotonic()
    frame = next_close_frame(ws)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert close_code(frame) == 1000
    assert fake.wait_for_stats(lambda stats: stats["open_connections"] == 0, timeout=1.0)
    assert fake.stats()["forced_closes"] == 1
    assert fake.publish("!forceOrder@arr", {"e": "forceOrder"}) == 0


def test_abrupt_drop_closes_tcp_without_close_frame(fake: FakeBinance, connect: Connect) -> None:
    first = connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")
    second = connect(f"{fake.ws_root}/stream")
    assert fake.drop_connections(abrupt=True) == 2
    assert read_raw_until_close(first) == ([], None)
    assert read_raw_until_close(second) == ([], None)
    assert fake.wait_for_stats(lambda stats: stats["open_connections"] == 0, timeout=1.0)
    assert fake.stats()["dropped_connections"] == 2


def test_graceful_drop_sends_close_1001(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(f"{fake.ws_market_base}/ws/!forceOrder@arr")
    assert fake.drop_connections(abrupt=False) == 1
    assert close_code(next_close_frame(ws)) == 1001
    assert fake.wait_for_stats(lambda stats: stats["open_connections"] == 0, timeout=1.0)
    assert fake.drop_connections() == 0


def test_reconnect_after_drop_is_counted_and_served(fake: FakeBinance, connect: Connect) -> None:
    url = f"{fake.ws_market_base}/stream?streams=!forceOrder@arr"
    connect(url)
    fake.drop_connections()
    ws = connect(url)
    assert fake.wait_for_subscribers("!forceOrder@arr", count=1, timeout=1.0)
    assert fake.publish("!forceOrder@arr", {"e": "forceOrder"}) == 1
    assert json.loads(ws.recv())["data"] == {"e": "forceOrder"}
    assert fake.stats()["total_connections"] == 2


def test_more_than_ten_messages_a_second_closes_the_connection(
    fake: FakeBinance, connect: Connect
) -> None:
    ws = connect(f"{fake.ws_market_base}/stream")
    for request_id in range(11):
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
    replies = []
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            break
        replies.append(json.loads(frame.data))
    assert [reply["id"] for reply in replies] == list(range(10))
    assert close_code(frame) == 1008
    assert fake.stats()["rate_limit_closes"] == 1


def test_rate_window_allows_the_limit_in_any_one_second() -> None:
    window = RateWindow(limit=3)
    assert all(window.admit(t) for t in (0.0, 0.3, 0.6))
    assert not window.admit(0.9)
    fresh = RateWindow(limit=3)
    assert all(fresh.admit(t) for t in (0.0, 0.5, 0.75, 1.0, 1.5, 1.75, 2.0))


@pytest.mark.parametrize("via_path", [True, False])
def test_too_many_streams_gets_an_error_then_close(
    make_fake: MakeFake, connect: Connect, via_path: bool
) -> None:
    fake = make_fake(max_streams=2)
    streams = ["btcusdt@forceOrder", "ethusdt@forceOrder", "solusdt@forceOrder"]
    if via_path:
        ws = connect(f"{fake.ws_market_base}/stream?streams=" + "/".join(streams))
        expected = {"code": 2, "msg": "Invalid request: too many streams"}
    else:
        ws = connect(f"{fake.ws_market_base}/stream?streams=" + streams[0])
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": streams[1:], "id": 4}))
        expected = {"code": 2, "msg": "Invalid request: too many streams", "id": 4}
    assert json.loads(ws.recv()) == expected
    assert close_code(next_close_frame(ws)) == 1008
    assert fake.stats()["too_many_streams_closes"] == 1


def test_stop_closes_clients_quickly_with_1001(make_fake: MakeFake, connect: Connect) -> None:
    fake = make_fake()
    clients = [connect(f"{fake.ws_market_base}/ws/!forceOrder@arr") for _ in range(3)]
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1.0  # does not wait out the 2 s close handshake
    assert [close_code(next_close_frame(ws)) for ws in clients] == [1001] * 3
    with pytest.raises(RuntimeError):
        fake.publish("!forceOrder@arr", {"e": "forceOrder"})
