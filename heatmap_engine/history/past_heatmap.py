"""The realized heatmap of a past time, computed from the history store (the API's ``at``)."""

from __future__ import annotations

import numpy as np

from heatmap_engine.clusters import SIDE_CODES, ClusterParams, compute_clusters
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Snapshot


def heatmap_at(store: SqliteStore, symbol: str, at_ms: int, params: ClusterParams) -> Snapshot:
    """The clusters as they stood at ``at_ms``: the stored liquidations of the decay window
    before it, weighed at that instant, against the last stored mark price at or before it."""
    events = store.window(symbol, at_ms - params.decay_window_ms + 1, at_ms)
    price = store.mark_price_at(symbol, at_ms)
    times = np.fromiter((e.event_time_ms for e in events), dtype=np.int64, count=len(events))
    prices = np.fromiter((e.price for e in events), dtype=np.float64, count=len(events))
    notionals = np.fromiter((e.notional_usd for e in events), dtype=np.float64, count=len(events))
    sides = np.fromiter(
        (SIDE_CODES[e.liquidated_side] for e in events), dtype=np.int8, count=len(events)
    )
    current = price[0] if price else None
    clusters = compute_clusters(times, prices, notionals, sides, at_ms, current, params)
    return Snapshot(
        symbol=symbol,
        version=0,
        computed_at_ms=at_ms,
        current_price=current,
        price_time_ms=price[1] if price else None,
        clusters=clusters,
        events_in_window=len(events),
        notional_in_window=float(notionals.sum()) if events else 0.0,
        window_minutes=params.decay_window_ms / 60_000,
        min_cluster_size=params.min_cluster_size,
    )
