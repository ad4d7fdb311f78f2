"""Read-side computations over the history store, for the API: pure apart from the reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heatmap_engine.clusters import SIDE_CODES, ClusterParams, compute_clusters
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation, Snapshot, iso_utc

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}


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


def aggregate_candles(candles: Sequence[Candle], interval: str) -> list[Candle]:
    """1-minute candles (ascending) merged into ``interval`` buckets aligned to UTC epoch."""
    step = INTERVAL_MS[interval]
    out: list[Candle] = []
    for c in candles:
        start = c.open_time_ms - c.open_time_ms % step
        last = out[-1] if out else None
        if last is None or last.open_time_ms != start:
            out.append(
                Candle(
                    c.exchange,
                    c.symbol,
                    interval,
                    start,
                    start + step - 1,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.quote_volume,
                    c.taker_buy_volume,
                    c.trades,
                    c.closed and c.close_time_ms >= start + step - 1,
                )
            )
            continue
        out[-1] = Candle(
            c.exchange,
            c.symbol,
            interval,
            start,
            start + step - 1,
            last.open,
            max(last.high, c.high),
            min(last.low, c.low),
            c.close,
            last.volume + c.volume,
            last.quote_volume + c.quote_volume,
            last.taker_buy_volume + c.taker_buy_volume,
            last.trades + c.trades,
            c.closed and c.close_time_ms >= start + step - 1,
        )
    return out


def liquidation_record(row_id: int, liq: Liquidation) -> dict:
    """One stored liquidation as the API returns it (JSON and CSV use the same fields)."""
    return {
        "id": row_id,
        "symbol": liq.symbol,
        "exchange": liq.exchange,
        "side": liq.liquidated_side,
        "price": liq.price,
        "quantity": liq.quantity,
        "notional_usd": liq.notional_usd,
        "time": iso_utc(liq.event_time_ms),
        "time_ms": liq.event_time_ms,
        "received_at": iso_utc(liq.received_at_ms),
        "status": liq.order_status,
    }
