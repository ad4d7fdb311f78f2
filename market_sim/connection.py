"""One fake-Binance websocket connection: queue, keepalive clock, close paths (§1.2).

Each accepted connection has one outgoing queue drained by one sender task (publish order is
kept; bounded by the hub, see `market_sim.hub`) and one timer task that models Binance's
keepalive and lifetime rules: a ping frame every `ping_interval`, a drop when the oldest
unanswered ping is `pong_timeout` old, and a forced close `max_connection_seconds` after
opening ("24 h"). More than
`max_client_messages_per_second` client text/binary messages in any one-second window closes
the connection (control frames such as pongs are not counted).

Close codes (Binance documents none): forced lifetime close 1000, `drop_connections(abrupt=False)`
and server shutdown 1001, rate limit / pong timeout / too many streams 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from market_sim.hub import OPCODE_TEXT, Frame, Hub

logger = logging.getLogger(__name__)

CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_POLICY = 1000, 1001, 1008
PROGRESS_FRAMES = 64  # a long item gives room back every this many frames sent


@dataclass(frozen=True)
class WsLimits:
    """Connection rules; defaults are Binance's documented values (§1.2)."""

    ping_interval: float = 180.0
    pong_timeout: float = 600.0
    max_connection_seconds: float = 86400.0
    max_client_messages_per_second: int = 10
    max_streams: int = 1024
    close_timeout: float = 2.0  # how long a server-initiated close waits for the client's reply


class RateWindow:
    """Client messages in the last second; models Binance's 10 incoming messages/s rule."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Record one message at `now` (seconds); False once the last 1 s holds > limit."""
        self._times.append(now)
        while self._times[0] <= now - 1.0:
            self._times.popleft()
        return len(self._times) <= self.limit


@dataclass(frozen=True)
class _CloseAfterQueue:
    code: int
    counter: str


class Connection:
    """One accepted websocket: subscriptions, outgoing queue, keepalive clock."""

    def __init__(
        self, hub: Hub, limits: WsLimits, request: web.Request, route: str, combined: bool
    ) -> None:
        self.hub, self.limits, self.request = hub, limits, request
        self.route, self.path, self.combined = route, request.path, combined
        self.streams: list[str] = []
        self.closing = False
        self.draining = False  # a close is queued behind pending frames
        self.awaiting_pong_since: float | None = None
        self.close_task: asyncio.Task[bool] | None = None
        self.ws = web.WebSocketResponse(
            autoping=False, compress=False, timeout=limits.close_timeout, max_msg_size=1 << 20
        )
        # (frames, counted): counted frames were reserved in the hub's bounded queue
        self._queue: asyncio.Queue[tuple[list[Frame], bool] | _CloseAfterQueue] = asyncio.Queue()
        self.queued = 0  # reserved frames not yet written (the hub's bound; guarded by it)
        self.rate = RateWindow(limits.max_client_messages_per_second)
        self._tasks: list[asyncio.Task[None]] = []
        self._aborted = False

    def deliver(self, frames: list[Frame], counted: bool = True) -> None:
        """Queue frames for the sender (called on the loop, also via call_soon_threadsafe);
        `counted` frames were reserved with the hub (published), replies are not."""
        if not self.closing:
            self._queue.put_nowait((frames, counted))

    def send_json(self, payload: object) -> None:
        """A reply to the client (outside the published frames' bound)."""
        frame = (json.dumps(payload, separators=(",", ":")).encode(), OPCODE_TEXT)
        self.deliver([frame], counted=False)

    def close_slow(self) -> None:
        """The hub found this connection's queue full for too long: drop it (TCP abort, as
        for a client that stopped reading; a close frame could not get through anyway)."""
        self.closing = True
        self._aborted = True
        logger.info("dropping %s: it does not read its frames fast enough", self.path)
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def close_after_queue(self, code: int, counter: str) -> None:
        """Close once every frame queued so far has been sent (e.g. after an error frame).

        Client messages arriving meanwhile are no longer answered.
        """
        self.draining = True
        self._queue.put_nowait(_CloseAfterQueue(code, counter))

    def request_close(self, code: int, counter: str) -> None:
        """Start a close handshake now; the handler waits for it (bounded by close_timeout)."""
        if self.closing:
            return
        self.closing = True
        self.hub.count(counter)
        logger.debug("closing %s with %s (%s)", self.path, code, counter)
        self.close_task = asyncio.ensure_future(self.ws.close(code=code))

    def abort(self, counter: str) -> None:
        """Drop the TCP connection without a close frame."""
        if self._aborted:
            return
        self._aborted = True
        if not self.closing:
            self.hub.count(counter)
        self.closing = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def shutdown(self) -> None:
        """Server stop: send close 1001 without waiting for the reply, then close TCP."""
        self.closing = True
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self.ws.send_frame(CLOSE_GOING_AWAY.to_bytes(2, "big"), WSMsgType.CLOSE)
        transport = self.request.transport
        if transport is not None:
            transport.close()

    def start_tasks(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self._run_sender()),
            asyncio.ensure_future(self._run_timers()),
        ]

    async def finish(self) -> None:
        """Stop the helper tasks and let any close handshake complete."""
        self.closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.close_task is not None:
            await asyncio.gather(self.close_task, return_exceptions=True)
        elif self.ws.prepared and not self.ws.closed:
            await self.ws.close(code=CLOSE_GOING_AWAY)

    async def _run_sender(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _CloseAfterQueue):
                self.request_close(item.code, item.counter)
                return
            if self.closing:
                return
            frames, counted = item
            done = 0  # frames of this item already given back to the hub's bound
            try:
                for index, (data, opcode) in enumerate(frames, 1):
                    await self.ws.send_frame(data, WSMsgType(opcode))
                    if counted and index - done >= PROGRESS_FRAMES:  # a long burst progresses
                        self.hub.sent(self, index - done)
                        done = index
            except ConnectionError:
                return
            finally:
                if counted:
                    self.hub.sent(self, len(frames) - done)
            self.hub.count("frames_sent", len(frames))

    def _next_deadline(self, expires: float, next_ping: float) -> float:
        deadlines = [expires, next_ping]
        if self.awaiting_pong_since is not None:
            deadlines.append(self.awaiting_pong_since + self.limits.pong_timeout)
        return min(deadlines)

    async def _run_timers(self) -> None:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        expires = opened + self.limits.max_connection_seconds
        next_ping = opened + self.limits.ping_interval
        while not self.closing:
            now = loop.time()
            if now >= expires:
                self.request_close(CLOSE_NORMAL, "forced_closes")
                return
            waiting = self.awaiting_pong_since
            if waiting is not None and now - waiting >= self.limits.pong_timeout:
                self.request_close(CLOSE_POLICY, "pong_timeout_closes")
                return
            if now >= next_ping:
                try:
                    await self.ws.ping(b"")
                except ConnectionError:
                    return
                self.hub.count("pings_sent")
                next_ping = now + self.limits.ping_interval
                if self.awaiting_pong_since is None:
                    self.awaiting_pong_since = now
            await asyncio.sleep(max(0.0, self._next_deadline(expires, next_ping) - loop.time()))
