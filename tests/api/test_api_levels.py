"""Contract of ``/api/levels/{symbol}`` and ``.../map`` over a filled history store (BTCUSDT: two
days of 1m candles and 5m open interest; ETHUSDT tracked with nothing stored). Values are checked
against what the body itself says elsewhere, computed here: the Coinglass cells against the
compact grid and ``y_axis``, the cumulative curves against running sums of the buckets."""

from __future__ import annotations

import math

import pytest
from helpers import wait_until

LEVELS = "/api/levels/{symbol}"
MAP = "/api/levels/{symbol}/map"


def get_ok(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_levels_match_the_spec_and_the_coinglass_cells_index_the_grid(
    history_client, check_spec, stored
):
    response = history_client.get("/api/levels/BTCUSDT?range=24h")
    check_spec(response, LEVELS)
    body = response.get_json()
    assert body["layer"] == "estimated" and body["range"] == "24h"
    grid = body["grid"]
    assert body["at_ms"] == stored.first_candle_ms + stored.candles * 60_000
    rows, columns = len(body["y_axis"]), len(body["price_candlesticks"])
    assert rows == len(grid["price_low"]) and columns == len(grid["time_ms"])
    for y, price in enumerate(body["y_axis"]):  # a row's price is its middle (geometric)
        middle = math.sqrt(grid["price_low"][y] * grid["price_high"][y])
        assert price == pytest.approx(middle, rel=1e-7)
    cells = body["liquidation_leverage_data"]
    assert cells, "two days of candles and open interest must leave standing levels"
    expected = {
        (x, y): grid["long_usd"][x][y] + grid["short_usd"][x][y]
        for x in range(columns)
        for y in range(rows)
        if grid["long_usd"][x][y] + grid["short_usd"][x][y] >= 1
    }
    got = {(x, y): usd for x, y, usd in cells}
    assert len(got) == len(cells)  # one cell per (column, row)
    assert set(got) == set(expected)
    assert all(abs(got[k] - expected[k]) <= 1 for k in got)  # rounded once vs per side
    times = [c[0] for c in body["price_candlesticks"]]
    assert times == [t // 1000 for t in grid["time_ms"]]
    assert body["data_quality"]["candle_coverage"] == pytest.approx(1.0)


def test_coinglass_format_is_only_coinglass_fields(history_client, check_spec):
    compact = get_ok(history_client, "/api/levels/BTCUSDT?range=12h&preset=high")
    response = history_client.get("/api/levels/BTCUSDT?range=12h&preset=high&format=coinglass")
    check_spec(response, LEVELS)
    body = response.get_json()
    assert set(body) == {"success", "code", "msg", "data"}
    assert (body["code"], body["msg"]) == ("0", "success")
    assert set(body["data"]) == {"y_axis", "liquidation_leverage_data", "price_candlesticks"}
    for name in body["data"]:
        assert body["data"][name] == compact[name]


def test_map_cumulative_curves_are_running_sums_of_the_buckets(history_client, check_spec):
    response = history_client.get("/api/levels/BTCUSDT/map?range=3d")
    check_spec(response, MAP)
    body = response.get_json()
    profile = body["profile"]
    buckets = profile["buckets"]
    assert [b["price_low"] for b in buckets] == sorted(b["price_low"] for b in buckets)
    below = [b for b in buckets if b["cumulative_long_usd"] is not None]
    above = [b for b in buckets if b["cumulative_short_usd"] is not None]
    assert below and above
    assert max(b["price_low"] for b in below) <= profile["price"]
    assert min(b["price_high"] for b in above) >= profile["price"]
    running = 0.0
    for b in reversed(below):  # from the price downward
        running += b["long_usd"]
        assert b["cumulative_long_usd"] == pytest.approx(running, abs=0.01 * len(below))
    running = 0.0
    for b in above:  # from the price upward
        running += b["short_usd"]
        assert b["cumulative_short_usd"] == pytest.approx(running, abs=0.01 * len(above))
    for b in buckets:  # a bucket is the sum of its tiers
        assert b["long_usd"] == pytest.approx(sum(t["long_usd"] for t in b["tiers"].values()),
                                              abs=0.01 * len(b["tiers"]))  # fmt: skip
    assert profile["long_usd"] == pytest.approx(sum(b["long_usd"] for b in buckets), abs=1)


def test_a_past_at_ends_the_range_there(history_client, stored):
    at = stored.now_ms - 6 * 3_600_000
    body = get_ok(history_client, f"/api/levels/BTCUSDT?range=12h&at={at}")
    assert body["at_ms"] == at
    assert body["predicted_liquidations"][-1]["time_ms"] < at


def test_a_range_past_the_store_says_its_coverage(history_client):
    body = get_ok(history_client, "/api/levels/BTCUSDT?range=30d")
    quality = body["data_quality"]
    assert 0 < quality["candle_coverage"] < 0.1  # two days of thirty
    assert body["assumptions"]["data_used"]["candle_interval"] == "15m"


def test_repeated_requests_are_served_from_the_cache_with_an_etag(history_client, history_service):
    # the service's live book starts from the store at its first tick; then nothing new comes
    tracker = history_service.levels_live.tracker
    wait_until(lambda: tracker.version("BTCUSDT") >= 0, timeout=20, interval=0.1)
    assert get_ok(history_client, "/api/levels/BTCUSDT/map")["source"] == "live"
    first = history_client.get("/api/levels/BTCUSDT?range=24h")
    runs = history_service.levels.runs
    again = history_client.get("/api/levels/BTCUSDT?range=24h")
    assert again.data == first.data and history_service.levels.runs == runs
    etag = first.headers["ETag"]
    revalidated = history_client.get("/api/levels/BTCUSDT?range=24h",
                                     headers={"If-None-Match": etag})  # fmt: skip
    assert revalidated.status_code == 304


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/api/levels/ETHUSDT", 404, "no candles stored for ETHUSDT"),
        ("/api/levels/ETHUSDT/map", 404, "no candles stored for ETHUSDT"),
        ("/api/levels/NOPEUSDT", 404, "unknown symbol"),
        ("/api/levels/BTCUSDT?range=2d", 400, "range='2d' is not allowed"),
        ("/api/levels/BTCUSDT?preset=mid", 400, "preset='mid' is not allowed"),
        ("/api/levels/BTCUSDT?format=csv", 400, "format='csv' is not allowed"),
        ("/api/levels/BTCUSDT?at=2001-01-01", 404, "not enough candles"),
        ("/api/levels/BTCUSDT?at=9999-01-01", 400, "in the future"),
    ],
)
def test_bad_input_is_a_clear_4xx(history_client, check_spec, url, status, words):
    response = history_client.get(url)
    assert response.status_code == status
    body = response.get_json()
    assert body["success"] is False and words in body["error"], body
    check_spec(response, MAP if url.split("?")[0].endswith("/map") else LEVELS)


def test_the_spec_documents_both_routes_for_the_fuzzer(spec):
    for path in (LEVELS, MAP):
        responses = spec["paths"][path]["get"]["responses"]
        assert {"200", "304", "400", "404", "503"} <= set(responses)


def test_history_off_is_a_503(client):
    response = client.get("/api/levels/BTCUSDT")
    assert response.status_code == 503
    assert "HEATMAP_HISTORY" in response.get_json()["error"]
