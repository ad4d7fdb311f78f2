"""How the page's files are sent: compressed when the client accepts it, identical once
decompressed, cached for a year only where the URL names the content's version."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import pytest

from api.settings import ApiSettings
from app import ASSETS, create_app
from callbacks.delivery import IMMUTABLE, StaticBodies


@pytest.fixture
def client(make_service):
    service = make_service()
    app = create_app(service.settings, service, start_engine=False,
                     api_settings=ApiSettings.from_env({}))  # fmt: skip
    return app.server.test_client(), service


def page_urls(client) -> list[str]:
    html = client.get("/").get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/[^"]+)"', html)


def fetch(client, url: str, encoding: str | None):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    response = client.get(url, headers=headers)
    body = response.get_data()
    response.close()
    return response, body


def decoded(response, body: bytes) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    assert encoding is None, encoding
    return body


def test_every_script_and_stylesheet_is_compressed_and_decompresses_to_the_same_bytes(client):
    client, _ = client
    urls = [u for u in page_urls(client) if u.split("?")[0].endswith((".js", ".css"))]
    assert len(urls) >= 10
    plain_total = sent_total = 0
    for url in urls:
        plain_response, plain = fetch(client, url, None)
        assert (
            plain_response.status_code == 200 and "Content-Encoding" not in plain_response.headers
        )
        for encoding, accept in (("br", "gzip, deflate, br, zstd"), ("gzip", "gzip")):
            response, body = fetch(client, url, accept)
            assert response.headers["Content-Encoding"] == encoding, url
            assert "Accept-Encoding" in response.headers["Vary"]
            assert decoded(response, body) == plain, url
            if encoding == "br":
                sent_total += len(body)
        plain_total += len(plain)
    assert sent_total < plain_total / 3  # the 2.9 MB of a first load, to well under 1 MB


def test_versioned_urls_are_cached_for_a_year_and_the_rest_revalidate(client):
    client, _ = client
    urls = page_urls(client)
    suites = [u for u in urls if "/_dash-component-suites/" in u]
    fingerprinted = [u for u in suites if re.search(r"\.v\d[\w-]*m\d+\.", u)]
    assets = [u for u in urls if u.startswith("/assets/")]
    assert fingerprinted and assets
    for url in fingerprinted + assets:
        assert fetch(client, url, "br")[0].headers["Cache-Control"] == IMMUTABLE, url
    for url in set(suites) - set(fingerprinted):  # dcc's lazy chunks: no version in the name
        response, _ = fetch(client, url, "br")
        assert response.status_code == 200 and response.headers.get("Cache-Control") != IMMUTABLE
        assert response.headers["ETag"], url
    css = next(u for u in assets if "dashboard.css" in u)
    path = css.split("?")[0]
    for stale in (path, f"{path}?m=1.0", f"{path}?m=nonsense"):
        response, _ = fetch(client, stale, "br")
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != IMMUTABLE, stale
    for dynamic in ("/", "/_dash-layout", "/_dash-dependencies"):
        assert "immutable" not in (
            fetch(client, dynamic, "br")[0].headers.get("Cache-Control") or ""
        )


def test_an_asset_outside_the_folder_is_never_served_or_marked(client):
    client, _ = client
    mtime = str(Path(ASSETS.parent / "app.py").stat().st_mtime)
    response, body = fetch(client, f"/assets/../app.py?m={mtime}", "br")
    assert response.status_code == 404 and b"create_app" not in decoded(response, body)


def test_dynamic_page_responses_are_compressed_but_never_kept(client):
    client, _ = client
    for url in page_urls(client):
        fetch(client, url, "br")
    layout, body = fetch(client, "/_dash-layout", "br")
    assert layout.headers["Content-Encoding"] == "br"
    assert decoded(layout, body) == fetch(client, "/_dash-layout", None)[1]
    kept = client.application.extensions["compress"].cache.bodies
    assert kept and all(
        key.split(";", 1)[1].startswith(("/_dash-component-suites/", "/assets/")) for key in kept
    ), sorted(kept)


def test_the_api_and_the_docs_are_left_as_their_blueprints_send_them(client, now_ms):
    """Their ETags are hashes of the bodies they send (a client's If-None-Match must match);
    behind nginx they are gzipped there."""
    client, _ = client
    for url in ("/api/heatmap/BTCUSDT", "/api/stats", "/docs/"):
        response, body = fetch(client, url, "gzip, deflate, br, zstd")
        assert response.status_code == 200 and "Content-Encoding" not in response.headers, url
        assert body == fetch(client, url, None)[1] or url == "/api/stats", url  # stats: uptime


def test_the_kept_bodies_are_bounded_and_skip_dynamic_keys():
    kept = StaticBodies(limit=2)
    kept.set("br;", b"dynamic")  # a dynamic response's key: nothing after the algorithm
    kept.set("br;/assets/a.css?m=1", b"a")
    kept.set("br;/assets/b.css?m=1", b"b")
    kept.set("br;/assets/c.css?m=1", b"c")
    assert kept.bodies == {"br;/assets/a.css?m=1": b"a", "br;/assets/b.css?m=1": b"b"}
    assert kept.get("br;") is None


def test_the_lazy_chunks_every_load_needs_are_named_in_the_head(client):
    """dcc's dropdown, slider and graph chunks download with the main scripts (rel=preload),
    not one after another once the layout has arrived."""
    client, _ = client
    html = client.get("/").get_data(as_text=True)
    head = html.split("</head>")[0]
    preloaded = re.findall(r'<link rel="preload" as="script" href="([^"]+)">', head)
    assert {p.rsplit("/", 1)[-1] for p in preloaded} == {
        "async-dropdown.js", "async-slider.js", "async-graph.js", "plotly.min.js"
    }  # fmt: skip
    for path in preloaded:
        response, body = fetch(client, path, None)
        assert response.status_code == 200, path
        assert b"webpackChunk" in body or path.endswith("plotly.min.js"), path


def test_dashs_plotly_url_serves_the_pages_own_build_not_a_blocking_script(client):
    """dcc.Graph loads plotly.js from Dash's URL for it when the first chart mounts: that URL
    answers with assets/vendor's build (1.2 MB; the full bundle is 4.8 MB), revalidated by ETag,
    and the build is not also a <script> that would block the page's start."""
    client, _ = client
    (build,) = (ASSETS / "vendor").glob("plotly-*.min.js")
    url = "/_dash-component-suites/plotly/package_data/plotly.min.js"
    response, body = fetch(client, url, None)
    assert response.status_code == 200 and body == build.read_bytes()
    assert response.mimetype == "application/javascript"
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    again.close()
    assert again.status_code == 304
    html = client.get("/").get_data(as_text=True)
    assert build.name not in html and f'src="{url}"' not in html
