"""CORS: allow-all by default (as the seed), restricted by HEATMAP_CORS_ORIGINS; real preflights."""

from __future__ import annotations

import pytest

PREFLIGHT = {
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "If-None-Match",
}


def _preflight(client, origin: str, url: str = "/api/heatmap/BTCUSDT"):
    return client.options(url, headers={"Origin": origin, **PREFLIGHT})


def test_default_allows_every_origin(client):
    response = client.get("/api/symbols", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_default_preflight_is_answered(client):
    response = _preflight(client, "https://anywhere.example")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://anywhere.example")
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "if-none-match" in response.headers["Access-Control-Allow-Headers"].lower()
    assert int(response.headers["Access-Control-Max-Age"]) > 0


@pytest.fixture
def restricted(make_client):
    return make_client({"HEATMAP_CORS_ORIGINS": "https://wagmi-global.eu, http://localhost:3000"})


@pytest.mark.parametrize("origin", ["https://wagmi-global.eu", "http://localhost:3000"])
def test_restricted_origins_are_echoed(restricted, origin):
    preflight = _preflight(restricted, origin)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in preflight.headers["Vary"]
    response = restricted.get("/api/symbols", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"]  # caches must key on Origin


@pytest.mark.parametrize("origin", ["https://evil.example", "https://wagmi-global.eu.evil.example"])
def test_other_origins_get_no_cors_headers(restricted, origin):
    preflight = _preflight(restricted, origin)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = restricted.get("/api/symbols", headers={"Origin": origin})
    assert response.status_code == 200  # CORS is the browser's check; the body is public
    assert "Access-Control-Allow-Origin" not in response.headers


def test_error_envelopes_carry_cors_headers_too(client):
    response = client.get("/api/heatmap/NOPE", headers={"Origin": "https://x.example"})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_applies_to_the_api_only(client):
    response = client.get("/", headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
