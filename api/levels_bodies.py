"""Serialised bodies of the levels routes, kept in an LRU bounded by bytes (they are large: a
30-day body is about 5 MB, so the shared body cache, bounded by entries, is not the place)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app

from api.caching import NO_CACHE, body_etag, conditional
from api.context import ApiContext
from api.envelope import dumps
from heatmap_engine.lru import SizedLru

BODY_BYTES = 64 * 2**20  # serialised levels bodies kept, at most
_BODIES = "heatmap_levels_bodies"


def _body_bytes(item: tuple[bytes, str]) -> int:
    return len(item[0])


def respond(ctx: ApiContext, key: str | None, build: Callable[[], Mapping[str, Any]]) -> Response:
    """The body of ``build()``, from the levels LRU when ``key`` is given (else built, not
    kept, sent with no-cache)."""
    if key is None:
        body = dumps(build())
        return conditional(body, body_etag(body), NO_CACHE)
    bodies = current_app.extensions.setdefault(_BODIES, SizedLru(BODY_BYTES, _body_bytes))
    hit = bodies.get(key)
    if hit is None:
        body = dumps(build())
        hit = (body, body_etag(body))
        bodies.put(key, hit)
    return conditional(hit[0], hit[1], ctx.bodies.cache_control)
