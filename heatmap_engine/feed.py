"""Connect, read, parse, push: the generic websocket feed (knows no exchange by name).

A ``LiveFeed`` runs one supervisor thread that keeps one ``Connection`` alive. Each connection
reads on its own thread, answers server pings (websocket-client does it inside ``recv_data``),
parses every text frame with the venue adapter and hands the events to a sink. Around that:

* capped exponential backoff with jitter between attempts (``backoff_delay``);
* a silence watchdog: a connection that has delivered no data frame for ``silence_seconds``
  is closed and replaced, because a wrong route acknowledges the subscription and then stays
  silent;
* a proactive rollover before the exchange's 24 h cut: a successor connects and subscribes
  while the old one still reads, and the old one closes once the successor delivers data (the
  engine drops the duplicates the overlap produces), so nothing is missed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import websocket

from heatmap_engine.exchanges.base import Event, VenueAdapter
from heatmap_engine.feed_stats import FeedStats
from heatmap_engine.recording import Recorder

log = logging.getLogger(__name__)

Sink = Callable[[tuple[Event, ...]], None]


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Equal-jitter exponential backoff: half the capped step plus a random half."""
    step = min(cap, initial * (2 ** min(attempt, 32)))
    return step / 2 + rng.uniform(0, step / 2)


def watchdog_verdict(now: float, last_data_at: float, silence_seconds: float) -> bool:
    """True when a connection has been silent (no data frame) for too long."""
    return now - last_data_at >= silence_seconds


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Connection:
    """One websocket session on its own reader thread; it never reconnects by itself."""

    POLL_SECONDS = 0.25

    def __init__(self, feed: LiveFeed, number: int):
        self.feed = feed
        self.number = number
        self.opened_at: float | None = None
        self.first_data_at: float | None = None
        self.last_data_at: float = time.monotonic()
        self.last_data_wall_ms: int | None = None
        self.end_reason: str | None = None
        self._closing = threading.Event()
        self._done = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"heatmap-feed-{feed.name}-{number}", daemon=True
        )

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        self._thread.start()

    def close(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self._closing.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._session()
        except Exception as exc:  # the loop boundary: log, count, and let the supervisor retry
            if self.end_reason is None:
                self.end_reason = f"error: {type(exc).__name__}: {exc}"
            if not isinstance(exc, (OSError, websocket.WebSocketException)):
                log.exception("feed connection %s failed", self.number)
        finally:
            if self._ws is not None:
                self._ws.close(timeout=0.2)  # a close frame when still connected
                self._ws.shutdown()  # close() skips this when the peer already hung up
            self._done.set()

    def _session(self) -> None:
        feed = self.feed
        url = feed.adapter.connect_url(feed.base_url)
        self._ws = websocket.create_connection(url, timeout=feed.connect_timeout)
        self.opened_at = self.last_data_at = time.monotonic()
        feed.stats.connected(self.number)
        for message in feed.adapter.subscribe_messages(feed.next_request_id(), feed.streams):
            self._ws.send(message)
        self._ws.settimeout(self.POLL_SECONDS)
        while not self._closing.is_set():
            try:
                # control_frame=True returns pings too (already answered with a pong), so the
                # watchdog runs even when a silent route keeps the socket busy with pings.
                opcode, data = self._ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                opcode, data = None, b""
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.end_reason = self.end_reason or "closed by server"
                return
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                self._handle(data)
            elif opcode == websocket.ABNF.OPCODE_PING:
                feed.stats.count("pings_answered")
            if watchdog_verdict(time.monotonic(), self.last_data_at, feed.silence_seconds):
                feed.stats.count("watchdog_trips")
                self.close("silent")
        self.end_reason = self.end_reason or "closed"

    def _handle(self, data: bytes | str) -> None:
        feed = self.feed
        received_at_ms = wall_ms()
        if feed.recorder is not None:
            feed.recorder.write(received_at_ms, data)
        result = feed.adapter.parse(data, received_at_ms)
        feed.stats.frame(len(data), result.errors, result.control)
        if result.control:
            return
        self.last_data_at = time.monotonic()
        self.last_data_wall_ms = received_at_ms
        if self.first_data_at is None:
            self.first_data_at = self.last_data_at
            feed.stats.set_state("live")
            feed.data_resumed(received_at_ms)
        if result.events:
            feed.sink(result.events)


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
        # called with (from_ms, to_ms, reason) for every stretch without a connection
        self.on_gap = on_gap
        self._gap_start: tuple[int, str] | None = None
        self.stats = FeedStats(source=self.name, url=adapter.connect_url(base_url))
        self.stats.streams = len(self.streams)
        self._stop = threading.Event()
        self._ids = 0
        self._numbers = 0
        self._thread: threading.Thread | None = None

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
        if self.recorder is not None:
            self.recorder.close()
        return not alive

    def status(self) -> dict:
        return self.stats.as_dict()

    def data_resumed(self, at_ms: int) -> None:
        """First data on a new connection: report the stretch that was not covered."""
        if self._gap_start is not None and self.on_gap is not None:
            start, reason = self._gap_start
            self.on_gap(start, at_ms, reason)
        self._gap_start = None

    def _new_connection(self) -> Connection:
        self._numbers += 1
        conn = Connection(self, self._numbers)
        conn.start()
        return conn

    def _supervise(self) -> None:
        attempt = 0
        self.stats.set_state("connecting")
        while not self._stop.is_set():
            conn = self._watch(self._new_connection())
            if conn.first_data_at is not None:
                attempt = 0
                self._gap_start = (conn.last_data_wall_ms or wall_ms(), conn.end_reason or "closed")
            self.stats.disconnected(conn.end_reason or "closed")
            if self._stop.is_set():
                break
            delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max, self.rng)
            attempt += 1
            self.stats.reconnecting(delay)
            log.info("feed disconnected (%s); reconnecting in %.2fs", conn.end_reason, delay)
            if self._stop.wait(delay):
                break
            self.stats.count("reconnects")

    def _watch(self, conn: Connection) -> Connection:
        """Wait until ``conn`` (or the successor it rolled over to) ends, or the feed stops."""
        successor: Connection | None = None
        successor_failures = 0
        retry_at = 0.0
        while not self._stop.wait(Connection.POLL_SECONDS / 2):
            if conn.done:
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
                retry_at = now + backoff_delay(
                    successor_failures, self.backoff_initial, self.backoff_max, self.rng
                )
                successor = None
        for c in (conn, successor):
            if c is not None:
                c.close("stopped")
                c.join(2.0)
        return conn
