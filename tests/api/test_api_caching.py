"""Serialise once per snapshot version; ETag / If-None-Match / Cache-Control."""

from __future__ import annotations

import orjson
import pytest
from binance_frames import force_order

from api.caching import body_etag
from api.context import EXTENSION
from heatmap_engine.exchanges import binance
from heatmap_engine.service import HeatmapService

URLS = ["/api/symbols", "/api/heatmap/BTCUSDT", "/api/heatmap/pepe/best?min_strength=0.1"]


def _bodies(client):
    return client.application.extensions[EXTENSION].bodies


@pytest.mark.parametrize("url", URLS)
def test_cacheable_bodies_carry_etag_and_cache_control(client, url):
    response = client.get(url)
    assert response.headers["ETag"] == body_etag(response.data)
    assert response.headers["Cache-Control"] == "public, max-age=2"


@pytest.mark.parametrize("url", URLS)
def test_if_none_match_revalidates_with_304(client, url):
    etag = client.get(url).headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get(url, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.data
    weak = client.get(url, headers={"If-None-Match": f'W/{etag}, "x"'})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110)


def test_one_serialisation_per_version_and_parameters(client):
    bodies = _bodies(client)
    before = bodies.builds
    for _ in range(3):
        client.get("/api/heatmap/BTCUSDT")
        client.get("/api/heatmap/btc?min_strength=0&max_distance=10.0")  # same normalised params
    assert bodies.builds == before + 1
    client.get("/api/heatmap/BTCUSDT?max_distance=5")
    assert bodies.builds == before + 2


def test_a_new_snapshot_version_is_a_new_body_and_etag(client, service):
    first = client.get("/api/heatmap/BTCUSDT")
    # One more long liquidated at 89,500, parsed from a raw frame, refreshed at the same time.
    event = force_order("BTCUSDT", "SELL", 89_500.0, 3.0, service.engine.now_ms() - 1_000)
    raw = orjson.dumps({"stream": "!forceOrder@arr", "data": event})
    service.engine.process(binance.parse(raw, 0).events)
    service.engine.refresh()
    second = client.get("/api/heatmap/BTCUSDT", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert second.get_json()["version"] == first.get_json()["version"] + 1
    assert second.headers["ETag"] != first.headers["ETag"]


def test_equal_content_after_a_refresh_keeps_the_etag(client, service):
    first = client.get("/api/heatmap/BTCUSDT")
    service.engine.refresh()  # same clock, same events: the engine keeps the snapshot
    assert client.get("/api/heatmap/BTCUSDT").headers["ETag"] == first.headers["ETag"]


def test_errors_health_and_stats_are_not_cached(client):
    assert client.get("/api/stats").headers["Cache-Control"] == "no-store"
    assert client.get("/api/health").headers["Cache-Control"] == "no-store"
    assert client.get("/api/heatmap/nope").headers["Cache-Control"] == "no-store"


def test_no_snapshot_yet_is_revalidated_every_time(make_client, settings):
    response = make_client(svc=HeatmapService(settings)).get("/api/heatmap/BTCUSDT")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"] == body_etag(response.data)


def test_max_age_follows_the_setting(make_client):
    client = make_client({"HEATMAP_API_MAX_AGE": "0"})
    assert client.get("/api/symbols").headers["Cache-Control"] == "public, max-age=0"
