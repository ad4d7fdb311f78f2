"""How the page's files reach a browser: compressed, and cached for as long as their URL allows.

- Compression (flask-compress): every response of the page (Dash's routes: the page, its
  scripts and assets, its callbacks) that a client accepts compressed (``Accept-Encoding``) is
  sent as Brotli, or gzip for clients without it: a first load shrinks from 2.9 MB to 0.75 MB.
  The JSON API and /docs are left as their blueprints make them (their ETags are hashes of the
  bodies they send); behind nginx they are gzipped there. The compressed bodies of the static
  files (Dash's component suites and ``/assets``) are kept in memory, one per file and
  algorithm, so they are compressed once per process and not for every visitor; dynamic
  responses (the page, its callbacks) are compressed as they are made and never kept.
- Cache lifetimes: a URL that names its content's version is cached for a year (``immutable``):
  Dash's fingerprinted component suites (``dash_renderer.v4_4_1m1796164831.min.js``) and the
  ``/assets`` files Dash links with ``?m=<the file's mtime>`` while that mtime is current. Every
  other response keeps the headers its route chose (revalidation by ETag).
- Early downloads: what every load needs but Dash asks for late (dcc's lazy chunks, plotly.js)
  is preloaded from the page's head; plotly.js is the page's own build (``assets/vendor``),
  served at the URL dcc.Graph loads it from, so its evaluation no longer blocks the page's start.

Behind the shipped nginx site the proxy compresses and caches instead (it sends no
``Accept-Encoding`` upstream, so the app spends no time on it there).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dash
from flask import Flask, Response, request, send_file
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
FINGERPRINT = re.compile(r"\.v[\w-]+m\d+\.[^/]+$")  # Dash's build_fingerprint: name.v1_2_3m456.js
BR_QUALITY = 5  # 1.2 MB of plotly.js: 382 kB in ~40 ms (11 would take 2.4 s for 342 kB)
GZIP_LEVEL = 6
MAX_KEPT_BODIES = 256  # static files × 2 algorithms; the page has about 20


class StaticBodies:
    """flask-compress's cache backend: keeps the compressed bodies of static files only.

    Keys are ``"<algorithm>;<key from static_key>"``; a dynamic response's key is empty after
    the algorithm and is never kept, so it is compressed afresh each time."""

    def __init__(self, limit: int = MAX_KEPT_BODIES) -> None:
        self.limit = limit
        self.bodies: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";") or key in self.bodies or len(self.bodies) >= self.limit:
            return
        self.bodies[key] = value


def _static_prefixes(app: dash.Dash) -> tuple[str, str]:
    prefix = app.config.requests_pathname_prefix
    return prefix + "_dash-component-suites/", prefix + app.config.assets_url_path.strip("/") + "/"


def static_key(app: dash.Dash):
    """The compression cache key of a request: its path and query for a static file, else ""."""
    prefixes = _static_prefixes(app)

    def key(req) -> str:
        return req.full_path if req.path.startswith(prefixes) else ""

    return key


def asset_is_current(app: dash.Dash, relative: str, modified: str | None) -> bool:
    """Whether ``?m=`` names the asset file's current mtime, as Dash writes it in its links."""
    if not modified:
        return False
    folder = os.path.realpath(app.config.assets_folder)
    path = os.path.realpath(os.path.join(folder, relative))
    if not path.startswith(folder + os.sep):
        return False
    try:
        return str(os.stat(path).st_mtime) == modified
    except OSError:
        return False


def cache_for_versioned_urls(app: dash.Dash):
    """An ``after_request`` hook: a year, immutable, for the URLs that carry their version."""
    suites, assets = _static_prefixes(app)

    def hook(response: Response) -> Response:
        path = request.path
        if not path.startswith((suites, assets)):  # every other route: nothing to do
            return response
        if request.method not in ("GET", "HEAD") or response.status_code not in (200, 304):
            return response
        versioned = (path.startswith(suites) and FINGERPRINT.search(path) is not None) or (
            path.startswith(assets)
            and asset_is_current(app, path[len(assets) :], request.args.get("m"))
        )
        if versioned:
            response.headers["Cache-Control"] = IMMUTABLE
        if response.is_streamed:
            # Flask streams a file from disk; as bytes it can be compressed once and kept (a
            # streamed body would be compressed again for every visitor, and never as gzip)
            response.direct_passthrough = False
            response.make_sequence()
        return response

    return hook


# What every load of the page needs but Dash fetches late: dcc's lazily loaded parts (the symbol
# search, the sliders, the charts) and plotly.js, which dcc.Graph loads from Dash's own URL for
# it when the first chart mounts. Named in the page's head, they download with the main scripts;
# plotly.js is then evaluated while the page waits for its layout and first callbacks, instead of
# before the page can start (an asset script would block it).
EAGER_CHUNKS = ("dash/dcc/async-dropdown.js", "dash/dcc/async-slider.js", "dash/dcc/async-graph.js")
PLOTLY_CHUNK = "plotly/package_data/plotly.min.js"
PLOTLY_BUILD = re.compile(r"^plotly-.+\.min\.js$")  # assets/vendor: see build-plotly-bundle.sh


def preload_links(app: dash.Dash) -> str:
    suites, _ = _static_prefixes(app)
    return "".join(
        f'<link rel="preload" as="script" href="{suites}{chunk}">'
        for chunk in (*EAGER_CHUNKS, PLOTLY_CHUNK)
    )


def plotly_build(app: dash.Dash) -> Path:
    """The page's plotly.js build in assets/vendor (only the traces it draws)."""
    (build,) = [p for p in Path(app.config.assets_folder).rglob("*") if PLOTLY_BUILD.match(p.name)]
    return build


def serve_plotly_build(app: dash.Dash):
    """A ``before_request`` hook: Dash's URL for plotly.js answers with the page's own build (1.2
    MB, not the 4.8 MB full bundle), with an ETag (the URL carries no version)."""
    suites, _ = _static_prefixes(app)
    url, build = suites + PLOTLY_CHUNK, plotly_build(app)

    def hook() -> Response | None:
        if request.path != url:
            return None
        return send_file(build, mimetype="application/javascript", conditional=True, etag=True)

    return hook


def is_page_route() -> bool:
    """Whether the request went to one of Dash's own routes (the page, its files, its
    callbacks), not to a blueprint of the API or the docs."""
    blueprint = request.blueprint
    return blueprint is None or blueprint.endswith("dash_assets")


def install(app: dash.Dash) -> None:
    """Compression, cache lifetimes and early downloads for the page on the app's Flask server."""
    server: Flask = app.server
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=BR_QUALITY,
        COMPRESS_LEVEL=GZIP_LEVEL,
        COMPRESS_CACHE_BACKEND=StaticBodies,
        COMPRESS_CACHE_KEY=static_key(app),
        COMPRESS_REGISTER=False,  # registered below, for the page's routes only
    )
    compress = server.extensions["compress"] = Compress(server)

    def compress_the_page(response: Response) -> Response:
        return compress.after_request(response) if is_page_route() else response

    # Registered first, so it runs last (Flask runs after_request hooks in reverse): the
    # compression sees the final headers, and the cache hook sees the route's own.
    server.after_request(compress_the_page)
    server.after_request(cache_for_versioned_urls(app))
    server.before_request(serve_plotly_build(app))
    ignore = app.config.assets_ignore  # not a blocking <script> of the page: see EAGER_CHUNKS
    app.config.assets_ignore = PLOTLY_BUILD.pattern + (f"|{ignore}" if ignore else "")
    app.index_string = app.index_string.replace("{%css%}", "{%css%}" + preload_links(app), 1)
