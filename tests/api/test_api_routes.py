"""What each route answers, asserted on meaning: the clusters, the filters, the best choice."""

from __future__ import annotations

from datetime import datetime

import pytest

from heatmap_engine.service import HeatmapService

SEED_CLUSTER_FIELDS = {
    "price_level", "side", "liquidation_count", "total_notional", "strength",
    "distance_from_price", "cluster_id", "last_updated",
}  # fmt: skip


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, text
    return parsed


def test_symbols_lists_the_tracked_contracts(client, service):
    body = client.get("/api/symbols").get_json()
    assert body == {"success": True, "symbols": list(service.symbols), "count": 3}


def test_heatmap_has_the_seed_shape_and_utc_times(client):
    body = client.get("/api/heatmap/BTCUSDT").get_json()
    assert body["success"] is True and body["symbol"] == "BTCUSDT"
    assert body["current_price"] == 90_000.0
    assert body["total_clusters"] == len(body["clusters"]) > 0
    _utc(body["timestamp"])
    for cluster in body["clusters"]:
        assert cluster.keys() >= SEED_CLUSTER_FIELDS
        _utc(cluster["last_updated"])


def test_heatmap_clusters_mean_what_the_market_did(client):
    clusters = client.get("/api/heatmap/BTCUSDT").get_json()["clusters"]
    price = 90_000.0
    longs = [c for c in clusters if c["side"] == "long"]
    shorts = [c for c in clusters if c["side"] == "short"]
    assert longs and shorts
    assert all(c["price_level"] < price for c in longs)  # longs were liquidated below
    assert all(c["price_level"] > price for c in shorts)
    for c in clusters:
        expected = abs(c["price_level"] - price) / price * 100
        assert c["distance_from_price"] == pytest.approx(expected)
        assert 0 < c["strength"] <= 1


def test_default_max_distance_is_ten_percent(client):
    default = client.get("/api/heatmap/BTCUSDT").get_json()
    wide = client.get("/api/heatmap/BTCUSDT?max_distance=50").get_json()
    assert all(c["distance_from_price"] <= 10 for c in default["clusters"])
    far = [c for c in wide["clusters"] if c["distance_from_price"] > 10]
    assert far and max(c["strength"] for c in wide["clusters"]) == 1.0
    assert wide["total_clusters"] == default["total_clusters"] + len(far)
    assert default["clusters_before_filters"] == wide["clusters_before_filters"]


def test_min_strength_and_max_distance_filter(client):
    every = client.get("/api/heatmap/BTCUSDT?max_distance=50").get_json()["clusters"]
    strong = client.get("/api/heatmap/BTCUSDT?min_strength=0.5&max_distance=50").get_json()
    assert strong["clusters"] == [c for c in every if c["strength"] >= 0.5]
    near = client.get("/api/heatmap/BTCUSDT?max_distance=1").get_json()
    assert near["clusters"] == [c for c in every if c["distance_from_price"] <= 1]
    assert near["filters"] == {"min_strength": 0.0, "max_distance": 1.0}


@pytest.mark.parametrize("typed", ["pepe", "PEPE", "1000pepeusdt", "pepeusdt", "PEPE-USDT"])
def test_symbols_resolve_as_a_person_types_them(client, typed):
    body = client.get(f"/api/heatmap/{typed}").get_json()
    assert body["symbol"] == "1000PEPEUSDT"
    assert body["current_price"] == 0.012 and body["clusters"]


def test_tracked_symbol_without_data_is_empty_not_an_error(client):
    response = client.get("/api/heatmap/eth")
    body = response.get_json()
    assert response.status_code == 200
    assert body["symbol"] == "ETHUSDT" and body["current_price"] is None
    assert body["clusters"] == [] and body["total_clusters"] == 0


def test_tracked_symbol_before_the_first_refresh(make_client, settings):
    client = make_client(svc=HeatmapService(settings))
    body = client.get("/api/heatmap/BTCUSDT").get_json()
    assert body["success"] is True and body["version"] == 0
    assert body["current_price"] is None and body["clusters"] == []
    _utc(body["timestamp"])
    best = client.get("/api/heatmap/BTCUSDT/best").get_json()
    assert best["best"] is None and "no current price" in best["reason"]


def test_best_prefers_a_strong_cluster_near_the_price(client):
    wide = client.get("/api/heatmap/BTCUSDT?max_distance=50").get_json()["clusters"]
    body = client.get("/api/heatmap/BTCUSDT/best?max_distance=50").get_json()
    best = body["best"]
    strongest = max(wide, key=lambda c: c["strength"])
    # The strongest cluster is 11 % away; a cluster >= 0.6 at 0.56 % scores higher.
    assert best["cluster_id"] != strongest["cluster_id"]
    assert best["strength"] >= 0.6 and best["distance_from_price"] < 1
    assert best["score"] == pytest.approx(best["strength"] / (1 + best["distance_from_price"]))
    eligible = [c for c in wide if c["strength"] >= 0.6]
    assert best["score"] == pytest.approx(
        max(c["strength"] / (1 + c["distance_from_price"]) for c in eligible)
    )
    assert best["position"] == "below" and best["side"] == "long"


