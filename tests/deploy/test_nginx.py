"""The deploy files for real: gunicorn as in the systemd unit, Debian's nginx with the shipped
site config in front, the fake Binance behind. Checks what a proxy can break: the page and the
API through it, ETag revalidation, that a client cannot dodge the rate limit by sending its own
X-Forwarded-For, and what the proxy adds: the API's micro-cache (hits, revalidation), gzip, and
Dash's static files cached with their long lifetimes."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from helpers import ROOT, free_port

from benchmarks.nginx_site import SITE, nginx_conf, nginx_path
from market_sim.fake_binance import FakeBinance

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


def nginx_binary() -> str:
    found = nginx_path()
    if found is None:
        if os.environ.get("HEATMAP_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required (HEATMAP_REQUIRE_NGINX=1) but not installed")
        pytest.skip("nginx not installed (Debian: apt-get install nginx-light)")
    return found


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} did not open")


def trusted_proxy() -> str:
    """The address the shipped systemd unit trusts (the nginx site's proxy_bind)."""
    unit = (ROOT / "deploy" / "liquidation-heatmap.service").read_text()
    trusted = unit.split("HEATMAP_TRUSTED_PROXIES=")[1].split()[0]
    assert f"proxy_bind {trusted};" in SITE.read_text()
    return trusted


@pytest.fixture
def stack(tmp_path):
    nginx = nginx_binary()
    fake = FakeBinance().start()
    app_port, proxy_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(
        HEATMAP_BINANCE_WS_URL=fake.ws_market_base, HEATMAP_BINANCE_REST_URL=fake.rest_base,
        HEATMAP_DATA_DIR=str(tmp_path / "data"), HEATMAP_UPDATE_INTERVAL="0.2",
        HEATMAP_RATE_LIMIT="5/minute", HEATMAP_TRUSTED_PROXIES=trusted_proxy(),
        HEATMAP_API_MAX_AGE="1",
    )  # fmt: skip
    logs = (tmp_path / "gunicorn.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
         "--bind", f"127.0.0.1:{app_port}", "app:create_server()"],
        cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT,
    )  # fmt: skip
    proxy = None
    try:
        wait_port(app_port, app)
        conf = nginx_conf(tmp_path, proxy_port, app_port)
        proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
        wait_port(proxy_port, proxy)
        yield f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{app_port}"
    finally:
        for proc in (proxy, app):
            if proc is not None:
                proc.terminate()
                proc.wait(20)
        logs.close()
        fake.stop()


def test_page_api_and_revalidation_through_nginx(stack):
    stack, _ = stack
    page = requests.get(f"{stack}/liquidation-heatmap", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    first = requests.get(f"{stack}/api/heatmap/BTCUSDT", timeout=10)
    assert first.status_code == 200 and first.json()["symbol"] == "BTCUSDT"
    etag = first.headers["ETag"]
    again = requests.get(
        f"{stack}/api/heatmap/BTCUSDT", headers={"If-None-Match": etag}, timeout=10
    )
    assert again.status_code == 304
    docs = requests.get(f"{stack}/docs/", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_a_forged_x_forwarded_for_does_not_dodge_the_rate_limit(stack):
    stack, _ = stack
    statuses = []
    for i in range(8):
        forged = {"X-Forwarded-For": f"203.0.113.{i}"}
        # a URL of its own each time: a cached answer never reaches the app's rate limit
        url = f"{stack}/api/heatmap/BTCUSDT?min_strength=0.0{i}"
        response = requests.get(url, headers=forged, timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0
            assert response.json()["success"] is False
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * 3, "a forged X-Forwarded-For bought a fresh rate-limit bucket"


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={"Accept-Encoding": "identity", **headers}, timeout=10)


def test_the_api_is_micro_cached_and_revalidated(stack):
    """A second request within the app's max-age is nginx's (HIT, the same body); once it
    expires, nginx asks the app again with the ETag it holds (REVALIDATED on a 304) or takes
    the new body (EXPIRED), never serving a stale one for long."""
    stack, _ = stack
    url = f"{stack}/api/heatmap/ETHUSDT?max_distance=7"
    first = get(url)
    assert first.status_code == 200 and first.headers["X-Cache-Status"] == "MISS"
    assert first.headers["Cache-Control"] == "public, max-age=1"
    second = get(url)
    assert second.headers["X-Cache-Status"] == "HIT" and second.content == first.content
    assert get(f"{stack}/api/health").headers["X-Cache-Status"] in ("MISS", "BYPASS")
    assert get(f"{stack}/api/health").headers["X-Cache-Status"] != "HIT"  # no-store: never kept
    seen = set()
    deadline = time.monotonic() + 15
    while not seen & {"REVALIDATED", "EXPIRED", "UPDATING", "STALE"}:
        assert time.monotonic() < deadline, f"the entry never expired: {seen}"
        response = get(url)
        assert response.status_code == 200
        seen.add(response.headers["X-Cache-Status"])
        time.sleep(0.2)
    assert json.loads(response.content)["symbol"] == "ETHUSDT"


def test_json_scripts_and_styles_are_gzipped_and_static_files_kept(stack):
    stack, _ = stack
    api = requests.get(f"{stack}/api/stats", headers={"Accept-Encoding": "gzip"}, timeout=10,
                       stream=True)  # fmt: skip
    raw = api.raw.read()
    assert api.status_code == 200 and len(raw) > 0
    assert api.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in api.headers["Vary"]
    assert json.loads(gzip.decompress(raw))["success"] is True
    html = get(f"{stack}/").text
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+\.v[^"]+\.js)"', html)
    styles = re.findall(r'href="(/assets/[^"]+\.css\?m=[^"]+)"', html)
    assert scripts and styles
    for path in (scripts[0], styles[0]):
        first = requests.get(stack + path, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert first.headers["Content-Encoding"] == "gzip", path
        assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable", path
        again = requests.get(stack + path, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert again.headers["X-Cache-Status"] == "HIT" and again.content == first.content
    page = requests.get(f"{stack}/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert "X-Cache-Status" not in page.headers  # the page itself is never cached here


def test_a_local_process_is_not_the_trusted_proxy(stack):
    """Straight to gunicorn from 127.0.0.1 (any local process), a made-up X-Forwarded-For is not
    believed: only nginx's own address is trusted, so every try counts against 127.0.0.1."""
    _, direct = stack
    statuses = [
        requests.get(f"{direct}/api/symbols", headers={"X-Forwarded-For": f"203.0.113.{i}"},
                     timeout=10).status_code
        for i in range(7)
    ]  # fmt: skip
    assert statuses == [200] * 5 + [429] * 2


def _get_from(source: str, port: int, path: str) -> int:
    """One GET through nginx from the local address ``source`` (each a different client)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_each_client_has_its_own_rate_limit_bucket_through_nginx(stack):
    """The API's location connects from the trusted proxy address too, so the app counts each
    client's own address: two clients each get their 5 requests a minute (a site that bound
    only some locations would count every API client as 127.0.0.1, one shared bucket)."""
    proxy, _ = stack
    port = int(proxy.rsplit(":", 1)[1])
    statuses = {
        source: [_get_from(source, port, f"/api/heatmap/BTCUSDT?min_strength=0.{n}{i}")
                 for i in range(6)]
        for n, source in enumerate(("127.0.0.3", "127.0.0.4"), start=1)
    }  # fmt: skip
    assert statuses == {source: [200] * 5 + [429] for source in statuses}
