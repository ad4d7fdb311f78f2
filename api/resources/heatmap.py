"""``/api/heatmap/{symbol}`` (live, or with ``at`` from the history store) and ``.../best``.

Live bodies are serialised once per snapshot version and parameters (``api.caching``); a past
heatmap is recomputed from the store for each request and not kept. The best-cluster rule is the
engine's (``heatmap_engine.best``); this module only shapes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from flask import Response, request
from pydantic import BaseModel, Field

from api.caching import NO_CACHE, conditional_bytes
from api.context import ApiContext, history_store
from api.envelope import ApiError, dumps
from api.operations import Operation, Reply, Resource
from api.query import Number, Query
from api.schemas import CACHE_HEADERS, Count, IsoTime, NonNegative, Side, snapshot_replies
from api.times import Time, time_doc
from heatmap_engine import models
from heatmap_engine.best import (
    BEST_DEFAULT_MIN_STRENGTH,
    DEFAULT_MAX_DISTANCE_PCT,
    DEFAULT_MIN_STRENGTH,
    choose_best,
)
from heatmap_engine.history.past_heatmap import heatmap_at
from heatmap_engine.models import iso_utc

# The eight cluster fields the seed documents; the API always sends them.
SEED_CLUSTER_FIELDS = ("price_level", "side", "liquidation_count", "total_notional", "strength",
                       "distance_from_price", "cluster_id", "last_updated")  # fmt: skip
_STRENGTH = "strength (0-1; the symbol's strongest cluster is 1)"
_DISTANCE = "distance of the current price, in percent"


class HeatmapQuery(Query):
    min_strength: Number = Field(
        DEFAULT_MIN_STRENGTH, ge=0, le=1,
        description=f"Keep clusters whose {_STRENGTH} is at least this.",
    )  # fmt: skip
    max_distance: Number = Field(
        DEFAULT_MAX_DISTANCE_PCT, gt=0,
        description=f"Keep clusters within this {_DISTANCE}. While no price is known a "
        "cluster's distance is unknown and this filter keeps it.",
    )  # fmt: skip
    at: Time | None = Field(
        None,
        description=time_doc(
            "Show the clusters as they stood at this past time, computed from the history store "
            "(the decay window before it, weighed at that instant, against the last stored mark "
            "price at or before it). Without it: the live heatmap.",
            "the live heatmap",
        ),
    )


class BestQuery(Query):
    min_strength: Number = Field(
        BEST_DEFAULT_MIN_STRENGTH, ge=0, le=1,
        description="Only clusters at least this strong can be the best one.",
    )  # fmt: skip
    max_distance: Number = Field(
        DEFAULT_MAX_DISTANCE_PCT, gt=0,
        description="Only clusters within this distance of the current price, in percent, can "
        "be the best one.",
    )  # fmt: skip


class Cluster(BaseModel):
    price_level: float = Field(
        description="Decay- and notional-weighted mean price of the cluster's liquidations."
    )
    side: Side
    liquidation_count: int = Field(
        ge=1, description="Liquidations in the cluster within the decay window."
    )
    total_notional: NonNegative = Field(description="Their USD notional, undecayed.")
    strength: float = Field(
        ge=0, le=1, description="weighted_notional / the symbol's largest; 1 = strongest."
    )
    distance_from_price: NonNegative | None = Field(
        description="|price_level - current_price| / current_price, in percent; null while no "
        "price is known."
    )
    cluster_id: int = Field(description="Stable id of the (price cell, side).")
    last_updated: IsoTime = Field(description="Trade time of the cluster's newest liquidation.")
    weighted_notional: NonNegative = Field(None, description="Sum of decay weight x USD notional.")
    price_low: float = Field(None, description="Lower edge of the cluster's price cell.")
    price_high: float = Field(None, description="Upper edge of the cluster's price cell.")


class BestCluster(Cluster):
    score: NonNegative = Field(description="strength / (1 + distance_from_price).")
    position: Literal["above", "below"]


class Filters(BaseModel):
    min_strength: float = Field(description="Applied.")
    max_distance: float = Field(description="Applied, percent.")


class Heatmap(BaseModel):
    success: Literal[True]
    symbol: str = Field(description="The resolved contract, e.g. 1000PEPEUSDT.")
    current_price: float | None = Field(description="Mark price; null until one has been received.")
    clusters: list[Cluster]
    timestamp: IsoTime = Field(
        description="When the snapshot was computed (now, if there is none yet)."
    )
    total_clusters: Count = Field(description="Clusters in this response (after the filters).")
    version: Count = Field(description="Snapshot version of this symbol; 0 while there is none.")
    filters: Filters
    price_time: IsoTime | None = Field(None, description="Time of the mark price.")
    clusters_before_filters: Count = Field(
        None, description="Clusters of the symbol before the filters."
    )
    events_in_window: Count = Field(None, description="Liquidations in the decay window.")
    notional_in_window: NonNegative = Field(None, description="Their USD notional.")
    window_minutes: NonNegative = Field(None, description="The decay window T, minutes.")
    min_cluster_size: Count = Field(None, description="Liquidations needed for a cluster.")
    at: IsoTime = Field(None, description="Only on a past heatmap (requested with at): the "
                        "time it shows; timestamp equals it and version is 0.")  # fmt: skip


class Best(BaseModel):
    success: Literal[True]
    symbol: str
    current_price: float | None = Field(description="Mark price; null until one has been received.")
    best: BestCluster | None = Field(
        description="The best cluster (see the API description), or null when none qualifies."
    )
    timestamp: IsoTime = Field(description="When the snapshot was computed.")
    filters: Filters
    reason: str | None = Field(None, description="Why best is null.")
    version: Count = Field(None, description="Snapshot version; 0 while there is none.")


def cluster_fields(cluster: models.Cluster) -> dict[str, Any]:
    return {
        "price_level": cluster.price_level,
        "side": cluster.side,
        "liquidation_count": cluster.liquidation_count,
        "total_notional": cluster.total_notional,
        "strength": cluster.strength,
        "distance_from_price": cluster.distance_from_price,
        "cluster_id": cluster.cluster_id,
        "last_updated": iso_utc(cluster.last_updated_ms),
        "weighted_notional": cluster.weighted_notional,
        "price_low": cluster.price_low,
        "price_high": cluster.price_high,
    }


def _filters(min_strength: float, max_distance: float) -> dict[str, float]:
    return {"min_strength": min_strength, "max_distance": max_distance}


def heatmap_payload(
    symbol: str, snapshot: models.Snapshot | None, min_strength: float, max_distance: float,
    now_ms: int,
) -> dict[str, Any]:  # fmt: skip
    """The seed's heatmap body; a tracked symbol without a snapshot yet gets empty clusters."""
    body: dict[str, Any] = {"success": True, "symbol": symbol, "version": 0,
                            "current_price": None, "price_time": None, "clusters": [],
                            "timestamp": iso_utc(now_ms), "total_clusters": 0,
                            "clusters_before_filters": 0}  # fmt: skip
    if snapshot is not None:
        clusters = snapshot.filtered(min_strength, max_distance)
        body.update(
            version=snapshot.version, current_price=snapshot.current_price,
            price_time=iso_utc(snapshot.price_time_ms), timestamp=iso_utc(snapshot.computed_at_ms),
            clusters=[cluster_fields(c) for c in clusters], total_clusters=len(clusters),
            clusters_before_filters=len(snapshot.clusters),
            events_in_window=snapshot.events_in_window,
            notional_in_window=snapshot.notional_in_window,
            window_minutes=snapshot.window_minutes, min_cluster_size=snapshot.min_cluster_size,
        )  # fmt: skip
    body["filters"] = _filters(min_strength, max_distance)
    return body


