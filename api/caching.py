"""Serialise once per snapshot version; ETag and Cache-Control so clients and nginx revalidate.

A body is keyed by what determines it exactly: the route, the resolved symbol, the snapshot's
version and computation time, and the normalised parameters. The key never needs invalidating:
a new snapshot version is a new key, and old keys age out of the (size-bounded) flask-caching
store. The ETag is a hash of the body bytes, so equal bodies always share an ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, request
from flask_caching import Cache

from api.envelope import JSON_MIMETYPE, dumps

NO_CACHE = "no-cache"
CSV_MIMETYPE = "text/csv"


def body_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def make_cache(server: Flask, size: int, timeout: int) -> Cache:
    """An in-process store: the engine lives in this process too (one gunicorn worker)."""
    config = {
        "CACHE_TYPE": "SimpleCache",
        "CACHE_THRESHOLD": size,
        "CACHE_DEFAULT_TIMEOUT": timeout,
    }
    return Cache(server, config=config)


def conditional(
    body: bytes,
    etag: str,
    cache_control: str,
    mimetype: str = JSON_MIMETYPE,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """200 with the body, or 304 when the client's ``If-None-Match`` already names it."""
    headers = {**(headers or {}), "ETag": etag, "Cache-Control": cache_control}
    if "If-None-Match" in request.headers and request.if_none_match.contains_weak(etag[1:-1]):
        return Response(status=304, headers=headers)
    return Response(body, 200, headers, mimetype=mimetype)


def conditional_bytes(
    body: bytes,
    cache_control: str,
    mimetype: str = JSON_MIMETYPE,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A body that is not kept: its ETag still lets a client revalidate (304)."""
    return conditional(body, body_etag(body), cache_control, mimetype, headers)


class BodyCache:
    """Serialised bodies keyed by (route, symbol, version, parameters)."""

    def __init__(self, cache: Cache, max_age: int):
        self.cache = cache
        self.cache_control = f"public, max-age={max_age}"
        self.builds = 0

    def respond(self, key: str, build: Callable[[], Mapping[str, Any]]) -> Response:
        cached = self.cache.get(key)
        if cached is None:
            body = dumps(build())
            cached = (body, body_etag(body))
            self.cache.set(key, cached)
            self.builds += 1
        return conditional(cached[0], cached[1], self.cache_control)

    def uncached(self, payload: Mapping[str, Any], cache_control: str = NO_CACHE) -> Response:
        return conditional_bytes(dumps(payload), cache_control)