def test_best_is_null_with_success_when_nothing_qualifies(client):
    response = client.get("/api/heatmap/BTCUSDT/best?min_strength=1&max_distance=5")
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True
    assert body["best"] is None and "strength >= 1" in body["reason"]


def test_best_default_min_strength_is_point_six(client):
    body = client.get("/api/heatmap/BTCUSDT/best").get_json()
    assert body["filters"] == {"min_strength": 0.6, "max_distance": 10.0}
    assert body["best"]["strength"] >= 0.6


def _liquidation_frames(frames) -> int:
    return sum(1 for _, raw in frames if "forceOrder" in raw)


def test_stats_reports_the_overall_numbers(client, service, market):
    body = client.get("/api/stats").get_json()
    engine = service.engine.status()
    assert body["symbols_tracked"] == len(service.symbols)
    assert body["liquidations"]["total"] == engine["liquidations"] == _liquidation_frames(market)
    sides = body["liquidations"]["long"]["count"] + body["liquidations"]["short"]["count"]
    assert sides == body["liquidations"]["total"]
    assert body["liquidations"]["long"]["notional_usd"] > 0
    assert body["clusters"]["total"] == body["clusters"]["long"] + body["clusters"]["short"]
    assert body["clusters"] == {**engine["clusters"], "total": sum(engine["clusters"].values())}
    assert body["connection_state"] == "idle" and body["seconds_since_last_frame"] is None
    _utc(body["timestamp"])
    _utc(body["last_liquidation_at"])


def test_stats_of_a_running_replay_count_frames_and_parse_errors(make_client, replaying, market):
    bad = ("not json", '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":{}}}')
    svc = replaying(extra=bad)
    body = make_client(svc=svc).get("/api/stats").get_json()
    assert body["connection_state"] == "replay" and body["mode"] == "replay"
    assert body["frames"] == len(market) + len(bad)
    assert body["parse_errors"] == {"not_json": 1, "missing_field": 1}
    assert body["parse_errors_total"] == 2
    assert body["liquidations"]["total"] == _liquidation_frames(market)
    assert body["seconds_since_last_frame"] >= 0 and body["uptime_seconds"] > 0
    assert body["feed"]["state"] == "replay"
    _utc(body["last_frame_at"])
    assert body["history"]["writer"]["dropped_total"] == 0
    for key, value in _walk(body):  # no epoch number where a time point is named
        if key.endswith("_at") or key in ("start", "end", "timestamp", "last_refresh"):
            assert value is None or _utc(value), (key, value)


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_health_is_ok_while_the_replay_feed_is_open(make_client, replaying):
    response = make_client(svc=replaying()).get("/api/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True and body["status"] == "ok" and body["state"] == "replay"


def _feed(state: str, since: float | None) -> dict:
    return {"state": state, "seconds_since_last_frame": since}


@pytest.mark.parametrize(
    ("mode", "feed", "status", "reason"),
    [
        ("live", _feed("live", 0.4), 200, None),
        ("demo", _feed("live", 1.0), 200, None),
        ("live", _feed("live", 15.0), 503, "no frame for 15.0s"),
        ("live", _feed("live", None), 503, "no frame received"),
        ("live", _feed("reconnecting", 0.1), 503, "'reconnecting'"),
        ("live", _feed("connecting", None), 503, "'connecting'"),
        ("replay", _feed("replay finished", 0.1), 503, "'replay finished'"),
    ],
)
def test_health_follows_the_feed(make_client, status_service, mode, feed, status, reason):
    response = make_client(svc=status_service(feed, mode)).get("/api/health")
    body = response.get_json()
    assert response.status_code == status
    assert body["success"] is (status == 200)
    if reason:
        assert reason in body["error"]
    assert body["state"] == ("demo" if mode == "demo" else feed["state"])
    assert response.headers["Cache-Control"] == "no-store"


def test_health_before_the_service_starts_is_unavailable(client):
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json() == {
        "success": False, "error": "feed is 'idle', not live", "state": "idle",
        "seconds_since_last_frame": None, "uptime_seconds": 0.0,
    }  # fmt: skip


# the test ends the engine thread on purpose, with an exception that escapes its loop boundary
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_health_says_when_a_background_thread_has_ended(make_client, status_service):
    svc = status_service(_feed("live", 0.2))
    client = make_client(svc=svc)
    assert client.get("/api/health").status_code == 200
    engine_thread = next(t for t in svc._threads if t.name == "heatmap-engine")
    svc.call_in_engine(lambda: (_ for _ in ()).throw(SystemExit))  # ends that thread only
    engine_thread.join(5.0)
    response = client.get("/api/health")
    assert response.status_code == 503
    assert "thread heatmap-engine has stopped" in response.get_json()["error"]
