"""The engine's only mutable state: bounded per-symbol event buffers, prices, counters, snapshots.

Only the engine thread calls the mutating methods. Readers call ``snapshot()`` / ``snapshots()``
and ``recent_candles()``: immutable objects from dicts that the engine thread replaces whole,
never edits; candles are compact per-symbol tables (``heatmap_engine.candle_book``) published
at each refresh, shown to readers as ``Candle`` tuples built when first asked for.
``events_held()`` is a count the engine keeps (never a scan of the buffers), and
``counts()`` copies the counters in C-level steps with no switch point between them (merging
dicts of string keys runs no Python code, so it holds the GIL throughout): no reader iterates
what the engine changes.
Snapshots carry the published precision (``heatmap_engine.precision``), and a symbol's snapshot
is replaced (its ``version`` moves) only when a published value changed.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from heatmap_engine.buffers import DedupeWindow, EventBuffer
from heatmap_engine.candle_book import CandleBooks
from heatmap_engine.clusters import (
    SIDE_CODES,
    SIDE_NAMES,
    ClusterParams,
    compute_clusters,
    compute_many_clusters,
)
from heatmap_engine.exchanges.base import EARLIEST_MS, LATEST_MS
from heatmap_engine.failures import Failures
from heatmap_engine.models import Candle, Liquidation, MarkPrice, Skipped, Snapshot

log = logging.getLogger(__name__)


_SIDE_KEYS = {side: f"liquidations_{side}" for side in SIDE_NAMES}


@dataclass(slots=True)
class PriceEntry:
    price: float
    time_ms: int
    source: str


class EngineState:
    """Events, prices and published snapshots for the tracked symbols."""

    def __init__(
        self,
        symbols: Iterable[str],
        params: ClusterParams,
        accept_any: bool = False,
        dedupe_horizon_ms: int = DedupeWindow.DEFAULT_HORIZON_MS,
    ):
        self.params = params
        # accept_any: the universe is not known yet ("all" before exchangeInfo answered), so
        # every USDT symbol gets a buffer until set_symbols() names the real universe.
        self.accept_any = accept_any
        self.symbols: tuple[str, ...] = tuple(symbols)
        self._tracked = set(self.symbols)
        self.buffers: dict[str, EventBuffer] = {s: EventBuffer() for s in self.symbols}
        self.prices: dict[str, PriceEntry] = {}
        self.dedupe = DedupeWindow(dedupe_horizon_ms)
        self.counters: Counter[str] = Counter()
        self.notional: Counter[str] = Counter()
        # what every new liquidation moves: per side [count, notional] (list slots cost a third
        # of a dict's string keys) and the notional of both (summed as they come, not from the
        # sides' sums); counts() shows them with the others, as if one Counter
        self._sides: dict[str, list] = {side: [0, 0.0] for side in SIDE_NAMES}
        self._notional_usd = 0.0
        self._snapshots: dict[str, Snapshot] = {}
        self.price_sample_ms = 5000
        self._price_sampled: dict[str, int] = {}
        self._lock = threading.Lock()  # guards set_symbols against a concurrent refresh
        self._held = 0  # events in the buffers, kept as they come and go
        self.failures = Failures(log)
        self.candles = CandleBooks(self.counters, self.failures, capacity=1440)  # a day of 1m

    # -- writers (engine thread) ------------------------------------------------------------
    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Name the universe; events already held for symbols outside it are counted, not lost."""
        with self._lock:
            self.accept_any = False
            self.symbols = tuple(symbols)
            self._tracked = set(self.symbols)
            for s in self.symbols:
                self.buffers.setdefault(s, EventBuffer())
            for s in list(self.buffers):
                if s not in self._tracked:
                    dropped = len(self.buffers.pop(s))
                    self.counters["untracked_symbol"] += dropped
                    self._held -= dropped
            self.candles.keep_only(self._tracked)

    def apply(self, event: Liquidation | MarkPrice | Candle | Skipped, now_ms: int) -> bool:
        """Applies one event; True when it is new information worth keeping in history.

        The parsers already keep times inside a window around receipt; whatever reaches here by
        another road with a time outside 2017..2100 is counted (``time_out_of_range``) and
        skipped, so it can move neither the duplicate memory nor decay."""
        when = (
            event.open_time_ms if isinstance(event, Candle) else getattr(event, "event_time_ms", 0)
        )
        if when and not EARLIEST_MS <= when <= LATEST_MS:
            self.counters["time_out_of_range"] += 1
            return False
        if isinstance(event, Liquidation):
            return self.apply_liquidation(event, now_ms)
        if isinstance(event, MarkPrice):
            return self.set_price(event.symbol, event.mark_price, event.event_time_ms, event.source)
        if isinstance(event, Candle):
            return self._apply_candle(event)
        self.counters[f"skipped_{event.reason}"] += 1
        self.notional[f"skipped_{event.reason}"] += event.notional_usd
        return False

    def restore_rows(self, symbol: str, rows: list[tuple], now_ms: int) -> int:
        """Bulk restore of one symbol from history rows (time, price, notional, side code,
        quantity, exchange), oldest first; only the newest rows also seed the dedupe memory."""
        buffer = self.buffers.get(symbol)
        if buffer is None and self.accept_any:
            buffer = self.buffers[symbol] = EventBuffer()
            self.symbols = (*self.symbols, symbol)
            self._tracked.add(symbol)
        live = [r for r in rows if now_ms - r[0] < self.params.decay_window_ms]
        if buffer is not None and live:
            buffer.times.extend(r[0] for r in live)
            buffer.prices.extend(r[1] for r in live)
            buffer.notionals.extend(r[2] for r in live)
            buffer.sides.extend(r[3] for r in live)
            self._held += len(live)
        if rows:
            newest = rows[-1][0]
            for t, price, notional, side, qty, exchange in rows:
                if t >= newest - self.dedupe.horizon_ms:  # the order; when received is unknown
                    order = Liquidation(exchange, symbol, SIDE_NAMES[side], price, qty, notional,
                                        t, received_at_ms=0)  # fmt: skip
                    self.dedupe.is_new(order)
        return len(live)

    def carry_totals(self, totals: dict[str, dict[str, float]]) -> None:
        """Start the lifetime counters from what history holds, so counts carry on."""
        for side, figures in totals.items():
            self._sides[side] = [int(figures["count"]), float(figures["notional_usd"])]
        self._notional_usd = sum(float(f["notional_usd"]) for f in totals.values())

    @property
    def candle_memory(self) -> int:
        """How many candles a symbol's book keeps (the newest)."""
        return self.candles.capacity

    @candle_memory.setter
    def candle_memory(self, count: int) -> None:
        self.candles.capacity = count

    def _apply_candle(self, candle: Candle) -> bool:
        """Latest frame per open time wins; only the newest ``candle_memory`` are kept."""
        self.candles.put(candle, self._tracked)
        return True

    def load_candles(
        self, symbol: str, rows, interval: str = "1m", exchange: str = "binance"
    ) -> int:
        """Bulk load of one symbol's candles from store rows, in one call (start-up): the
        ``candles`` table's columns from ``open_time_ms`` on, or the short form (open time,
        open, high, low, close, volume[, taker-buy volume]); see ``candle_book.rows_table``.
        Like applied candles they come after earlier writes (later ones win) and are
        published at the next refresh. Returns how many rows were taken."""
        return self.candles.load(symbol, rows, interval, exchange, self._tracked)

    def apply_liquidation(self, liq: Liquidation, now_ms: int) -> bool:
        """``apply`` for a Liquidation (the commonest event), without the dispatch."""
        when, side, notional = liq.event_time_ms, liq.liquidated_side, liq.notional_usd
        if not EARLIEST_MS <= when <= LATEST_MS:
            self.counters["time_out_of_range"] += 1
            return False
        if not self.dedupe.is_new(liq):
            self.counters["duplicates"] += 1
            return False
        tally = self._sides[side]
        tally[0] += 1
        tally[1] += notional
        self._notional_usd += notional
        buffer = self.buffers.get(liq.symbol)
        if buffer is None and self.accept_any and liq.symbol.endswith("USDT"):
            with self._lock:
                buffer = self.buffers[liq.symbol] = EventBuffer()
                self.symbols = (*self.symbols, liq.symbol)
                self._tracked.add(liq.symbol)
        if buffer is None:
            self.counters["untracked_symbol"] += 1
            self.notional["untracked_symbol"] += liq.notional_usd
        elif now_ms - when >= self.params.decay_window_ms:
            self.counters["older_than_window"] += 1
        else:  # EventBuffer.append, inline
            buffer.times.append(when)
            buffer.prices.append(liq.price)
            buffer.notionals.append(notional)
            buffer.sides.append(SIDE_CODES[side])
            self._held += 1
        return True

    def set_price(self, symbol: str, price: float, time_ms: int, source: str) -> bool:
        """Newest price wins; True when this one should be sampled into history (one per
        symbol per ``price_sample_ms``)."""
        entry = self.prices.get(symbol)
        if entry is not None and time_ms < entry.time_ms:
            return False
        self.prices[symbol] = PriceEntry(price, time_ms, source)
        self.counters[f"prices_{source}"] += 1
        last = self._price_sampled.get(symbol)
        if last is None or time_ms - last >= self.price_sample_ms:
            self._price_sampled[symbol] = time_ms
            return True
        return False

    def set_stream_prices(
        self, symbols: Sequence[str], prices: Sequence[float], times: Sequence[int]
    ) -> list[int]:
        """``set_price`` for a checked mark-price array (source "stream") in one pass: the
        positions of the entries to sample into history."""
        entries, last_sampled, every = self.prices, self._price_sampled, self.price_sample_ms
        sample: list[int] = []
        applied = 0
        for i, symbol in enumerate(symbols):
            try:
                when = times[i]
                entry = entries.get(symbol)
                if entry is None:
                    entries[symbol] = PriceEntry(prices[i], when, "stream")
                elif when < entry.time_ms:
                    continue
                elif entry.price == prices[i] and entry.source == "stream":
                    entry.time_ms = when  # the price did not move: only its time
                else:
                    entries[symbol] = PriceEntry(prices[i], when, "stream")
                applied += 1
                last = last_sampled.get(symbol)
                if last is None or when - last >= every:
                    last_sampled[symbol] = when
                    sample.append(i)
            except Exception as exc:  # one entry must not cost the rest of its array
                self.failures.record("applying a MarkPrice", exc)
        self.counters["prices_stream"] += applied
        return sample

    def refresh(self, now_ms: int) -> int:
        """Evict expired events, recompute every symbol, publish; returns how many changed."""
        cutoff = now_ms - self.params.decay_window_ms
        published = dict(self._snapshots)
        changed = 0
        with self._lock:
            symbols = self.symbols
            columns = []
            for symbol in symbols:
                buffer = self.buffers[symbol]
                evicted = buffer.evict_before(cutoff)
                self.counters["evicted"] += evicted
                self._held -= evicted
                columns.append(buffer.arrays())
            prices = [self.prices.get(symbol) for symbol in symbols]
            current = [price.price if price else None for price in prices]
            try:  # every symbol's clusters at once
                clusters = compute_many_clusters(columns, now_ms, current, self.params)
            except Exception:  # computed one by one below: a symbol's failure is its own
                clusters = [None] * len(symbols)
            for i, symbol in enumerate(symbols):
                previous = published.get(symbol)
                try:
                    snapshot = self._compute(
                        symbol, columns[i], prices[i], now_ms, previous, clusters[i]
                    )
                except Exception as exc:  # one symbol must not freeze every other one
                    self.failures.record(f"refreshing {symbol}", exc)
                    continue
                if snapshot is not previous:
                    published[symbol] = snapshot
                    changed += 1
            for symbol in [s for s in published if s not in self._tracked]:
                del published[symbol]
        self._snapshots = published
        self.candles.publish()  # only the books written since the last refresh
        return changed

    def _compute(self, symbol: str, columns, price: PriceEntry | None, now_ms: int,
                 previous: Snapshot | None, clusters: tuple | None = None):  # fmt: skip
        """The symbol's snapshot (at the published precision, which ``Snapshot`` applies) from
        its event columns and its ``clusters`` (computed here when None); ``previous`` itself,
        same version, when a reader would receive the same figures."""
        current = price.price if price else None
        times, prices, notionals, sides = columns
        if clusters is None:
            clusters = compute_clusters(times, prices, notionals, sides, now_ms, current,
                                        self.params)  # fmt: skip
        live = times >= now_ms - self.params.decay_window_ms
        events = int(live.sum())
        snapshot = Snapshot(
            symbol=symbol,
            version=(previous.version + 1) if previous else 1,
            computed_at_ms=now_ms,
            current_price=current,
            price_time_ms=price.time_ms if price else None,
            clusters=clusters,
            events_in_window=events,
            notional_in_window=float(notionals[live].sum()) if events else 0.0,
            window_minutes=self.params.decay_window_ms / 60_000,
            min_cluster_size=self.params.min_cluster_size,
        )
        if previous is not None and previous.same_content(snapshot):
            return previous
        return snapshot

    # -- readers (any thread) ---------------------------------------------------------------
    @property
    def last_liquidation_ms(self) -> int | None:
        """The newest event time of the liquidations seen (live or restored), None before."""
        return self.dedupe.newest_ms

    def snapshot(self, symbol: str) -> Snapshot | None:
        return self._snapshots.get(symbol)

    def snapshots(self) -> dict[str, Snapshot]:
        return self._snapshots

    def recent_candles(self, symbol: str) -> tuple[Candle, ...]:
        """The published candles, oldest first (one immutable tuple per published version)."""
        return self.candles.recent(symbol)

    def candle_view(self, symbol: str):
        """The published candles as a lazy sequence (``CandleBooks.view``)."""
        return self.candles.view(symbol)

    def candle_table(self, symbol: str):
        """The published candles as a read-only array and its version (``CandleBooks.table``)."""
        return self.candles.table(symbol)

    def events_held(self) -> int:
        """Events in the buffers (a counter kept by the engine thread; never a scan)."""
        return self._held

    def counts(self) -> tuple[dict[str, int], dict[str, float]]:
        """Copies of the counters and notional sums, safe from any thread (see the module);
        the liquidation tallies among them (zero until the first, like a Counter's .get)."""
        sides = [(_SIDE_KEYS[side], *self._sides[side]) for side in SIDE_NAMES]  # each whole
        counts = {"liquidations": sum(n for _, n, _ in sides)} | {k: n for k, n, _ in sides}
        sums = {"liquidations": self._notional_usd} | {k: usd for k, _, usd in sides}
        return {**self.counters, **counts}, {**self.notional, **sums}
