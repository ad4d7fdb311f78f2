"""One websocket session of a ``LiveFeed``: connect, subscribe, read, parse, push.

A ``Connection`` reads on its own named thread and never reconnects by itself; its feed's
supervisor decides what follows. ``Reason`` holds the words in which an end is told (gaps,
status). Only frames that carry market data (``ParseResult.carries_data``) reset the silence
watchdog and make a connection live.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

import websocket

from heatmap_engine.network import network_cause

if TYPE_CHECKING:
    from heatmap_engine.feed import LiveFeed

log = logging.getLogger(__name__)


class Reason:
    """Why a connection ended, in the words gaps and status carry."""

    STOPPED = "stopped"
    CLOSED_BY_SERVER = "closed by server"
    ERROR_FRAME = "error frame from server"
    INTERNAL = "internal error (see the log)"

    @staticmethod
    def silent(seconds: float) -> str:
        return f"silent route: no data for {seconds:g} s"

    @staticmethod
    def network(cause: str) -> str:
        return f"network error: {cause}"


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
        self.network_cause: str | None = None  # set when the network failed, not the server
        self.rejections = 0  # error frames since the last data frame
        self._closing = threading.Event()
        self._done = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"heatmap-feed-{feed.name}/conn-{number}", daemon=True
        )

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        self.thread.start()

    def close(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self._closing.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self._session()
        except (OSError, websocket.WebSocketException) as exc:
            self.network_cause = network_cause(exc)
            if self.end_reason is None:
                self.end_reason = Reason.network(self.network_cause)
            log.debug("feed connection %s ended: %r", self.number, exc)
        except Exception:  # the loop boundary: log the traceback; the supervisor retries
            self.end_reason = self.end_reason or Reason.INTERNAL
            log.exception("feed connection %s failed", self.number)
        finally:
            try:
                self._close_socket()
            finally:
                self._done.set()

    def _close_socket(self) -> None:
        if self._ws is None:
            return
        with contextlib.suppress(Exception):  # the peer may be gone; nothing is left to save
            self._ws.close(timeout=0.2)  # a close frame when still connected
        with contextlib.suppress(Exception):
            self._ws.shutdown()  # close() skips this when the peer already hung up

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
                self.end_reason = self.end_reason or (
                    Reason.ERROR_FRAME if self.rejections else Reason.CLOSED_BY_SERVER
                )
                return
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                self._handle(data)
            elif opcode == websocket.ABNF.OPCODE_PING:
                feed.stats.count("pings_answered")
            if watchdog_verdict(time.monotonic(), self.last_data_at, feed.silence_seconds):
                feed.stats.count("watchdog_trips")
                self.close(
                    Reason.ERROR_FRAME if self.rejections else Reason.silent(feed.silence_seconds)
                )
        self.end_reason = self.end_reason or Reason.STOPPED

    def _handle(self, data: bytes | str) -> None:
        feed = self.feed
        received_at_ms = wall_ms()
        if feed.recorder is not None:
            feed.recorder.write(received_at_ms, data)
        result = feed.adapter.parse(data, received_at_ms)
        feed.stats.frame(len(data), result.errors, result.control)
        if not result.carries_data:
            if result.rejected:
                self.rejections += 1
                if self.rejections == 1:  # the text goes to the log only, never to status
                    log.warning("feed %s: the server sent an error frame: %.200r", feed.name, data)
            return
        self.rejections = 0
        self.last_data_at = time.monotonic()
        self.last_data_wall_ms = received_at_ms
        feed.stats.data()
        if self.first_data_at is None:
            self.first_data_at = self.last_data_at
            feed.data_resumed(self, received_at_ms)
        if result.events:
            feed.sink(result.events)
