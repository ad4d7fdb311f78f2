"""The history routes: every route and error path in the envelope and as the spec says; history
off; CSV; revalidation. What the pages hold is pinned in test_api_history_paging.py."""

from __future__ import annotations

import csv
import io

import pytest

from api.resources.liquidations import LIQUIDATION_FIELDS
from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.config import Settings
from heatmap_engine.service import HeatmapService

LIQ = "/api/liquidations/{symbol}"
CANDLES = "/api/candles/{symbol}"
OI = "/api/open-interest/{symbol}"
HEATMAP = "/api/heatmap/{symbol}"

# (url, status, spec path); {past} is the stored market's time, {now} the session's "now"
CASES = [
    ("/api/liquidations/BTCUSDT", 200, LIQ),
    ("/api/liquidations/btc?side=long&min_notional=100000&limit=2", 200, LIQ),
    ("/api/liquidations/BTCUSDT?start=2026-01-01T00:00:00Z&end=2026-01-02", 200, LIQ),
    ("/api/liquidations/BTCUSDT?start={past}&end={now}&format=json", 200, LIQ),
    ("/api/liquidations/eth", 200, LIQ),
    ("/api/candles/BTCUSDT", 200, CANDLES),
    ("/api/candles/BTCUSDT?interval=1h&limit=3", 200, CANDLES),
    ("/api/candles/BTCUSDT?interval=1d&start=2000-01-01&end=9999-12-31", 200, CANDLES),
    ("/api/open-interest/BTCUSDT?period=5m&limit=10", 200, OI),
    ("/api/open-interest/pepe", 200, OI),
    ("/api/heatmap/BTCUSDT?at={past}", 200, HEATMAP),
    ("/api/heatmap/btc?at={past}&min_strength=0.5&max_distance=2", 200, HEATMAP),
    ("/api/liquidations/BTCUSDT?start=2026-02-01&end=2026-01-01", 400, LIQ),
    ("/api/liquidations/BTCUSDT?start=2026-01-01&end=2026-01-01", 400, LIQ),
    ("/api/liquidations/BTCUSDT?start=2999-01-01", 400, LIQ),  # after the default end (now)
    ("/api/liquidations/BTCUSDT?start=yesterday", 400, LIQ),
    ("/api/liquidations/BTCUSDT?end=2026-13-01", 400, LIQ),
    ("/api/liquidations/BTCUSDT?end=2026-02-30T00:00:00Z", 400, LIQ),
    ("/api/liquidations/BTCUSDT?start=1769601600", 400, LIQ),  # epoch seconds
    ("/api/liquidations/BTCUSDT?start=2026-01-28T12:00:00+01:00", 400, LIQ),  # + unescaped
    ("/api/liquidations/BTCUSDT?start=", 400, LIQ),
    ("/api/liquidations/BTCUSDT?side=both", 400, LIQ),
    ("/api/liquidations/BTCUSDT?side=LONG", 400, LIQ),
    ("/api/liquidations/BTCUSDT?min_notional=-1", 400, LIQ),
    ("/api/liquidations/BTCUSDT?min_notional=lots", 400, LIQ),
    ("/api/liquidations/BTCUSDT?limit=0", 400, LIQ),
    ("/api/liquidations/BTCUSDT?limit=5001", 400, LIQ),
    ("/api/liquidations/BTCUSDT?limit=1.5", 400, LIQ),
    ("/api/liquidations/BTCUSDT?format=xml", 400, LIQ),
    ("/api/liquidations/BTCUSDT?cursor=not-a-cursor", 400, LIQ),
    ("/api/liquidations/BTCUSDT?cursor=", 400, LIQ),
    ("/api/liquidations/BTCUSDT?format=csv&limit=0", 400, LIQ),  # CSV errors are JSON too
    ("/api/candles/BTCUSDT?interval=7m", 400, CANDLES),
    ("/api/candles/BTCUSDT?interval=1M", 400, CANDLES),
    ("/api/candles/BTCUSDT?limit=5001", 400, CANDLES),
    ("/api/candles/BTCUSDT?start=2026-02-01&end=2026-01-01", 400, CANDLES),
    ("/api/open-interest/BTCUSDT?period=1h", 400, OI),
    ("/api/open-interest/BTCUSDT?limit=-1", 400, OI),
    ("/api/open-interest/BTCUSDT?end=noon", 400, OI),
    ("/api/heatmap/BTCUSDT?at=2999-01-01T00:00:00Z", 400, HEATMAP),
    ("/api/heatmap/BTCUSDT?at=noon", 400, HEATMAP),
    ("/api/heatmap/BTCUSDT?at=", 400, HEATMAP),
    ("/api/heatmap/BTCUSDT?at={past}&min_strength=2", 400, HEATMAP),
    ("/api/liquidations/NOTACOIN", 404, LIQ),
    ("/api/candles/NOTACOIN", 404, CANDLES),
    ("/api/open-interest/NOTACOIN", 404, OI),
    ("/api/heatmap/NOTACOIN?at={past}", 404, HEATMAP),
    ("/api/liquidations/NOTACOIN?start=garbage", 404, LIQ),  # the symbol is checked first
]


