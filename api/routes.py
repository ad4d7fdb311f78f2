"""The JSON routes. Views are thin: resolve, validate, take a snapshot, call a payload builder.

The views of the stored history (liquidations, candles, open interest, the heatmap at a past
time) are in ``api.history_routes``; what every view reads is in ``api.context``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from api.context import EXTENSION, ApiContext, current_context, resolve_symbol
from api.envelope import NO_STORE, error, is_api_path, success
from api.history_params import AT
from api.history_routes import add_history_routes, heatmap_at_view
from api.openapi import DOCS_BLUEPRINT
from api.params import BEST_PARAMS, HEATMAP_PARAMS, NumberParam, parse_all
from api.payloads import best_payload, health_verdict, heatmap_payload, stats_payload

__all__ = ["API_BLUEPRINT", "EXTENSION", "ApiContext", "create_blueprint", "reject_foreign_routes"]

API_BLUEPRINT = "api"
BLUEPRINTS = (API_BLUEPRINT, DOCS_BLUEPRINT)


def symbols() -> Response:
    ctx = current_context()
    contracts = ctx.service.symbols
    key = f"symbols:{len(contracts)}:{hash(contracts)}"
    return ctx.bodies.respond(
        key, lambda: {"success": True, "symbols": list(contracts), "count": len(contracts)}
    )


def _snapshot_view(
    symbol: str, params: tuple[NumberParam, ...], build: Callable[..., dict], route: str
) -> Response:
    """Resolve, validate, then answer from the body cache keyed by the snapshot's version."""
    ctx = current_context()
    contract = resolve_symbol(ctx, symbol)
    values = parse_all(params, request.args)
    low, far = values["min_strength"], values["max_distance"]
    snapshot = ctx.service.snapshot(contract)
    if snapshot is None:  # tracked, but no refresh yet: not an error, and nothing to cache
        return ctx.bodies.uncached(build(contract, None, low, far, ctx.clock_ms()))
    key = f"{route}:{contract}:{snapshot.version}:{snapshot.computed_at_ms}:{low!r}:{far!r}"
    return ctx.bodies.respond(
        key, lambda: build(contract, snapshot, low, far, snapshot.computed_at_ms)
    )


def heatmap(symbol: str) -> Response:
    """The live heatmap, or with ``at`` the heatmap as it stood then (from the history store)."""
    if AT.name in request.args:
        return heatmap_at_view(symbol)
    return _snapshot_view(symbol, HEATMAP_PARAMS, heatmap_payload, "heatmap")


def best(symbol: str) -> Response:
    return _snapshot_view(symbol, BEST_PARAMS, best_payload, "best")


def stats() -> Response:
    ctx = current_context()
    payload = stats_payload(ctx.service.status(), ctx.clock_ms())
    return success(payload, {"Cache-Control": NO_STORE})


def health() -> Response:
    ctx = current_context()
    service = ctx.service
    state = service.feed_state()
    feed = service.source.status() if service.source is not None else {}
    since = feed.get("seconds_since_last_frame")
    uptime = (time.time() - service.started_at) if service.started_at else 0.0
    reasons = [health_verdict(state, since, service.settings.feed_silence_seconds)]
    reason = "; ".join(r for r in [*reasons, *service.problems()] if r) or None
    fields = {"state": state, "seconds_since_last_frame": since, "uptime_seconds": uptime}
    if reason is not None:
        return error(503, reason, **fields)
    return success({"status": "ok", **fields}, {"Cache-Control": NO_STORE})


def reject_foreign_routes() -> None:
    """``before_request``: under /api/ and /docs only our routes answer. Dash routes every other
    GET (``/<path:path>``) to its index page, which must not answer ``/api/typo`` with HTML."""
    if (
        request.routing_exception is None
        and request.blueprint not in BLUEPRINTS
        and is_api_path(request.path)
    ):
        raise NotFound()


def create_blueprint() -> Blueprint:
    """A fresh blueprint (Flask forbids changing one after its first registration)."""
    bp = Blueprint(API_BLUEPRINT, __name__)
    bp.add_url_rule("/api/symbols", view_func=symbols)
    bp.add_url_rule("/api/heatmap/<symbol>", view_func=heatmap)
    bp.add_url_rule("/api/heatmap/<symbol>/best", view_func=best)
    bp.add_url_rule("/api/stats", view_func=stats)
    bp.add_url_rule("/api/health", view_func=health)
    add_history_routes(bp)
    return bp
