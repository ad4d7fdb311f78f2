"""Owns the engine thread: ``start()``, ``stop(timeout)``, ``snapshot()``, ``status()``.

Threads (all named, all started by ``start()``, never at import):

* ``heatmap-engine``: the only writer of engine state. It drains the event queue, applies
  commands and refreshes the snapshots every ``update_interval`` seconds.
* the message source (``heatmap-feed-market`` for the live feed, with one reader thread per
  connection, ``heatmap-feed-market/conn-<n>``; ``heatmap-replay`` ...): parses frames and puts
  events on the queue. The queue is unbounded: events are never dropped.
* ``heatmap-rest``: fetches the universe from ``exchangeInfo`` when ``HEATMAP_SYMBOLS=all`` and
  polls mark prices over REST only while the mark-price stream is stale.

Every loop catches what it did not expect, logs it once per kind (``Failures``) and carries on
after a pause; ``threads()`` (in ``status()``) says which named thread is alive, and
``problems()`` names the vital ones that ended.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine, wall_clock_ms
from heatmap_engine.exchanges import binance
from heatmap_engine.exchanges.base import Event, TimeWindow
from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.failures import Failures
from heatmap_engine.feed import LiveFeed
from heatmap_engine.feed_group import FeedGroup
from heatmap_engine.history.runtime import HistoryRuntime
from heatmap_engine.history.writer import HistoryWriter
from heatmap_engine.levels.runtime import LevelsRuntime
from heatmap_engine.levels.source import LevelsSource
from heatmap_engine.models import Snapshot
from heatmap_engine.network import Reachability, host_of
from heatmap_engine.recording import Recorder
from heatmap_engine.rest_loop import RestLoop
from heatmap_engine.symbols import SymbolResolver

log = logging.getLogger(__name__)
_STOP = object()
# the history's loops, owned by heatmap_engine.history; watched here by their thread names
HISTORY_THREADS = ("heatmap-history", "heatmap-backfill")
LOOP_PAUSE_SECONDS = 1.0  # after an unexpected failure, before a loop carries on


class MessageSource(Protocol):
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> bool: ...
    def status(self) -> dict[str, Any]: ...


SourceFactory = Callable[[Callable[[tuple[Event, ...]], None]], MessageSource]


class HeatmapService:
    """The running product minus the web layer."""

    def __init__(
        self,
        settings: Settings,
        *,
        source_factory: SourceFactory | None = None,
        rest: BinanceRest | None = None,
        mode: str = "live",
        event_time: bool = False,
        clock: Callable[[], int] = wall_clock_ms,
    ):
        self.settings = settings
        self.mode = mode
        # HEATMAP_EXCHANGE_CLOCK: a simulator running faster than real time sets "now"
        event_time = event_time or settings.exchange_clock
        self.engine = Engine(settings, clock=clock, event_time=event_time)
        self.rest = rest or BinanceRest(
            settings.binance_rest_url,
            settings.rest_timeout_seconds,
            backoff_initial=settings.feed_backoff_initial_seconds,
            backoff_max=settings.feed_backoff_max_seconds,
        )
        # event times the parsers accept: around receipt, or (a simulator whose clock runs at
        # another speed, in demo and replay modes) only the absolute bounds
        self.time_window = TimeWindow(
            settings.event_time_max_age_ms, settings.event_time_max_ahead_ms, not event_time
        )
        self.failures = Failures(log)  # unexpected failures of the service's own loops
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._source_factory = source_factory or self._live_feed
        self.source: MessageSource | None = None
        self._resolver = SymbolResolver(self.engine.symbols)
        self._resolver_for: tuple[str, ...] = self.engine.symbols
        self._stop = threading.Event()
        self.rest_loop = RestLoop(settings, self.rest, self.engine, self.submit,
                                  self._universe_known, self._stop, self.time_window,
                                  self.failures)  # fmt: skip
        self._threads: list[threading.Thread] = []
        self._history_seen: set[str] = set()  # history thread names seen running
        self.started_at: float | None = None
        self.history: HistoryRuntime | None = None
        self._stopped: bool | None = None  # stop()'s answer once it was called
        self._levels = LevelsSource(self._history_store)  # reads HEATMAP_LEVELS_* (fails fast)
        self.levels_live = LevelsRuntime(self._levels, self.rest, lambda: self.engine.symbols,
                                         self.engine.state.candle_view, self._history_writer,
                                         wall_clock_ms, self._stop)  # fmt: skip

    # -- lifecycle --------------------------------------------------------------------------
    def _live_feed(self, sink: Callable[[tuple[Event, ...]], None]) -> MessageSource:
        s = self.settings
        recorder = Recorder(s.record_path) if s.record_path else None
        adapter = binance.adapter(self.time_window)
        # one for every connection, so an outage is said once however many connections fail
        reach = Reachability(host_of(s.binance_ws_url), logging.getLogger("heatmap_engine.feed"),
                             "Binance streams")  # fmt: skip

        def make(streams: tuple[str, ...], name: str) -> LiveFeed:
            return LiveFeed(
                adapter,
                s.binance_ws_url,
                sink,
                streams=streams,
                name=name,
                silence_seconds=s.feed_silence_seconds,
                max_connection_seconds=s.feed_max_connection_seconds,
                backoff_initial=s.feed_backoff_initial_seconds,
                backoff_max=s.feed_backoff_max_seconds,
                recorder=recorder,
                on_gap=self._on_gap if name == "market" else None,
                reachability=reach,
            )

        group = FeedGroup(make, binance.ADAPTER.streams, binance.ADAPTER.max_streams_per_connection)
        group.subscribe(self._kline_streams(self.engine.symbols))
        return group

    def _kline_streams(self, symbols: tuple[str, ...]) -> tuple[str, ...]:
        if not self.settings.kline_streams:
            return ()
        return tuple(binance.kline_stream(s) for s in symbols)

    def _on_gap(self, start_ms: int, end_ms: int, reason: str) -> None:
        """Liquidations between a lost connection and the next one are gone for good: say so."""
        log.info("no liquidation feed from %d to %d (%s)", start_ms, end_ms, reason)
        if self.history is not None:
            self.history.record_gap(start_ms, end_ms, reason)

    def start(self) -> HeatmapService:
        """Open history (its folder's lock, or ``DataDirError`` with nothing started), rebuild
        the window from it, then start the engine, the REST thread, the feed and the writer."""
        if self.started_at is not None:
            raise RuntimeError("service already started")
        if self.settings.history:
            history = HistoryRuntime(self.settings, self.rest)
            try:
                history.attach(self.engine, self.submit)
            except BaseException:
                history.stop(1.0)
                raise
            self.history = history
        self.started_at = time.time()
        self._spawn("heatmap-engine", self._run_engine)
        self._spawn("heatmap-rest", self._run_rest)
        self.source = self._source_factory(self.submit)
        self.source.start()
        if self.history is not None:
            self.history.start(
                symbols=lambda: self.engine.symbols,
                reconnects=lambda: self.source.status().get("reconnects", 0),
            )
        for name, loop in self.levels_live.loops().items():
            self._spawn(name, loop)
        return self

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop in the order data flows: the producers (feed, backfill), the engine
        (after it applied everything they queued), the history writer (after it committed
        everything the engine submitted), the store. True when every step ended within
        ``timeout`` seconds and nothing queued was left unwritten; the outcome is logged."""
        if self._stopped is not None:
            return self._stopped
        if self.started_at is None:
            return True  # never started: nothing to stop
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        failed = []
        if self.source is not None and not self.source.stop(left()):
            failed.append("the feed did not end")
        if self.history is not None and not self.history.stop_backfill(left()):
            failed.append("the backfill did not end")
        self._stop.set()
        self._queue.put(_STOP)  # behind every event the feed queued
        for thread in self._threads:
            thread.join(left())
        failed += [f"thread {t.name} did not end" for t in self._threads if t.is_alive()]
        if self.history is not None and not self.history.stop(max(0.5, left())):
            failed += _history_failure(self.history.writer)
        self._stopped = not failed
        if failed:
            log.error("stop incomplete after %.1fs: %s", timeout - left(), "; ".join(failed))
        else:
            log.info("stopped: feed, engine, history writer (everything written), store")
        return self._stopped

    @property
    def running(self) -> bool:
        """Started and not (yet) told to stop."""
        return self.started_at is not None and not self._stop.is_set()

    def submit(self, events: tuple[Event, ...]) -> None:
        """Called by message sources on their threads; never blocks, never drops."""
        self._queue.put(events)

    def call_in_engine(self, command: Callable[[], None]) -> None:
        self._queue.put(command)

    # -- engine thread ----------------------------------------------------------------------
    def _run_engine(self) -> None:
        """Drain the queue, refresh on time; an unexpected failure is logged and survived."""
        next_refresh = time.monotonic()
        while True:
            try:
                if self._engine_step(next_refresh):
                    return
            except Exception as exc:  # the loop boundary
                self.failures.record("the engine loop", exc)
                if self._stop.wait(LOOP_PAUSE_SECONDS):
                    return
            if time.monotonic() >= next_refresh:
                self._refresh()
                interval = self.settings.update_interval
                next_refresh = max(next_refresh + interval, time.monotonic() + interval / 10)

    def _engine_step(self, next_refresh: float) -> bool:
        """Apply what is queued until the next refresh is due; True when told to stop."""
        try:
            item = self._queue.get(timeout=max(0.0, next_refresh - time.monotonic()))
        except queue.Empty:
            return False
        if item is _STOP:
            return True
        self._handle(item)
        for _ in range(50_000):
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return True
            self._handle(more)
        return False

    def _handle(self, item: Any) -> None:
        try:
            if callable(item):
                item()
            else:
                self.engine.process(item)
        except Exception as exc:  # one bad item must not stop the engine
            self.failures.record("the engine applying a queued item", exc)

    def _refresh(self) -> None:
        try:
            self.threads()  # notes the history's threads early, so one that ends is noticed
            self.engine.refresh()
        except Exception as exc:
            self.failures.record("the engine refresh", exc)

    # -- REST thread ------------------------------------------------------------------------
    def _run_rest(self) -> None:
        self.rest_loop.run()

    def _universe_known(self, symbols: tuple[str, ...]) -> None:
        self.call_in_engine(functools.partial(self.engine.set_symbols, symbols))
        if isinstance(self.source, FeedGroup):
            self.source.subscribe(self._kline_streams(symbols))

    @property
    def universe_error(self) -> str | None:
        return self.rest_loop.universe_error

    # -- readers ----------------------------------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        return self.engine.symbols

    @property
    def resolver(self) -> SymbolResolver:
        """A resolver over the current universe (rebuilt only when the universe changes)."""
        symbols = self.engine.symbols
        if self._resolver_for is not symbols:
            self._resolver = SymbolResolver(symbols)
            self._resolver_for = symbols
        return self._resolver

    def snapshot(self, symbol: str) -> Snapshot | None:
        return self.engine.snapshot(symbol)

    @property
    def levels(self) -> LevelsSource:
        """The estimated liquidation levels (``heatmap_engine.levels.source``)."""
        return self._levels

    def _history_store(self):
        return self.history.store if self.history is not None else None

    def _history_writer(self):
        return self.history.writer.submit if self.history is not None else None

    def snapshots(self) -> dict[str, Snapshot]:
        return self.engine.snapshots()

    def threads(self) -> dict[str, bool]:
        """Every named background thread of the service: name -> alive. The service's own, the
        message source's (feed supervisors and their connections), and the history's loops,
        found by name (``HISTORY_THREADS``): one seen running and gone since is not alive; a
        name never seen is not listed (so a renamed thread can never raise a false alarm)."""
        out = {t.name: t.is_alive() for t in self._threads}
        source_threads = getattr(self.source, "threads", None)
        if callable(source_threads):
            out.update(source_threads())
        if self.history is not None and self.started_at is not None:
            alive = {t.name for t in threading.enumerate()}
            self._history_seen.update(name for name in HISTORY_THREADS if name in alive)
            out.update({name: name in alive for name in sorted(self._history_seen)})
        return out

    def _vital_threads(self) -> dict[str, bool]:
        """The loops that must run as long as the service does (not a feed's connections,
        which come and go with every reconnect)."""
        return {name: alive for name, alive in self.threads().items() if "/conn-" not in name}

    def problems(self) -> list[str]:
        """What is wrong beyond the feed's state, each in words for ``/api/health`` and the
        page (empty when nothing is): history that cannot be written or was dropped, a vital
        background thread that ended while the service runs."""
        if self.started_at is None or self._stop.is_set():
            return []
        history = self.history.problems() if self.history is not None else []
        stopped = [name for name, alive in self._vital_threads().items() if not alive]
        return history + [f"thread {name} has stopped" for name in stopped]

    @property
    def history_state(self) -> str | None:
        """None without history; "rebuilding" while start-up still loads stored history into
        the engine (the service answers meanwhile); then "ready"."""
        return self.history.state if self.history is not None else None

    def feed_state(self) -> str:
        state = self.source.status().get("state", "idle") if self.source else "idle"
        if self.mode == "demo" and state in ("live", "subscribing"):
            return "demo"
        return state

    def feed_lag_seconds(self) -> float | None:
        """How far the data is behind: the reference "now" (the engine's clock: the wall clock
        live, the market's simulated clock in a demo) minus the newest exchange event time
        received (mark prices and liquidations). None before any, and for replays."""
        state = self.engine.state
        times = [entry.time_ms for entry in list(state.prices.values())]
        if state.last_liquidation_ms is not None:
            times.append(state.last_liquidation_ms)
        if not times or self.mode == "replay":
            return None
        return round(max(0.0, (self.engine.clock() - max(times)) / 1000), 3)

    def _rest_status(self) -> dict[str, Any]:
        rest, now = self.rest, time.time()
        return {
            "host": rest.host,
            "reachable": rest.reachability.reachable,
            "used_weight_1m": rest.used_weight,
            "errors": dict(rest.errors),
            "paused_for_seconds": max(0.0, rest.blocked_until - now),
            "next_try_in": round(max(0.0, rest.unreachable_until - now), 1),
            "universe_error": self.universe_error,
        }

    def status(self) -> dict[str, Any]:
        source = self.source.status() if self.source is not None else {}
        lag = self.feed_lag_seconds()
        source = {**source, "lag_seconds": lag}  # /api/stats shows the feed dict as it is
        return {
            "mode": self.mode,
            "state": self.feed_state(),
            "feed_lag_seconds": lag,
            "uptime_seconds": (time.time() - self.started_at) if self.started_at else 0.0,
            "symbols_tracked": len(self.engine.symbols),
            "queue_depth": self._queue.qsize(),
            "feed": source,
            "engine": self.engine.status(),
            "rest": self._rest_status(),
            "history": self.history.status() if self.history is not None else None,
            "levels": self.levels_live.status(),
            "threads": self.threads(),
            "loop_failures": self.failures.as_dict(),
            "parameters": {
                "cluster_window_pct": self.settings.cluster_window_pct,
                "min_cluster_size": self.settings.min_cluster_size,
                "time_decay_minutes": self.settings.time_decay_minutes,
                "update_interval": self.settings.update_interval,
            },
        }


def _history_failure(writer: HistoryWriter) -> list[str]:
    """Why the history writer's stop failed (a backfill that did not end says so itself)."""
    if writer.alive:
        return ["the history writer did not end"]
    if writer.lost_at_stop:
        cause = writer.status()["last_error"] or "time ran out"
        return [f"{writer.lost_at_stop:,} history items not written ({cause})"]
    return []
