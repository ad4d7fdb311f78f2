"""Serialised bodies of the levels routes, kept in an LRU bounded by bytes (they are large: a
30-day body is about 5 MB, so the shared body cache, bounded by entries, is not the place)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app

from api.caching import NO_CACHE, body_etag, conditional
from api.context import ApiContext
from api.envelope import dumps

BODY_BYTES = 64 * 2**20  # serialised levels bodies kept, at most
_BODIES = "heatmap_levels_bodies"


class BodyLru:
    """Serialised bodies and their ETags, least recently used first out beyond ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bytes, str] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, item: tuple[bytes, str]) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self.size += len(item[0]) - (len(old[0]) if old else 0)
            self._items[key] = item
            while self.size > self.max_bytes and len(self._items) > 1:
                self.size -= len(self._items.popitem(last=False)[1][0])


def respond(ctx: ApiContext, key: str | None, build: Callable[[], Mapping[str, Any]]) -> Response:
    """The body of ``build()``, from the levels LRU when ``key`` is given (else built, not
    kept, sent with no-cache)."""
    if key is None:
        body = dumps(build())
        return conditional(body, body_etag(body), NO_CACHE)
    bodies = current_app.extensions.setdefault(_BODIES, BodyLru(BODY_BYTES))
    hit = bodies.get(key)
    if hit is None:
        body = dumps(build())
        hit = (body, body_etag(body))
        bodies.put(key, hit)
    return conditional(hit[0], hit[1], ctx.bodies.cache_control)
