"""The single-threaded engine core: apply events, refresh snapshots. No threads, no sockets.

``HeatmapService`` runs one of these on its engine thread; tests and replays drive it directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from heatmap_engine.buffers import DedupeWindow
from heatmap_engine.clusters import ClusterParams
from heatmap_engine.config import Settings
from heatmap_engine.exchanges.base import Event
from heatmap_engine.models import LONG, SHORT, Liquidation, MarkPrice, MarkPriceColumns, Snapshot
from heatmap_engine.state import EngineState


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    """Realized-liquidation clusters for a set of symbols.

    ``clock`` gives "now" in epoch ms for decay. With ``event_time=True`` now is instead the
    newest exchange time seen (events and prices), which is what a replay of old data needs.
    """

    def __init__(
        self,
        settings: Settings,
        symbols: Iterable[str] | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        event_time: bool = False,
    ):
        self.settings = settings
        self.params = ClusterParams(
            window_pct=settings.cluster_window_pct,
            min_cluster_size=settings.min_cluster_size,
            decay_window_ms=settings.decay_window_ms,
        )
        initial = tuple(symbols) if symbols is not None else settings.symbols
        accept_any = initial == ("all",)
        horizon = DedupeWindow.DEFAULT_HORIZON_MS + settings.event_time_max_ahead_ms
        self.state = EngineState(() if accept_any else initial, self.params, accept_any, horizon)
        self.clock = clock
        self.event_time = event_time
        self._newest_event_ms = 0
        # called with every event worth keeping (new liquidations, price samples, candles)
        self.history_sink: Callable[[Event], object] | None = None
        # when the last mark price arrived from the stream, on this machine's monotonic clock
        # (exchange times cannot tell staleness when the exchange's clock runs at demo speed)
        self.last_stream_price_at: float | None = None
        self.refreshes = 0
        self.last_refresh_ms: int | None = None
        self.last_refresh_seconds: float | None = None
        # events that raised while applied (and symbols whose refresh raised): each is counted
        # and skipped, the batch (the refresh) goes on
        self.failures = self.state.failures

    def now_ms(self) -> int:
        """Wall clock, or in event-time mode the newest exchange time seen (the wall clock
        until the first event, so nothing is stamped 1970)."""
        if self.event_time:
            return self._newest_event_ms or self.clock()
        return self.clock()

    def process(self, events: Iterable[Event]) -> None:
        """Apply a batch (one frame's events, a mark-price array ...). An event that raises is
        counted and logged once per kind; it never costs the rest of its batch. A mark-price
        array from the parser (``MarkPriceColumns``) is applied as columns. On the wall clock
        a batch's liquidations share one reading of it (the frame's)."""
        if type(events) is MarkPriceColumns:
            self._apply_marks(events)
            return
        state, now = self.state, None
        for event in events:
            try:
                if type(event) is not Liquidation:
                    self._apply(event)
                elif self.event_time:
                    self._apply_liquidation(event)
                else:  # the commonest event, without the generic dispatch
                    if now is None:
                        now = self.clock()
                    if state.apply_liquidation(event, now) and self.history_sink is not None:
                        self.history_sink(event)
            except Exception as exc:  # the loop boundary inside a batch
                self.failures.record(f"applying a {type(event).__name__}", exc)

    def _apply_liquidation(self, event: Liquidation) -> None:
        """A liquidation in event-time mode: now is the newest exchange time seen."""
        if event.event_time_ms > self._newest_event_ms:
            self._newest_event_ms = event.event_time_ms
        now = self._newest_event_ms or self.clock()
        if self.state.apply_liquidation(event, now) and self.history_sink is not None:
            self.history_sink(event)

    def _apply_marks(self, marks: MarkPriceColumns) -> None:
        """The whole array in one pass; the prices to sample go to the history as events."""
        self.last_stream_price_at = time.monotonic()
        if self.event_time and marks.times:
            self._newest_event_ms = max(self._newest_event_ms, max(marks.times))
        sampled = self.state.set_stream_prices(marks.symbols, marks.prices, marks.times)
        sink = self.history_sink
        if sink is not None:
            for i in sampled:
                try:
                    sink(MarkPrice(marks.exchange, marks.symbols[i], marks.prices[i],
                                   marks.times[i]))  # fmt: skip
                except Exception as exc:  # the loop boundary inside a batch
                    self.failures.record("applying a MarkPrice", exc)

    def _apply(self, event: Event) -> None:
        if isinstance(event, MarkPrice) and event.source == "stream":
            self.last_stream_price_at = time.monotonic()
        if self.event_time and isinstance(event, (Liquidation, MarkPrice)):
            self._newest_event_ms = max(self._newest_event_ms, event.event_time_ms)
        if self.state.apply(event, self.now_ms()) and self.history_sink is not None:
            self.history_sink(event)

    def restore_from(self, store: Any, symbols: Iterable[str], since_ms: int) -> int:
        """Rebuild the window from a history store (bulk, per symbol) and carry counts on."""
        restored = 0
        for symbol in symbols:
            rows = store.window_rows(symbol, since_ms)
            if rows and self.event_time:
                self._newest_event_ms = max(self._newest_event_ms, rows[-1][0])
            restored += self.state.restore_rows(symbol, rows, self.now_ms())
        self.state.carry_totals(store.totals())
        return restored

    def refresh(self, now_ms: int | None = None) -> int:
        started = time.perf_counter()
        now = self.now_ms() if now_ms is None else now_ms
        changed = self.state.refresh(now)
        self.refreshes += 1
        self.last_refresh_ms = now
        self.last_refresh_seconds = time.perf_counter() - started
        return changed

    def set_symbols(self, symbols: Iterable[str]) -> None:
        self.state.set_symbols(symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.state.symbols

    def snapshot(self, symbol: str) -> Snapshot | None:
        return self.state.snapshot(symbol)

    def snapshots(self) -> dict[str, Snapshot]:
        return self.state.snapshots()

    def status(self) -> dict[str, Any]:
        """Any thread: copies of the counters and the published snapshots."""
        state = self.state
        counters, notional = state.counts()
        snapshots = state.snapshots()
        by_side = {
            side: {
                "count": counters.get(f"liquidations_{side}", 0),
                "notional_usd": notional.get(f"liquidations_{side}", 0.0),
            }
            for side in (LONG, SHORT)
        }
        skipped = {
            key.removeprefix("skipped_"): {
                "count": count,
                "notional_usd": notional.get(key, 0.0),
            }
            for key, count in counters.items()
            if key.startswith("skipped_")
        }
        return {
            "liquidations": counters.get("liquidations", 0),
            "liquidations_notional_usd": notional.get("liquidations", 0.0),
            "by_side": by_side,
            "duplicates": counters.get("duplicates", 0),
            "untracked_symbol": counters.get("untracked_symbol", 0),
            "older_than_window": counters.get("older_than_window", 0),
            "skipped": skipped,
            "mark_prices": {
                "stream": counters.get("prices_stream", 0),
                "rest": counters.get("prices_rest", 0),
                "symbols_priced": len(state.prices),
            },
            "events_held": state.events_held(),
            "evicted": counters.get("evicted", 0),
            "refreshes": self.refreshes,
            "last_refresh_ms": self.last_refresh_ms,
            "last_refresh_duration_ms": (
                None if self.last_refresh_seconds is None else self.last_refresh_seconds * 1000
            ),
            "clusters": {
                LONG: sum(s.long_clusters for s in snapshots.values()),
                SHORT: sum(s.short_clusters for s in snapshots.values()),
            },
            "last_liquidation_ms": state.last_liquidation_ms,
            "failed_events": self.failures.as_dict(),
        }
