"""JSON Schemas (OpenAPI 3.0 dialect) of every response body.

Required fields are the contract (the seed's fields plus what the README promises); extra
fields are allowed, so the engine can add to a snapshot without breaking the spec. The test suite
validates real responses against these and fuzzes the API with schemathesis, so they cannot
drift from what the server sends.
"""

from __future__ import annotations

from typing import Any

# The eight cluster fields the seed documents; the API must always send them.
SEED_CLUSTER_FIELDS = (
    "price_level",
    "side",
    "liquidation_count",
    "total_notional",
    "strength",
    "distance_from_price",
    "cluster_id",
    "last_updated",
)


def _num(description: str, nullable: bool = False, minimum: float | None = None) -> dict:
    schema: dict[str, Any] = {"type": "number", "description": description}
    if nullable:
        schema["nullable"] = True
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def _int(description: str, minimum: int | None = 0) -> dict:
    schema: dict[str, Any] = {"type": "integer", "description": description}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def _time(description: str, nullable: bool = False) -> dict:
    schema: dict[str, Any] = {"type": "string", "format": "date-time", "description": description}
    if nullable:
        schema["nullable"] = True
    return schema


TRUE = {"type": "boolean", "enum": [True]}
FALSE = {"type": "boolean", "enum": [False]}
SIDE = {
    "type": "string",
    "enum": ["long", "short"],
    "description": "Whose positions were liquidated: long (sell orders) or short (buy orders).",
}
FILTERS = {
    "type": "object",
    "required": ["min_strength", "max_distance"],
    "properties": {"min_strength": _num("Applied."), "max_distance": _num("Applied, percent.")},
}

CLUSTER_PROPERTIES: dict[str, Any] = {
    "price_level": _num("Decay- and notional-weighted mean price of the cluster's liquidations."),
    "side": SIDE,
    "liquidation_count": _int("Liquidations in the cluster within the decay window.", 1),
    "total_notional": _num("Their USD notional, undecayed.", minimum=0),
    "strength": {
        **_num("weighted_notional / the symbol's largest; 1 = strongest."),
        "minimum": 0,
        "maximum": 1,
    },
    "distance_from_price": _num(
        "|price_level - current_price| / current_price, in percent; null while no price is known.",
        nullable=True,
        minimum=0,
    ),
    "cluster_id": _int("Stable id of the (price cell, side).", None),
    "last_updated": _time("Trade time of the cluster's newest liquidation."),
    "weighted_notional": _num("Sum of decay weight x USD notional.", minimum=0),
    "price_low": _num("Lower edge of the cluster's price cell."),
    "price_high": _num("Upper edge of the cluster's price cell."),
}
CLUSTER = {
    "type": "object",
    "required": list(SEED_CLUSTER_FIELDS),
    "properties": CLUSTER_PROPERTIES,
}

BEST_CLUSTER = {
    "type": "object",
    "nullable": True,
    "description": "The best cluster (see the API description), or null when none qualifies.",
    "required": [*SEED_CLUSTER_FIELDS, "score", "position"],
    "properties": {
        **CLUSTER_PROPERTIES,
        "score": _num("strength / (1 + distance_from_price).", minimum=0),
        "position": {"type": "string", "enum": ["above", "below"]},
    },
}

HEATMAP = {
    "type": "object",
    "required": [
        "success",
        "symbol",
        "current_price",
        "clusters",
        "timestamp",
        "total_clusters",
        "version",
        "filters",
    ],
    "properties": {
        "success": TRUE,
        "symbol": {"type": "string", "description": "The resolved contract, e.g. 1000PEPEUSDT."},
        "current_price": _num("Mark price; null until one has been received.", nullable=True),
        "clusters": {"type": "array", "items": {"$ref": "#/components/schemas/Cluster"}},
        "timestamp": _time("When the snapshot was computed (now, if there is none yet)."),
        "total_clusters": _int("Clusters in this response (after the filters)."),
        "version": _int("Snapshot version of this symbol; 0 while there is none."),
        "price_time": _time("Time of the mark price.", nullable=True),
        "clusters_before_filters": _int("Clusters of the symbol before the filters."),
        "filters": FILTERS,
        "at": _time(
            "Only on a past heatmap (requested with at): the time it shows; timestamp equals "
            "it and version is 0."
        ),
    },
}