@pytest.mark.parametrize(("url", "status", "path"), CASES)
def test_every_history_route_and_error_path_uses_the_envelope(
    history_client, check_spec, stored, url, status, path
):
    response = history_client.get(url.format(past=stored.past_ms, now=stored.now_ms))
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is (status < 400)
    if status >= 400:
        assert isinstance(body["error"], str) and body["error"]
        assert response.headers["Cache-Control"] == "no-store"
    check_spec(response, path)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "/api/liquidations/BTCUSDT?start=2026-02-01&end=2026-01-01",
            ["before end", "[start, end)"],
        ),
        ("/api/liquidations/BTCUSDT?start=yesterday", ["yesterday", "ISO 8601", "milliseconds"]),
        ("/api/liquidations/BTCUSDT?start=1769601600", ["epoch seconds", "milliseconds"]),
        ("/api/liquidations/BTCUSDT?start=2026-01-28T12:00:00+01:00", ["%2B"]),
        ("/api/liquidations/BTCUSDT?side=both", ["side", "long, short"]),
        ("/api/liquidations/BTCUSDT?limit=0", [">= 1", "<= 5000"]),
        ("/api/liquidations/BTCUSDT?format=xml", ["json, csv"]),
        ("/api/liquidations/BTCUSDT?cursor=abc", ["cursor", "next_cursor", "without cursor"]),
        ("/api/candles/BTCUSDT?interval=7m", [", ".join(INTERVAL_MS)]),
        ("/api/open-interest/BTCUSDT?period=1h", ["5m"]),
        ("/api/heatmap/BTCUSDT?at=2999-01-01", ["future", "/api/heatmap/BTCUSDT"]),
    ],
)
def test_history_errors_say_what_was_wrong_and_what_is_allowed(history_client, url, words):
    error = history_client.get(url).get_json()["error"]
    assert all(word in error for word in words), error


HISTORY_URLS = [
    "/api/liquidations/BTCUSDT",
    "/api/candles/BTCUSDT",
    "/api/open-interest/BTCUSDT",
    "/api/heatmap/BTCUSDT?at=2026-01-28T12:00:00Z",
]


@pytest.mark.parametrize("url", HISTORY_URLS)
def test_without_history_the_routes_say_so_with_503(tmp_path, make_client, check_spec, url):
    data_dir = tmp_path / "off"
    settings = Settings.from_env({
        "HEATMAP_SYMBOLS": "BTCUSDT", "HEATMAP_HISTORY": "0", "HEATMAP_BACKFILL": "0",
        "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market",
        "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9", "HEATMAP_DATA_DIR": str(data_dir),
    })  # fmt: skip
    service = HeatmapService(settings, source_factory=lambda sink: _Silent())
    service.start()
    try:
        response = make_client(svc=service).get(url)
        assert response.status_code == 503
        assert "HEATMAP_HISTORY=0" in response.get_json()["error"]
        check_spec(response, url.split("?")[0].replace("BTCUSDT", "{symbol}"))
    finally:
        assert service.stop(5.0)
    assert not data_dir.exists(), "history off must not create a database"


