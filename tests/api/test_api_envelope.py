"""One envelope for every route and error path, each matching the spec; no HTML under /api/."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatmap_engine.service import HeatmapService

HEATMAP = "/api/heatmap/{symbol}"
BEST = "/api/heatmap/{symbol}/best"

CASES = [
    # (method, url, status, spec path or None)
    ("GET", "/api/symbols", 200, "/api/symbols"),
    ("GET", "/api/heatmap/BTCUSDT", 200, HEATMAP),
    ("GET", "/api/heatmap/eth?min_strength=0.2&max_distance=3", 200, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT/best", 200, BEST),
    ("GET", "/api/heatmap/BTCUSDT/best?min_strength=1&max_distance=0.1", 200, BEST),
    ("GET", "/api/stats", 200, "/api/stats"),
    ("GET", "/api/health", 503, "/api/health"),
    ("GET", "/api/heatmap/NOTACOIN", 404, HEATMAP),
    ("GET", "/api/heatmap/NOTACOIN/best", 404, BEST),
    ("GET", "/api/heatmap/%F0%9F%9A%80", 404, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?min_strength=1.5", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?min_strength=-0.1", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?min_strength=strong", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=0", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=-5", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=far", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=nan", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=inf", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT?max_distance=", 400, HEATMAP),
    ("GET", "/api/heatmap/BTCUSDT/best?min_strength=2", 400, BEST),
    ("GET", "/api/heatmap/BTCUSDT/best?max_distance=1e999", 400, BEST),
    ("GET", "/api/nothing/here", 404, None),
    ("GET", "/api", 404, None),
    ("GET", "/api/heatmap/", 404, None),
    ("GET", "/api/heatmap/BTCUSDT/worst", 404, None),
    ("POST", "/api/symbols", 405, None),
    ("DELETE", "/api/heatmap/BTCUSDT", 405, None),
    ("GET", "/docs/missing.js", 404, None),
]


@pytest.mark.parametrize(("method", "url", "status", "path"), CASES)
def test_every_route_and_error_path_uses_the_envelope(
    client, check_spec, method, url, status, path
):
    response = client.open(url, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is (status < 400)
    if status >= 400:
        assert isinstance(body["error"], str) and body["error"]
        assert response.headers["Cache-Control"] == "no-store"
    if path is not None:
        check_spec(response, path, method)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/api/heatmap/BTCUSDT?min_strength=1.5", [">= 0", "<= 1"]),
        ("/api/heatmap/BTCUSDT?max_distance=0", ["> 0"]),
        ("/api/heatmap/BTCUSDT?max_distance=far", ["max_distance", "far"]),
        ("/api/heatmap/NOTACOIN", ["NOTACOIN", "/api/symbols"]),
        ("/api/nothing", ["/api/nothing", "/docs"]),
    ],
)
def test_errors_say_what_was_wrong_and_what_is_allowed(client, url, words):
    error = client.get(url).get_json()["error"]
    assert all(word in error for word in words), error


def test_method_not_allowed_keeps_the_allow_header(client):
    response = client.post("/api/heatmap/BTCUSDT")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_unexpected_failure_is_a_logged_500_envelope(make_client, settings, caplog):
    broken = HeatmapService(settings)
    client = make_client(svc=broken)  # (the dashboard's layout reads the service when built)
    broken.engine = None  # every engine read now fails: a bug, not a client error
    with caplog.at_level(logging.ERROR, logger="api.envelope"):
        response = client.get("/api/heatmap/BTCUSDT")
    assert response.status_code == 500
    assert response.get_json() == {
        "success": False, "error": "internal error; the server log has the details"
    }  # fmt: skip
    assert "Traceback" in caplog.text or caplog.records[0].exc_info


def test_dash_routes_are_untouched(client):
    index = client.get("/")
    assert index.status_code == 200 and index.mimetype == "text/html"
    assert client.get("/some/page").mimetype == "text/html"  # Dash's own page routing
    assert client.get("/_dash-layout").status_code == 200
    wrong_method = client.put("/_dash-layout")  # an error outside /api/ stays Flask's HTML
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"


_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=0,
    max_size=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=_METHODS, segments=st.lists(_SEGMENT, max_size=4))
def test_no_html_ever_comes_back_under_api(client, method, segments):
    url = "/api/" + "/".join(segments)
    response = client.open(url, method=method)
    assert response.mimetype == "application/json", (method, url, response.status_code)
    if method != "HEAD":
        assert response.get_json()["success"] is (response.status_code < 400)
    assert response.status_code < 500
