"""Per-client-IP rate limit: 429, Retry-After, the envelope; X-Forwarded-For only via proxies."""

from __future__ import annotations

import ipaddress

import pytest

from api.ratelimit import client_ip

LIMITED = {"HEATMAP_RATE_LIMIT": "3/minute"}


def _get(client, url="/api/symbols", peer="198.51.100.7", xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return client.get(url, headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_off_by_default(client):
    assert all(_get(client).status_code == 200 for _ in range(20))


def test_over_the_limit_is_429_with_retry_after_and_the_envelope(make_client, check_spec):
    client = make_client(LIMITED)
    assert [_get(client).status_code for _ in range(3)] == [200, 200, 200]
    response = _get(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window is one minute
    body = response.get_json()
    assert body["success"] is False and "rate limit" in body["error"]
    assert response.headers["X-RateLimit-Limit"] == "3"
    check_spec(response, "/api/symbols")


def test_the_limit_is_per_client_and_shared_across_routes(make_client):
    client = make_client(LIMITED)
    for url in ("/api/symbols", "/api/heatmap/BTCUSDT", "/api/stats"):
        assert _get(client, url).status_code == 200
    assert _get(client, "/api/heatmap/BTCUSDT/best").status_code == 429
    assert _get(client, peer="198.51.100.8").status_code == 200


def test_health_and_preflights_are_never_limited(make_client):
    client = make_client(LIMITED)
    for _ in range(5):
        _get(client)
    assert _get(client, "/api/health").status_code == 503  # the feed's state, not 429
    preflight = client.options(
        "/api/symbols",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert preflight.status_code == 200


def test_a_forged_forwarded_for_does_not_dodge_the_limit(make_client):
    client = make_client(LIMITED)
    codes = [_get(client, xff=f"203.0.113.{i}").status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]


def test_trusted_proxy_forwarded_clients_are_limited_separately(make_client):
    client = make_client({**LIMITED, "HEATMAP_TRUSTED_PROXIES": "127.0.0.1"})
    proxied = [_get(client, peer="127.0.0.1", xff="203.0.113.5").status_code for _ in range(4)]
    assert proxied == [200, 200, 200, 429]
    assert _get(client, peer="127.0.0.1", xff="203.0.113.6").status_code == 200


TRUSTED = tuple(ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("198.51.100.7", "1.2.3.4", TRUSTED, "198.51.100.7"),  # peer is not a proxy
        ("127.0.0.1", "1.2.3.4", (), "127.0.0.1"),  # no proxy trusted
        ("127.0.0.1", "1.2.3.4", TRUSTED, "1.2.3.4"),
        ("127.0.0.1", "6.6.6.6, 1.2.3.4", TRUSTED, "1.2.3.4"),  # left entries are client-made
        ("127.0.0.1", "1.2.3.4, 10.1.2.3", TRUSTED, "1.2.3.4"),  # skip trusted hops
        ("127.0.0.1", "10.0.0.1, 10.1.2.3", TRUSTED, "127.0.0.1"),  # only proxies
        ("127.0.0.1", "not-an-ip", TRUSTED, "127.0.0.1"),
        ("127.0.0.1", " 2001:db8::1 ", TRUSTED, "2001:db8::1"),
        (None, None, (), "unknown"),
    ],
)
def test_client_ip(peer, xff, trusted, expected):
    assert client_ip(peer, xff, trusted) == expected
