"""CORS on ``/api/``: allow-all by default (as the seed), or an allow-list (HEATMAP_CORS_ORIGINS).

A small ``after_request`` hook rather than flask-cors: the API needs only a read-only subset
(GET/HEAD, no credentials), and flask-cors' per-response option evaluation cost more than the
heatmap route itself in the benchmark. Flask answers the preflight ``OPTIONS`` itself; this adds
the ``Access-Control-*`` headers.

* allow-all: every API response gets ``Access-Control-Allow-Origin: *`` (one cacheable body for
  every origin; no credentials are ever allowed).
* allow-list: an allowed ``Origin`` is echoed, any other gets no CORS headers, and every response
  says ``Vary: Origin`` so shared caches keep them apart.
"""

from __future__ import annotations

from flask import Flask, Response, request

from api.envelope import is_api_path
from api.settings import ApiSettings

ALLOW_METHODS = "GET, HEAD, OPTIONS"
PREFLIGHT_MAX_AGE = "600"
EXPOSED_HEADERS = (
    "ETag, Retry-After, X-Next-Cursor, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)


def _preflight_headers(headers) -> None:
    headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:
        headers["Access-Control-Allow-Headers"] = requested
    headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE


def install_cors(server: Flask, settings: ApiSettings) -> None:
    allow_all = settings.cors_allow_all
    allowed = frozenset(origin.lower() for origin in settings.cors_origins)

    def add_cors_headers(response: Response) -> Response:
        if not is_api_path(request.path):
            return response
        headers = response.headers
        origin = request.headers.get("Origin")
        if allow_all:
            headers["Access-Control-Allow-Origin"] = "*"
        else:
            headers.add("Vary", "Origin")
            if origin is None or origin.lower() not in allowed:
                return response
            headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            _preflight_headers(headers)
        return response

    server.after_request(add_cors_headers)
