"""When Binance cannot be reached: one clear warning per outage, quiet retries, words in status.

The service is pointed at a loopback port where nothing listens (later a fake Binance starts
there, and stops again); REST is tried against the same closed port and against a "captive
portal" that answers 200 with a web page instead of JSON.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from binance_frames import force_order
from helpers import free_port, wait_until

from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.exchanges.binance_rest import BinanceRest, RestUnavailable, RestUnreachable
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

LIQ = "!forceOrder@arr"
pytestmark = pytest.mark.slow


def offline_settings(port: int, **env: str) -> Settings:
    base = {
        "HEATMAP_BINANCE_WS_URL": f"ws://127.0.0.1:{port}/market",
        "HEATMAP_BINANCE_REST_URL": f"http://127.0.0.1:{port}",
        "HEATMAP_SYMBOLS": "BTCUSDT",
        "HEATMAP_KLINE_STREAMS": "0",
        "HEATMAP_UPDATE_INTERVAL": "0.05",
        "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.02",
        "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.1",
        "HEATMAP_PRICE_STALE_SECONDS": "0.5",
        "HEATMAP_REST_POLL_SECONDS": "0.1",
        "HEATMAP_HISTORY": "0",
    }
    base.update({f"HEATMAP_{k.upper()}": v for k, v in env.items()})
    return Settings.from_env(base)


@pytest.fixture
def service_factory():
    started: list[HeatmapService] = []

    def make(settings: Settings) -> HeatmapService:
        service = HeatmapService(settings).start()
        started.append(service)
        return service

    yield make
    for service in started:
        assert service.stop(5.0)


def messages(caplog, level: int, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and text in r.getMessage()]


def test_one_warning_per_outage_quiet_retries_and_one_line_when_back(service_factory, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    service = service_factory(offline_settings(port))
    wait_until(lambda: service.status()["feed"]["failed_attempts"] >= 6)
    wait_until(lambda: sum(service.status()["rest"]["errors"].values()) >= 3)
    feed = service.status()["feed"]
    host = f"127.0.0.1:{port}"
    assert feed["host"] == host and feed["ever_connected"] is False and feed["reachable"] is False
    assert feed["last_disconnect_reason"] == f"cannot reach {host}: connection refused"
    assert feed["state"] == "reconnecting" and feed["next_retry_in"] is not None
    assert service.status()["rest"]["reachable"] is False
    streams = messages(caplog, logging.WARNING, "cannot reach Binance streams")
    rest = messages(caplog, logging.WARNING, "Binance REST")
    assert streams == [f"cannot reach Binance streams ({host}): connection refused"
                       f"; retrying in {streams[0].split('retrying in ')[1]}"]  # fmt: skip
    assert len(rest) == 1 and "connection refused" in rest[0]
    assert len(messages(caplog, logging.DEBUG, "still:")) >= 5  # every retry, quietly
    assert not [r for r in caplog.records if "lost the connection" in r.getMessage()]
    assert not [r for r in caplog.records if "disconnected" in r.getMessage()]

    with FakeBinance(port=port) as fake:  # Binance comes back
        assert fake.wait_for_subscribers(LIQ, timeout=10)
        fake.publish(LIQ, force_order("BTCUSDT", "SELL", 90_000.0, 0.1, wall_clock_ms()))
        wait_until(lambda: service.status()["state"] == "live")
        back = messages(caplog, logging.INFO, "answered after")
        assert len(back) == 1 and back[0].startswith(f"feed market: {host} answered after")
        wait_until(lambda: messages(caplog, logging.INFO, "answers again"))  # REST, once
    wait_until(lambda: service.status()["feed"]["failed_attempts"] >= 12)  # it went away again
    assert len(messages(caplog, logging.WARNING, "lost the connection")) == 1
    assert len(messages(caplog, logging.WARNING, "cannot reach Binance streams")) == 2
    assert len(messages(caplog, logging.INFO, "answers again")) == 1


class Portal(BaseHTTPRequestHandler):
    """Answers like a captive portal (200, a web page) until told to pass requests through."""

    pages_left = 3

    def do_GET(self) -> None:
        if type(self).pages_left > 0:
            type(self).pages_left -= 1
            body, kind = b"<html><body>Please log in to the hotel wifi</body></html>", "text/html"
        else:
            body = b'[{"symbol":"BTCUSDT","markPrice":"88000.50","time":%d}]' % wall_clock_ms()
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def portal():
    Portal.pages_left = 3
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, name="test-portal", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_page_instead_of_json_does_not_end_the_price_fallback(service_factory, portal, caplog):
    ws_port = free_port()
    settings = offline_settings(ws_port, binance_rest_url=f"http://127.0.0.1:{portal.server_port}")
    service = service_factory(settings)
    snap = wait_until(lambda: (s := service.snapshot("BTCUSDT")) and s.current_price and s)
    assert snap.current_price == 88000.5  # the fallback went on after three pages
    status = service.status()
    assert status["rest"]["errors"]["not_json"] == 3
    assert status["threads"]["heatmap-rest"] is True
    assert status["loop_failures"] == {}
    warned = messages(caplog, logging.WARNING, "is not JSON")
    assert len(warned) == 1  # said once, retried with backoff


def test_rest_backs_off_for_every_caller_while_the_host_is_unreachable():
    now = [1_000.0]
    rest = BinanceRest(f"http://127.0.0.1:{free_port()}", timeout=1.0, backoff_initial=4.0,
                       backoff_max=8.0, clock=lambda: now[0])  # fmt: skip
    with pytest.raises(RestUnreachable) as first:
        rest.mark_prices()
    assert first.value.category == "connection refused"
    assert 1_002.0 <= first.value.until <= 1_004.0  # half the 4 s step plus jitter
    assert rest.errors == {"connection refused": 1}
    for _ in range(5):  # the backfill, the price fallback ...: none of them sends a request
        with pytest.raises(RestUnreachable):
            rest.get("/fapi/v1/klines")
    assert rest.errors == {"connection refused": 1}
    now[0] = first.value.until + 0.01
    with pytest.raises(RestUnreachable) as second:
        rest.exchange_info()
    assert rest.errors == {"connection refused": 2}
    assert second.value.until - now[0] >= 4.0  # the next step is longer (8 s, jittered)


def test_a_malformed_rest_body_is_unavailable_with_a_category(portal):
    Portal.pages_left = 0
    rest = BinanceRest(f"http://127.0.0.1:{portal.server_port}")
    with pytest.raises(RestUnavailable) as info:
        rest.exchange_info()  # a list where an object with "symbols" belongs
    assert info.value.category == "malformed"
    assert [p.symbol for p in rest.mark_prices()] == ["BTCUSDT"]