def best_payload(
    symbol: str, snapshot: models.Snapshot | None, min_strength: float, max_distance: float,
    now_ms: int,
) -> dict[str, Any]:  # fmt: skip
    price = snapshot.current_price if snapshot else None
    chosen = choose_best(snapshot.clusters, min_strength, max_distance) if snapshot else None
    best = reason = None
    if chosen is not None:
        cluster, score = chosen
        position = "below" if price is not None and cluster.price_level < price else "above"
        best = {**cluster_fields(cluster), "score": score, "position": position}
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


def _from_snapshot(
    ctx: ApiContext, symbol: str, query: HeatmapQuery | BestQuery, build: Callable[..., dict],
    route: str,
) -> Response:  # fmt: skip
    """Answer from the body cache, keyed by the snapshot's version and the filters."""
    low, far = query.min_strength, query.max_distance
    snapshot = ctx.service.snapshot(symbol)
    if snapshot is None:  # tracked, but no refresh yet: not an error, and nothing to cache
        return ctx.bodies.uncached(build(symbol, None, low, far, ctx.clock_ms()))
    key = f"{route}:{symbol}:{snapshot.version}:{snapshot.computed_at_ms}:{low!r}:{far!r}"
    return ctx.bodies.respond(
        key, lambda: build(symbol, snapshot, low, far, snapshot.computed_at_ms)
    )


def _past(ctx: ApiContext, symbol: str, query: HeatmapQuery, at_ms: int) -> Response:
    """The live heatmap's body of the heatmap recomputed from the store at ``at``, + ``at``."""
    now_ms = ctx.clock_ms()
    if at_ms > now_ms:
        raise ApiError(
            400,
            f"at={request.args.get('at')!r} is in the future (now is {iso_utc(now_ms)}); for the "
            f"heatmap of now leave at out: GET /api/heatmap/{symbol}",
        )
    snapshot = heatmap_at(history_store(ctx), symbol, at_ms, ctx.service.engine.params)
    body = heatmap_payload(symbol, snapshot, query.min_strength, query.max_distance, at_ms)
    body["at"] = iso_utc(snapshot.computed_at_ms)
    return conditional_bytes(dumps(body), NO_CACHE)


def heatmap(ctx: ApiContext, query: HeatmapQuery, symbol: str) -> Response:
    """The live heatmap, or with ``at`` the heatmap as it stood then (from the history store)."""
    if query.at is not None:
        return _past(ctx, symbol, query, query.at)
    return _from_snapshot(ctx, symbol, query, heatmap_payload, "heatmap")


def best(ctx: ApiContext, query: BestQuery, symbol: str) -> Response:
    return _from_snapshot(ctx, symbol, query, best_payload, "best")


RESOURCE = Resource("heatmap", (
    Operation("/api/heatmap/<symbol>", heatmap,
              "Liquidation clusters of a symbol, live or at a past time",
              snapshot_replies(Reply("Liquidation clusters of a symbol, live or at a past time",
                                     Heatmap, CACHE_HEADERS), history=True),
              HeatmapQuery, revalidates=True),
    Operation("/api/heatmap/<symbol>/best", best, "The best cluster for trading",
              snapshot_replies(Reply("The best cluster for trading", Best, CACHE_HEADERS)),
              BestQuery, revalidates=True),
))  # fmt: skip
