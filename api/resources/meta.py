"""About the server itself: ``/api/symbols``, ``/api/stats``, ``/api/health`` and the spec
(``/api/openapi.json``; Swagger UI at ``/docs`` is mounted by ``api.spec.register_docs``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel, Field

from api.context import ApiContext
from api.envelope import NO_STORE, dumps, error, raw_response, success
from api.operations import Operation, Reply, Resource
from api.schemas import CACHE_HEADERS, NOT_MODIFIED, RATE_LIMITED, Count, IsoTime, NonNegative
from api.spec import SPEC_PATH, build_spec
from heatmap_engine.models import iso_utc

HEALTHY_STATES = ("live", "demo", "replay")
# Time points in the engine's status sections, by unit; anything else (durations) is left as is.
_EPOCH_SECONDS_KEYS = frozenset(
    {"last_frame_at", "last_data_at", "connected_since", "last_commit_at"}
)
_EPOCH_MS_KEYS = frozenset({"last_refresh_ms", "last_liquidation_ms", "start_ms", "end_ms"})


class Symbols(BaseModel):
    success: Literal[True]
    symbols: list[str]
    count: Count = Field(description="Number of tracked contracts.")


class SideTotal(BaseModel):
    count: Count = Field(description="Liquidations.")
    notional_usd: float = Field(description="Their USD notional.")


class LiquidationTotals(BaseModel):
    total: Count = Field(description="Since start, deduplicated.")
    notional_usd: float = Field(description="Their USD notional.")
    long: SideTotal
    short: SideTotal


class ClusterCounts(BaseModel):
    long: Count = Field(description="Long clusters, all symbols.")
    short: Count = Field(description="Short clusters, all symbols.")
    total: Count = Field(description="Both sides.")


class Stats(BaseModel):
    success: Literal[True]
    timestamp: IsoTime = Field(description="Now.")
    connection_state: str = Field(description="Feed state, e.g. live.")
    uptime_seconds: NonNegative = Field(description="Since the engine started.")
    symbols_tracked: Count = Field(description="Contracts tracked.")
    liquidations: LiquidationTotals
    parse_errors: dict[str, int] = Field(
        description="Frames or parts the parser rejected, by reason."
    )
    reconnects: Count = Field(description="Reconnections of the exchange socket.")
    seconds_since_last_frame: float | None = Field(description="Null before the first frame.")
    clusters: ClusterCounts
    mode: str | None = Field(None, description="live, demo or replay.")
    parse_errors_total: Count = Field(None, description="Sum of parse_errors.")
    frames: Count = Field(None, description="Frames received.")
    last_frame_at: IsoTime | None = Field(None, description="Receive time of the last frame.")
    last_liquidation_at: IsoTime | None = Field(
        None, description="Trade time of the newest liquidation."
    )
    feed: dict[str, Any] = Field(None, description="The feed's status (public fields).")
    engine: dict[str, Any] = Field(None, description="The engine's status.")
    rest: dict[str, Any] = Field(None, description="The REST client's status.")
    parameters: dict[str, Any] = Field(None, description="The clustering parameters.")
    history: dict[str, Any] | None = Field(
        None, description="The durable history store, or null when it is off."
    )
    queue_depth: Count = Field(None, description="Events waiting for the engine thread.")
    history_state: Literal["rebuilding", "ready"] | None = Field(
        None,
        description="rebuilding while start-up still loads stored history, then ready;"
        " null when history is off.",
    )


class Health(BaseModel):
    success: Literal[True]
    status: Literal["ok"]
    state: str
    seconds_since_last_frame: float | None = Field(description="Since the last exchange frame.")
    uptime_seconds: NonNegative = Field(None, description="Since the engine started.")
    history: Literal["rebuilding", "ready"] | None = Field(
        None,
        description="rebuilding while start-up still loads stored history (the service"
        " answers meanwhile), then ready; null when history is off.",
    )


class HealthError(BaseModel):
    success: Literal[False]
    error: str = Field(description="What was wrong and what is allowed.")
    state: str
    history: Literal["rebuilding", "ready"] | None = Field(
        None, description="As in the healthy answer."
    )


def _iso_seconds(seconds: float | None) -> str | None:
    return None if seconds is None else iso_utc(int(seconds * 1000))


def with_iso_times(section: Any) -> Any:
    """Epoch times in a status section (nested) -> ISO 8601; ``x_ms`` keys lose the suffix."""
    if isinstance(section, list):
        return [with_iso_times(item) for item in section]
    if not isinstance(section, Mapping):
        return section
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key in _EPOCH_SECONDS_KEYS and isinstance(value, int | float | None):
            out[key] = _iso_seconds(value)
        elif key in _EPOCH_MS_KEYS and isinstance(value, int | None):
            out[key.removesuffix("_ms")] = iso_utc(value)
        else:
            out[key] = with_iso_times(value)
    return out


def stats_payload(status: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """Overall statistics from ``HeatmapService.status()``: curated numbers, then the details."""
    feed = status.get("feed") or {}
    engine = status.get("engine") or {}
    by_side = engine.get("by_side") or {}
    clusters = engine.get("clusters") or {}
    empty_side = {"count": 0, "notional_usd": 0.0}
    return {
        "success": True,
        "timestamp": iso_utc(now_ms),
        "mode": status.get("mode"),
        "connection_state": status.get("state", "idle"),
        "uptime_seconds": status.get("uptime_seconds", 0.0),
        "symbols_tracked": status.get("symbols_tracked", 0),
        "liquidations": {
            "total": engine.get("liquidations", 0),
            "notional_usd": engine.get("liquidations_notional_usd", 0.0),
            "long": by_side.get("long", empty_side),
            "short": by_side.get("short", empty_side),
        },
        "parse_errors": feed.get("parse_errors", {}),
        "parse_errors_total": feed.get("parse_errors_total", 0),
        "frames": feed.get("frames", 0),
        "reconnects": feed.get("reconnects", 0),
        "seconds_since_last_frame": feed.get("seconds_since_last_frame"),
        "last_frame_at": _iso_seconds(feed.get("last_frame_at")),
        "last_liquidation_at": iso_utc(engine.get("last_liquidation_ms")),
        "clusters": {
            "long": clusters.get("long", 0),
            "short": clusters.get("short", 0),
            "total": clusters.get("long", 0) + clusters.get("short", 0),
        },
        "feed": with_iso_times(feed),
        "engine": with_iso_times(engine),
        "rest": with_iso_times(status.get("rest") or {}),
        "history": with_iso_times(status.get("history")),
        "parameters": dict(status.get("parameters") or {}),
        "queue_depth": status.get("queue_depth", 0),
        "history_state": (status.get("history") or {}).get("state"),
    }


def feed_verdict(state: str, feed: Mapping[str, Any], silence_seconds: float) -> str | None:
    """None when healthy, else the reason: the feed must be live and have spoken recently. The
    reason the feed knows (its last disconnect, the next retry) is said in its words."""
    since = feed.get("seconds_since_last_frame")
    if state not in HEALTHY_STATES:
        why = feed.get("last_disconnect_reason")
        retry = feed.get("next_retry_in")
        because = f" ({why})" if why else ""
        then = f"; next retry in {retry:.0f} s" if isinstance(retry, int | float) else ""
        return f"feed is {state!r}{because}, not live{then}"
    if since is None:
        return "no frame received from the exchange yet"
    if since >= silence_seconds:
        return f"no frame for {since:.1f}s (HEATMAP_FEED_SILENCE_SECONDS is {silence_seconds:g})"
    return None


def symbols(ctx: ApiContext, query: object) -> Response:
    contracts = ctx.service.symbols
    key = f"symbols:{len(contracts)}:{hash(contracts)}"
    return ctx.bodies.respond(
        key, lambda: {"success": True, "symbols": list(contracts), "count": len(contracts)}
    )


def stats(ctx: ApiContext, query: object) -> Response:
    payload = ctx.public(stats_payload(ctx.service.status(), ctx.clock_ms()))
    return success(payload, {"Cache-Control": NO_STORE})


def health(ctx: ApiContext, query: object) -> Response:
    service = ctx.service
    state = service.feed_state()
    feed = service.source.status() if service.source is not None else {}
    since = feed.get("seconds_since_last_frame")
    uptime = (time.time() - service.started_at) if service.started_at else 0.0
    verdict = feed_verdict(state, feed, service.settings.feed_silence_seconds)
    reason = "; ".join(r for r in [verdict, *service.problems()] if r) or None
    fields = {"state": state, "seconds_since_last_frame": since, "uptime_seconds": uptime}
    if service.history_state is not None:  # "rebuilding" is healthy: the service answers
        fields["history"] = service.history_state
    if reason is not None:
        return error(503, reason, **fields)
    return success({"status": "ok", **fields}, {"Cache-Control": NO_STORE})


def _resources() -> tuple[Resource, ...]:
    from api import RESOURCES  # the spec documents every resource, this one included

    return RESOURCES


@cache
def spec_document() -> dict[str, Any]:
    """The OpenAPI document of every resource; built once per process."""
    return build_spec(_resources())


@cache
def _spec_body() -> bytes:
    return dumps(spec_document())


def openapi_json(ctx: ApiContext, query: object) -> Response:
    return raw_response(_spec_body(), 200, {"Cache-Control": "public, max-age=300"})


RESOURCE = Resource("meta", (
    Operation("/api/symbols", symbols, "Tracked contracts",
              {200: Reply("Tracked contracts.", Symbols, CACHE_HEADERS),
               304: Reply(NOT_MODIFIED, headers=CACHE_HEADERS), 429: RATE_LIMITED},
              revalidates=True),
    Operation("/api/stats", stats, "Overall statistics",
              {200: Reply("Feed, engine and cluster statistics.", Stats), 429: RATE_LIMITED}),
    Operation("/api/health", health,
              "Health for load balancers and watchdogs (never rate limited)",
              {200: Reply("The feed is live and recent.", Health),
               503: Reply("The feed is not live, or silent; error says why.", HealthError)},
              rate_limited=False),
    Operation(SPEC_PATH, openapi_json, "The OpenAPI document", {}, documented=False),
))  # fmt: skip