BEST = {
    "type": "object",
    "required": ["success", "symbol", "current_price", "best", "timestamp", "filters"],
    "properties": {
        "success": TRUE,
        "symbol": {"type": "string"},
        "current_price": _num("Mark price; null until one has been received.", nullable=True),
        "best": {"$ref": "#/components/schemas/BestCluster"},
        "reason": {"type": "string", "nullable": True, "description": "Why best is null."},
        "timestamp": _time("When the snapshot was computed."),
        "version": _int("Snapshot version; 0 while there is none."),
        "filters": FILTERS,
    },
}

SYMBOLS = {
    "type": "object",
    "required": ["success", "symbols", "count"],
    "properties": {
        "success": TRUE,
        "symbols": {"type": "array", "items": {"type": "string"}},
        "count": _int("Number of tracked contracts."),
    },
}

SIDE_TOTAL = {
    "type": "object",
    "required": ["count", "notional_usd"],
    "properties": {"count": _int("Liquidations."), "notional_usd": _num("Their USD notional.")},
}
OBJECT = {"type": "object"}

STATS = {
    "type": "object",
    "required": ["success", "timestamp", "connection_state", "uptime_seconds", "symbols_tracked",
                 "liquidations", "parse_errors", "reconnects", "seconds_since_last_frame",
                 "clusters"],
    "properties": {
        "success": TRUE,
        "timestamp": _time("Now."),
        "mode": {"type": "string", "nullable": True, "description": "live, demo or replay."},
        "connection_state": {"type": "string", "description": "Feed state, e.g. live."},
        "uptime_seconds": _num("Since the engine started.", minimum=0),
        "symbols_tracked": _int("Contracts tracked."),
        "liquidations": {
            "type": "object",
            "required": ["total", "notional_usd", "long", "short"],
            "properties": {"total": _int("Since start, deduplicated."),
                           "notional_usd": _num("Their USD notional."),
                           "long": SIDE_TOTAL, "short": SIDE_TOTAL},
        },
        "parse_errors": {"type": "object", "additionalProperties": {"type": "integer"},
                         "description": "Frames or parts the parser rejected, by reason."},
        "parse_errors_total": _int("Sum of parse_errors."),
        "frames": _int("Frames received."),
        "reconnects": _int("Reconnections of the exchange socket."),
        "seconds_since_last_frame": _num("Null before the first frame.", nullable=True),
        "last_frame_at": _time("Receive time of the last frame.", nullable=True),
        "last_liquidation_at": _time("Trade time of the newest liquidation.", nullable=True),
        "clusters": {
            "type": "object",
            "required": ["long", "short", "total"],
            "properties": {"long": _int("Long clusters, all symbols."),
                           "short": _int("Short clusters, all symbols."),
                           "total": _int("Both sides.")},
        },
        "feed": OBJECT, "engine": OBJECT, "rest": OBJECT, "parameters": OBJECT,
        "history": {"type": "object", "nullable": True,
                    "description": "The durable history store, or null when it is off."},
        "queue_depth": _int("Events waiting for the engine thread."),
    },
}  # fmt: skip

HEALTH = {
    "type": "object",
    "required": ["success", "status", "state", "seconds_since_last_frame"],
    "properties": {
        "success": TRUE,
        "status": {"type": "string", "enum": ["ok"]},
        "state": {"type": "string"},
        "seconds_since_last_frame": _num("Since the last exchange frame.", nullable=True),
        "uptime_seconds": _num("Since the engine started.", minimum=0),
    },
}

ERROR = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": FALSE,
        "error": {"type": "string", "description": "What was wrong and what is allowed."},
    },
}

HEALTH_ERROR = {
    "type": "object",
    "required": ["success", "error", "state"],
    "properties": {**ERROR["properties"], "state": {"type": "string"}},
}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Cluster": CLUSTER,
    "BestCluster": BEST_CLUSTER,
    "Heatmap": HEATMAP,
    "Best": BEST,
    "Symbols": SYMBOLS,
    "Stats": STATS,
    "Health": HEALTH,
    "Error": ERROR,
    "HealthError": HEALTH_ERROR,
}
