"""Pure builders of the API's response bodies: snapshot or status in, dict out; no Flask.

The best-cluster rule itself is the engine's (``heatmap_engine.best``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heatmap_engine.best import choose_best
from heatmap_engine.models import Snapshot, iso_utc

HEALTHY_STATES = ("live", "demo", "replay")


def _filters(min_strength: float, max_distance: float) -> dict[str, float]:
    return {"min_strength": min_strength, "max_distance": max_distance}


def heatmap_payload(
    symbol: str, snapshot: Snapshot | None, min_strength: float, max_distance: float, now_ms: int
) -> dict[str, Any]:
    """The seed's heatmap body; a tracked symbol without a snapshot yet gets empty clusters."""
    if snapshot is None:
        return {
            "success": True,
            "symbol": symbol,
            "current_price": None,
            "clusters": [],
            "timestamp": iso_utc(now_ms),
            "total_clusters": 0,
            "version": 0,
            "price_time": None,
            "clusters_before_filters": 0,
            "filters": _filters(min_strength, max_distance),
        }
    clusters = snapshot.filtered(min_strength, max_distance)
    body = {"success": True, **snapshot.to_dict()}
    body["clusters"] = [c.to_dict() for c in clusters]
    body["total_clusters"] = len(clusters)
    body["clusters_before_filters"] = len(snapshot.clusters)
    body["filters"] = _filters(min_strength, max_distance)
    return body


def best_payload(
    symbol: str, snapshot: Snapshot | None, min_strength: float, max_distance: float, now_ms: int
) -> dict[str, Any]:
    price = snapshot.current_price if snapshot else None
    chosen = choose_best(snapshot.clusters, min_strength, max_distance) if snapshot else None
    best = None
    reason = None
    if chosen is not None:
        cluster, score = chosen
        position = "below" if price is not None and cluster.price_level < price else "above"
        best = {**cluster.to_dict(), "score": score, "position": position}
    elif price is None:
        reason = "no current price yet, so no cluster has a known distance"
    else:
        reason = f"no cluster with strength >= {min_strength:g} within {max_distance:g}% of price"
    return {
        "success": True,
        "symbol": symbol,
        "current_price": price,
        "best": best,
        "reason": reason,
        "timestamp": iso_utc(snapshot.computed_at_ms if snapshot else now_ms),
        "version": snapshot.version if snapshot else 0,
        "filters": _filters(min_strength, max_distance),
    }


def _iso_seconds(seconds: float | None) -> str | None:
    return None if seconds is None else iso_utc(int(seconds * 1000))


# Time points in the engine's status sections, by unit; anything else (durations) is left as is.
_EPOCH_SECONDS_KEYS = frozenset({"last_frame_at", "connected_since", "last_commit_at"})
_EPOCH_MS_KEYS = frozenset({"last_refresh_ms", "last_liquidation_ms", "start_ms", "end_ms"})


def _with_iso_times(section: Any) -> Any:
    """Epoch times in a status section (nested) -> ISO 8601; ``x_ms`` keys lose the suffix."""
    if isinstance(section, list):
        return [_with_iso_times(item) for item in section]
    if not isinstance(section, Mapping):
        return section
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key in _EPOCH_SECONDS_KEYS and isinstance(value, int | float | None):
            out[key] = _iso_seconds(value)
        elif key in _EPOCH_MS_KEYS and isinstance(value, int | None):
            out[key.removesuffix("_ms")] = iso_utc(value)
        else:
            out[key] = _with_iso_times(value)
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
        "feed": _with_iso_times(feed),
        "engine": _with_iso_times(engine),
        "rest": _with_iso_times(status.get("rest") or {}),
        "history": _with_iso_times(status.get("history")),
        "parameters": dict(status.get("parameters") or {}),
        "queue_depth": status.get("queue_depth", 0),
    }


def health_verdict(
    state: str, seconds_since_last_frame: float | None, silence_seconds: float
) -> str | None:
    """None when healthy, else the reason: the feed must be live and have spoken recently."""
    if state not in HEALTHY_STATES:
        return f"feed is {state!r}, not live"
    if seconds_since_last_frame is None:
        return "no frame received from the exchange yet"
    if seconds_since_last_frame >= silence_seconds:
        return (
            f"no frame for {seconds_since_last_frame:.1f}s "
            f"(HEATMAP_FEED_SILENCE_SECONDS is {silence_seconds:g})"
        )
    return None
