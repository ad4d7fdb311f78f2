"""Bad input a stranger sends, route by route: look-alike digits and letters, repeated parameters,
oversized requests, redirects. Each is a 4xx in the envelope (or the answer a careful client
expects), never a 500 and never HTML under /api/ or /docs."""

from __future__ import annotations

import pytest

from heatmap_engine.symbols import DEFAULT_SYMBOLS, SymbolResolver

HEATMAP = "/api/heatmap/{symbol}"
LIQ = "/api/liquidations/{symbol}"


def _envelope(response, status: int) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is (status < 400)
    return body


@pytest.mark.parametrize(
    "url",
    ["/api/heatmap/BTCUSDT?min_strength=０.5", "/api/heatmap/BTCUSDT?max_distance=１0",
     "/api/heatmap/BTCUSDT/best?min_strength=0.٥", "/api/liquidations/BTCUSDT?limit=１0",
     "/api/liquidations/BTCUSDT?min_notional=１e3", "/api/candles/BTCUSDT?limit=２",
     "/api/open-interest/BTCUSDT?limit=٣", "/api/liquidations/BTCUSDT?start=２０２６-01-01"],
)  # fmt: skip
def test_digits_of_other_scripts_are_not_numbers(history_client, check_spec, url):
    body = _envelope(history_client.get(url), 400)
    name, raw = url.split("?")[1].split("=")
    assert f"{name}={raw!r} is not" in body["error"], body
    check_spec(history_client.get(url), url.split("?")[0].replace("BTCUSDT", "{symbol}"))


@pytest.mark.parametrize(
    "typed", ["ETHUſDT", "ethuſdt", "ＥＴＨＵＳＤＴ", "ETHUSDT\u200b", "ＢＴＣ"]
)
def test_look_alike_letters_name_no_contract(client, typed):
    """Unicode case mapping would turn the long s into S: the resolver reads ASCII only."""
    assert SymbolResolver(DEFAULT_SYMBOLS).resolve(typed) is None
    body = _envelope(client.get(f"/api/heatmap/{typed}"), 404)
    assert "unknown symbol" in body["error"]


@pytest.mark.parametrize(
    ("url", "name"),
    [("/api/heatmap/BTCUSDT?min_strength=0.1&min_strength=0.9", "min_strength"),
     ("/api/heatmap/BTCUSDT/best?max_distance=1&max_distance=2", "max_distance"),
     ("/api/liquidations/BTCUSDT?side=long&side=short", "side"),
     ("/api/liquidations/BTCUSDT?limit=5&limit=5", "limit"),
     ("/api/candles/BTCUSDT?interval=1h&interval=1m", "interval"),
     ("/api/open-interest/BTCUSDT?end=2026-01-01&end=2026-01-02", "end")],
)  # fmt: skip
def test_a_repeated_parameter_is_a_400_naming_it(history_client, url, name):
    body = _envelope(history_client.get(url), 400)
    assert f"{name!r} is given 2 times" in body["error"], body


def test_a_repeated_parameter_the_route_does_not_read_is_ignored(client):
    assert _envelope(client.get("/api/heatmap/BTCUSDT?utm=a&utm=b"), 200)["clusters"]


def test_an_overlong_request_target_is_a_json_414(client):
    body = _envelope(client.get("/api/heatmap/BTCUSDT?note=" + "x" * 3000), 414)
    assert "2048" in body["error"]
    assert client.get("/api/heatmap/BTCUSDT?note=" + "x" * 1900).status_code == 200
    page = client.get("/liquidation-heatmap?note=" + "x" * 3000)  # the page is not the API's
    assert page.status_code == 200 and page.mimetype == "text/html"


@pytest.mark.parametrize(
    "headers", [{"X-Big": "y" * 5000}, {f"X-H{i}": "z" * 1000 for i in range(20)}]
)
def test_oversized_headers_are_a_json_431(client, headers):
    body = _envelope(client.get("/api/symbols", headers=headers), 431)
    assert "headers are too large" in body["error"]
    assert _envelope(client.get("/docs/", headers=headers), 431)


def test_the_docs_redirect_is_json_too(client):
    response = client.get("/docs")
    body = _envelope(response, 308)
    assert response.headers["Location"].endswith("/docs/") and body["redirect"].endswith("/docs/")
    assert client.get(response.headers["Location"]).status_code == 200