def test_the_live_heatmap_is_unchanged_by_the_history_routes(history_client, client):
    """Without at, /api/heatmap is the live view with its ETag and public max-age."""
    live = history_client.get("/api/heatmap/BTCUSDT")
    assert live.headers["Cache-Control"] == "public, max-age=2"
    assert "at" not in live.get_json()
    assert live.get_json()["clusters"] == client.get("/api/heatmap/BTCUSDT").get_json()["clusters"]


@pytest.mark.parametrize(
    "url",
    ["/api/liquidations/BTCUSDT?format=csv&start={start}&end={now}",
     *(u + "?start={start}&end={now}" for u in HISTORY_URLS[:3]),
     "/api/heatmap/BTCUSDT?at={past}"],
)  # fmt: skip
def test_history_bodies_revalidate_with_etag_and_are_not_kept(history_client, stored, url):
    """(A range left to default ends "now", which moves: only a fixed range can revalidate.)"""
    url = url.format(past=stored.past_ms, start=stored.first_oi_ms, now=stored.now_ms)
    first = history_client.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    again = history_client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def _csv_rows(response) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return rows[0], rows[1:]


def _as_text(record: dict) -> list[str]:
    return [str(record[field]) for field in LIQUIDATION_FIELDS]


@pytest.mark.parametrize(
    ("query", "headers"),
    [("format=csv", {}), ("", {"Accept": "text/csv"}), ("", {"Accept": "text/*;q=0.9"}),
     ("format=csv", {"Accept": "application/json"})],
)  # fmt: skip
def test_csv_has_a_header_and_the_json_rows(history_client, check_spec, query, headers):
    url = "/api/liquidations/BTCUSDT?" + query
    response = history_client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert "Accept" in response.headers["Vary"]
    check_spec(response, LIQ)
    header, rows = _csv_rows(response)
    assert header == list(LIQUIDATION_FIELDS)
    records = history_client.get("/api/liquidations/BTCUSDT").get_json()["liquidations"]
    assert records and rows == [_as_text(r) for r in records]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Accept": "*/*"}, {"Accept": "application/json"}, {"Accept": "text/html,*/*;q=0.8"},
     {"Accept": "text/csv;q=0.5, application/json"}],
)  # fmt: skip
def test_json_unless_csv_is_preferred(history_client, headers):
    response = history_client.get("/api/liquidations/BTCUSDT", headers=headers)
    assert response.mimetype == "application/json" and response.get_json()["success"]
    forced = history_client.get(
        "/api/liquidations/BTCUSDT?format=json", headers={"Accept": "text/csv"}
    )
    assert forced.mimetype == "application/json"


def test_csv_pages_carry_the_cursor_in_a_header(history_client, stored):
    every = history_client.get("/api/liquidations/BTCUSDT").get_json()["liquidations"]
    fixed = f"start={stored.first_oi_ms}&end={stored.now_ms}"  # so the JSON twin equals it
    url, seen, pages = f"/api/liquidations/BTCUSDT?format=csv&limit=4&{fixed}", [], 0
    while True:
        response = history_client.get(url)
        pages += 1
        json_twin = history_client.get(url.replace("format=csv", "format=json")).get_json()
        assert response.headers.get("X-Next-Cursor") == json_twin["next_cursor"]
        seen += _csv_rows(response)[1]
        if "X-Next-Cursor" not in response.headers:
            break
        cursor = response.headers["X-Next-Cursor"]
        url = f"/api/liquidations/BTCUSDT?format=csv&limit=4&cursor={cursor}"
    assert seen == [_as_text(r) for r in every] and pages == -(-len(every) // 4)


class _Silent:
    def start(self) -> None:
        pass

    def stop(self, timeout: float = 5.0) -> bool:
        return True

    def status(self) -> dict:
        return {"state": "live"}
