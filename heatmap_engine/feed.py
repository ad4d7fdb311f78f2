"""Connect, read, parse, push: the generic websocket feed (knows no exchange by name).

A ``LiveFeed`` runs one supervisor thread that keeps one ``Connection`` alive. Each connection
reads on its own thread, answers server pings (websocket-client does it inside ``recv_data``),
parses every text frame with the venue adapter and hands the events to a sink. Around that:

* capped exponential backoff with jitter between attempts (``backoff_delay``);
* only frames that carry market data (``ParseResult.carries_data``) count as life: they mark a
  connection live, feed the silence watchdog and end a gap. Acknowledgements, error frames and
  bytes that are not JSON do not;
* a silence watchdog: a connection that has delivered no data frame for ``silence_seconds``
  is closed and replaced, because a wrong route acknowledges the subscription and then stays
  silent (and a refused subscription answers with error frames only);
* a proactive rollover before the exchange's 24 h cut: a successor connects and subscribes
  while the old one still reads, and the old one closes only once the successor has delivered
  data (the engine drops the duplicates the overlap produces), so nothing is missed;
* every stretch without data after data flowed is reported to ``on_gap`` with what happened
  (the words in ``Reason``), and the log follows the state: one WARNING when the exchange cannot
  be reached or a connection is lost, DEBUG for each retry, one INFO line when data flows again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from heatmap_engine.exchanges.base import Event, VenueAdapter
from heatmap_engine.failures import Failures
from heatmap_engine.feed_connection import Connection, Reason, wall_ms
from heatmap_engine.feed_stats import FeedStats
from heatmap_engine.network import Reachability, backoff_delay, host_of
from heatmap_engine.recording import Recorder

log = logging.getLogger(__name__)

Sink = Callable[[tuple[Event, ...]], None]


class LiveFeed:
    """Keeps one live connection to a venue, for as long as it runs."""

    def __init__(
        self,
        adapter: VenueAdapter,
        base_url: str,
        sink: Sink,
        *,
        streams: tuple[str, ...] | None = None,
        name: str = "",
        silence_seconds: float = 15.0,
        max_connection_seconds: float = 23.5 * 3600,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        connect_timeout: float = 10.0,
        recorder: Recorder | None = None,
        rng: random.Random | None = None,
        on_gap: Callable[[int, int, str], None] | None = None,
        reachability: Reachability | None = None,
    ):
        self.adapter = adapter
        self.streams = tuple(streams) if streams is not None else adapter.streams
        self.name = name or adapter.name
        self.base_url = base_url
        self.sink = sink
        self.silence_seconds = silence_seconds
        self.max_connection_seconds = max_connection_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.recorder = recorder
        self.rng = rng or random.Random()
        # called with (from_ms, to_ms, reason) for every stretch without data after data flowed
        self.on_gap = on_gap
        url = adapter.connect_url(base_url)
        host = host_of(url)
        # shared by every connection to one host, so an outage is reported once
        self.reachability = reachability or Reachability(host, log, f"{adapter.name} streams")
        self.stats = FeedStats(source=self.name, url=url, host=host)
        self.failures = Failures(log)
        self.stats.streams = len(self.streams)
        self._gap_lock = threading.Lock()
        self._gap_start: tuple[int, str] | None = None
        self._live_conn: Connection | None = None  # the connection whose data we take as truth
        self._outage_since: float | None = None  # monotonic: when data stopped flowing
        self._announced = False  # the first data ever is said once
        self._stop = threading.Event()
        self._ids = 0
        self._numbers = 0
        self._thread: threading.Thread | None = None
        self._connections: list[Connection] = []

    def next_request_id(self) -> int:
        """Ids only need to be unique per connection; leave room for chunked requests."""
        self._ids += 100
        return self._ids

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("feed already started")
        self._thread = threading.Thread(
            target=self._supervise, name=f"heatmap-feed-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the connection and join the threads; True when everything ended in time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            alive = self._thread.is_alive()
        else:
            alive = False
        self.stats.set_state("stopped")
        self.reachability.forget(self.name)
        with self._gap_lock:  # a gap still open at stop ends here, with what caused it
            gap, self._gap_start = self._gap_start, None
        if gap is not None and self.on_gap is not None:
            self.on_gap(gap[0], wall_ms(), gap[1])
        if self.recorder is not None:
            self.recorder.close()
        return not alive

    def status(self) -> dict:
        return {**self.stats.as_dict(), "loop_failures": self.failures.as_dict()}

    def threads(self) -> dict[str, bool]:
        """The supervisor (name -> alive) and the connections reading now (those that ended
        are gone, not dead: the supervisor replaces them)."""
        out = {} if self._thread is None else {self._thread.name: self._thread.is_alive()}
        for conn in list(self._connections):
            if conn.thread.is_alive():
                out[conn.thread.name] = True
        return out

    def data_resumed(self, conn: Connection, at_ms: int) -> None:
        """First data on ``conn``: it is live; report the stretch that was not covered."""
        with self._gap_lock:
            gap, self._gap_start = self._gap_start, None
            self._live_conn = conn
            outage, self._outage_since = self._outage_since, None
        self.stats.set_state("live")
        down_for = self.reachability.reached(self.name)
        if gap is not None and self.on_gap is not None:
            self.on_gap(gap[0], at_ms, gap[1])
        host = self.stats.host
        if outage is not None:
            log.info("feed %s: data flows again from %s after %.0f s", self.name, host,
                     time.monotonic() - outage)  # fmt: skip
        elif down_for is not None:
            log.info("feed %s: %s answered after %.0f s; data flowing", self.name, host, down_for)
        elif not self._announced:
            log.info("feed %s: connected to %s, data flowing", self.name, host)
        self._announced = True

    def _ended(self, conn: Connection, successor: Connection | None) -> None:
        """``conn`` ended: when it was the live one and no successor has data yet, a gap opens."""
        with self._gap_lock:
            if self._live_conn is not conn:
                return
            self._live_conn = None
            if successor is not None and successor.first_data_at is not None:
                return
            start = conn.last_data_wall_ms or wall_ms()
            self._gap_start = (start, conn.end_reason or Reason.CLOSED_BY_SERVER)
            self._outage_since = time.monotonic()

    def _new_connection(self) -> Connection:
        self._numbers += 1
        conn = Connection(self, self._numbers)
        self._connections = [c for c in self._connections if not c.done] + [conn]
        conn.start()
        return conn

    def _supervise(self) -> None:
        attempt = 0
        self.stats.set_state("connecting")
        while not self._stop.is_set():
            try:
                conn = self._watch(self._new_connection())
                attempt = 0 if conn.first_data_at is not None else attempt
                if self._stop.is_set():
                    if conn.opened_at is not None:  # a failed attempt was already told
                        self.stats.disconnected(Reason.STOPPED)
                    break
                delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max, self.rng)
                self._report_end(conn, delay)
            except Exception as exc:  # the loop boundary: never let the supervisor die quietly
                self.failures.record(f"feed {self.name} supervisor", exc)
                delay = self.backoff_max  # a long pause, computed without what just failed
            attempt += 1
            self.stats.reconnecting(delay)
            if self._stop.wait(delay):
                break
            self.stats.count("reconnects")

    def _report_end(self, conn: Connection, delay: float) -> None:
        """Status and log for a connection that ended (the state, not every attempt)."""
        reason = conn.end_reason or Reason.CLOSED_BY_SERVER
        reach, what = self.reachability, f"{self.reachability.what} ({self.stats.host})"
        if conn.opened_at is None and conn.network_cause is not None:
            self.stats.disconnected(f"cannot reach {self.stats.host}: {conn.network_cause}", False)
            reach.failed(self.name, conn.network_cause, delay)
            return
        self.stats.disconnected(reason)
        if conn.first_data_at is not None:
            message = f"feed {self.name}: lost the connection to {what}: {reason}"
        else:
            message = f"feed {self.name}: {what} accepted the connection but sent no data: {reason}"
        reach.failed(self.name, reason, delay, message)

    def _watch(self, conn: Connection) -> Connection:
        """Wait until ``conn`` (or the successor it rolled over to) ends, or the feed stops."""
        successor: Connection | None = None
        successor_failures = 0
        retry_at = 0.0
        while not self._stop.wait(Connection.POLL_SECONDS / 2):
            if conn.done:
                self._ended(conn, successor)
                if successor is None:
                    return conn
                conn, successor = successor, None
                continue
            now = time.monotonic()
            age = now - (conn.opened_at or now)
            if successor is None and age >= self.max_connection_seconds and now >= retry_at:
                successor = self._new_connection()
            elif successor is not None and successor.first_data_at is not None:
                conn.close("rollover")
                self.stats.count("rollovers")
                conn, successor = successor, None
            elif successor is not None and successor.done:
                successor_failures += 1
                log.info("feed %s: rollover successor ended (%s); the current connection stays",
                         self.name, successor.end_reason)  # fmt: skip
                retry_at = now + backoff_delay(
                    successor_failures, self.backoff_initial, self.backoff_max, self.rng
                )
                successor = None
        for c in (conn, successor):  # stopping while live opens no gap: the store records
            if c is not None:  # the time the service was not running on its next start
                c.close(Reason.STOPPED)
                c.join(2.0)
        return conn
