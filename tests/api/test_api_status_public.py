"""What strangers may read of the service's state: /api/stats without file paths or exception
text (the rule over the status tree), /api/health with the feed's own reason, and the
dashboard's callback route inside the API's rate limit."""

from __future__ import annotations

import logging

import orjson
import pytest

from api.public_status import OTHER, PublicStatus, error_category

RAW_DNS = (
    "HTTPSConnectionPool(host='fapi.binance.com', port=443): Max retries exceeded "
    '(Caused by NameResolutionError("<urllib3.connection.HTTPSConnection object at '
    "0x7f>: Failed to resolve 'fapi.binance.com' ([Errno -2] Name or service not known)\"))"
)
RAW_DISK = "sqlite3.OperationalError: database or disk is full: /var/lib/heatmap/heatmap.sqlite3"


def test_the_rule_drops_paths_and_details_and_categorizes_free_text_errors():
    tree = {
        "history": {"path": "/var/lib/x.sqlite3", "size_bytes": 10, "writer": {
            "last_error": RAW_DISK, "errors": {"disk full": 3}, "db_path": "/x",
            "failure_detail": "Traceback ...", "private": {"token": "t"}}},
        "rest": {"universe_error": RAW_DNS, "error": None},
        "feed": {"last_disconnect_reason": "cannot reach fstream.binance.com: name not resolved",
                 "per_connection": [{"error": "weird thing"}, {"state": "live"}]},
    }  # fmt: skip
    public = PublicStatus()(tree)
    assert public == {
        "history": {"size_bytes": 10, "writer": {"last_error": "disk full",
                                                 "errors": {"disk full": 3}}},
        "rest": {"universe_error": "name not resolved", "error": None},
        "feed": {"last_disconnect_reason": tree["feed"]["last_disconnect_reason"],
                 "per_connection": [{"error": OTHER}, {"state": "live"}]},
    }  # fmt: skip
    assert PublicStatus(details=True)(tree) == tree


@pytest.mark.parametrize(
    ("text", "category"),
    [(RAW_DNS, "name not resolved"), (RAW_DISK, "disk full"),
     ("[Errno 111] Connection refused", "connection refused"),
     ("attempt to write a readonly database", "read-only storage"),
     ("[Errno 13] Permission denied: '/data'", "permission denied"),
     ("HTTP 429 Too Many Requests", "rate limited"),
     ("Read timed out. (read timeout=5)", "timed out"),
     ("Expecting value: line 1 column 1 (char 0)", "unreadable answer")],
)  # fmt: skip
def test_error_categories(text, category):
    assert error_category(text) == category


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def test_stats_of_a_service_with_history_shows_no_file_path(make_client, history_service, caplog):
    data_dir = history_service.settings.data_dir
    body = make_client(svc=history_service).get("/api/stats").get_json()
    assert body["history"]["size_bytes"] > 0  # the section is there, minus its path
    assert "path" not in list(_strings(body))
    assert not [s for s in _strings(body) if data_dir in s or s.startswith("/")]
    detailed = make_client({"HEATMAP_STATS_DETAILS": "1"}, svc=history_service)
    assert data_dir in detailed.get("/api/stats").get_data(as_text=True)


def test_a_raw_error_in_the_status_is_logged_once_and_shown_as_its_category(
    make_client, status_service, caplog
):
    svc = status_service({"state": "live", "seconds_since_last_frame": 0.1,
                          "last_error": RAW_DNS})  # fmt: skip
    client = make_client(svc=svc)
    with caplog.at_level(logging.WARNING, logger="api.public_status"):
        bodies = [client.get("/api/stats").get_json() for _ in range(3)]
    assert all(b["feed"]["last_error"] == "name not resolved" for b in bodies)
    assert RAW_DNS not in orjson.dumps(bodies).decode()
    said = [r for r in caplog.records if r.name == "api.public_status"]  # (not the service's)
    assert [r.getMessage().count(RAW_DNS) for r in said] == [1]


def test_health_says_the_reason_the_feed_knows(make_client, status_service):
    feed = {
        "state": "reconnecting",
        "seconds_since_last_frame": None,
        "next_retry_in": 26.4,
        "last_disconnect_reason": "cannot reach fstream.binance.com: name not resolved",
    }
    response = make_client(svc=status_service(feed)).get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["error"] == (
        "feed is 'reconnecting' (cannot reach fstream.binance.com: name not resolved), not live; "
        "next retry in 26 s"
    )


def test_the_dashboard_callbacks_share_the_api_rate_limit(make_client):
    client = make_client({"HEATMAP_RATE_LIMIT": "3/minute"})
    peer = {"REMOTE_ADDR": "198.51.100.7"}
    assert [client.get("/api/symbols", environ_base=peer).status_code for _ in range(3)] == [
        200
    ] * 3
    response = client.post("/_dash-update-component", json={}, environ_base=peer)
    assert response.status_code == 429 and response.get_json()["success"] is False
    assert int(response.headers["Retry-After"]) >= 1
    assert (
        client.get("/api/symbols", environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200
    )
