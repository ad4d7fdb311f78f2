"""Registry of the fake's open websocket connections and its counters.

Shared by the server loop (which adds, updates and removes connections) and the test thread
(which publishes, waits for subscribers and reads stats). One lock guards it; publishing only
encodes on the calling thread and hands the frames to each connection's queue with
`loop.call_soon_threadsafe`, so the loop is never blocked and frames to one connection keep
publish order.

**Bounded queues, back-pressure.** Each connection holds at most `max_queued_frames` frames
not yet written to its socket (and the socket's kernel send buffer is kept small). A publisher
whose frames would overflow a connection's queue waits (on its own thread, never the loop's)
until the connection has sent enough: the slowest reader paces the publisher, so a simulated
market slows down to what its clients can take instead of piling frames up in memory. A
connection that sends nothing at all for `slow_consumer_seconds` while full is dropped (TCP
abort, counted in `slow_consumer_closes`; the frames it could not take are counted in
`frames_dropped`): the real exchange, which never slows down for anyone, drops clients that
stop reading.

Models Binance's stream delivery (protocol reference §1.2): a payload goes to every connection
subscribed to the exact stream name; `combined` connections get `{"stream":..,"data":..}`,
raw (`/ws`) connections the payload alone.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
Frame = tuple[bytes, int]  # (payload bytes, websocket opcode)
Payload = dict[str, Any] | list[Any] | str | bytes

COUNTERS = (
    "total_connections", "messages_received", "subscribes", "unsubscribes", "pings_sent",
    "pongs_received", "frames_sent", "forced_closes", "pong_timeout_closes",
    "rate_limit_closes", "too_many_streams_closes", "dropped_connections", "frames_dropped",
    "slow_consumer_closes", "publish_waits",
)  # fmt: skip


class Member(Protocol):
    """What the hub needs from a connection."""

    route: str
    path: str
    streams: list[str]
    combined: bool
    closing: bool
    queued: int  # frames handed to the connection and not yet written (guarded by the hub)

    def deliver(self, frames: list[Frame]) -> None: ...

    def close_slow(self) -> None:
        """Close a connection that does not read fast enough (called on the loop)."""
        ...


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def encode_frames(
    stream: str, payloads: Iterable[Payload], binary: bool, wrapped: bool
) -> list[Frame]:
    """Frames for one connection kind; str/bytes payloads are verbatim and never wrapped."""
    frames: list[Frame] = []
    prefix = '{"stream":' + _dumps(stream) + ',"data":'
    for payload in payloads:
        if isinstance(payload, bytes):
            frames.append((payload, OPCODE_BINARY if binary else OPCODE_TEXT))
        elif isinstance(payload, str):
            frames.append((payload.encode(), OPCODE_BINARY if binary else OPCODE_TEXT))
        else:
            body = _dumps(payload)
            text = prefix + body + "}" if wrapped else body
            frames.append((text.encode(), OPCODE_TEXT))
    return frames


class Hub:
    """Open connections by route, subscription lookups and counters."""

    def __init__(self, max_queued_frames: int = 2048, slow_consumer_seconds: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._members: list[Member] = []
        self._counters: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._paths: Counter[str] = Counter()
        self.max_queued_frames = max_queued_frames
        self.slow_consumer_seconds = slow_consumer_seconds
        self.waited_seconds = 0.0  # publishers' total wait for room (back-pressure)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None

    def add(self, member: Member) -> None:
        with self._changed:
            self._members.append(member)
            self._counters["total_connections"] += 1
            self._routes[member.route] += 1
            self._paths[member.path] += 1
            self._changed.notify_all()

    def remove(self, member: Member) -> None:
        with self._changed:
            if member in self._members:
                self._members.remove(member)
            member.closing = True  # a publisher waiting for its room gives up on it
            self._changed.notify_all()

    def update(
        self, member: Member, streams: Sequence[str] | None = None, combined: bool | None = None
    ) -> None:
        """Change a connection's subscriptions or `combined` flag (seen by the next publish)."""
        with self._changed:
            if streams is not None:
                member.streams = list(streams)
            if combined is not None:
                member.combined = combined
            self._changed.notify_all()

    def count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[key] += amount

    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members)

    def _subscribed(self, route: str, stream: str) -> list[Member]:
        return [
            m for m in self._members if m.route == route and not m.closing and stream in m.streams
        ]

    def publish(
        self, route: str, stream: str, payloads: Sequence[Payload], binary: bool = False
    ) -> int:
        """Queue `payloads` in order on every live `route` connection subscribed to `stream`,
        waiting for room in full queues (see the module doc); returns how many took them."""
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError("FakeBinance is not running; call start() first")
        with self._lock:
            targets = [(m, m.combined) for m in self._subscribed(route, stream)]
        encoded: dict[bool, list[Frame]] = {}
        delivered = 0
        for member, combined in targets:
            if combined not in encoded:
                encoded[combined] = encode_frames(stream, payloads, binary, combined)
            frames = encoded[combined]
            if self._reserve(member, len(frames), loop):
                loop.call_soon_threadsafe(member.deliver, frames)
                delivered += 1
        return delivered

    def _reserve(self, member: Member, count: int, loop: asyncio.AbstractEventLoop) -> bool:
        """Room for `count` more frames on `member`: wait for it (not on the loop's thread);
        False (frames dropped and counted) when the connection closes or stays full."""
        limit = self.max_queued_frames
        with self._changed:

            def room() -> bool:
                return member.closing or member.queued == 0 or member.queued + count <= limit

            if not room():
                waited = threading.get_ident() != self.loop_thread and self._wait(member, room)
                if not waited:
                    self._counters["frames_dropped"] += count
                    if not member.closing:
                        member.closing = True
                        self._counters["slow_consumer_closes"] += 1
                        loop.call_soon_threadsafe(member.close_slow)
                    return False
            if member.closing:
                return False
            member.queued += count
            return True

    def _wait(self, member: Member, room: Callable[[], bool]) -> bool:
        """Wait (lock held) until `room()`; False once the connection sent nothing at all
        for `slow_consumer_seconds` (a reader that is merely slow keeps it waiting)."""
        self._counters["publish_waits"] += 1
        started = time.monotonic()
        try:
            while True:
                before = member.queued
                if self._changed.wait_for(room, self.slow_consumer_seconds):
                    return True
                if member.queued >= before:  # no frame went out meanwhile
                    return False
        finally:
            self.waited_seconds += time.monotonic() - started

    def sent(self, member: Member, count: int) -> None:
        """`count` of `member`'s queued frames were written (or discarded): room again."""
        with self._changed:
            member.queued = max(0, member.queued - count)
            self._changed.notify_all()

    def queued_frames(self) -> int:
        """The fullest connection's queue right now."""
        with self._lock:
            return max((m.queued for m in self._members), default=0)

    def streams(self, route: str) -> set[str]:
        """Every stream at least one live `route` connection is subscribed to."""
        with self._lock:
            return {
                s for m in self._members if m.route == route and not m.closing for s in m.streams
            }

    def wait_for(self, route: str, stream: str, count: int, timeout: float) -> bool:
        """Block until at least `count` live `route` connections subscribe to `stream`."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self._subscribed(route, stream)) >= count, timeout
            )

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            stats: dict[str, Any] = {key: self._counters[key] for key in COUNTERS}
            stats["open_connections"] = len(self._members)
            stats["queued_frames_max"] = max((m.queued for m in self._members), default=0)
            stats["publish_wait_seconds"] = round(self.waited_seconds, 3)
            stats["open_by_route"] = dict(Counter(m.route for m in self._members))
            stats["connections_by_route"] = dict(self._routes)
            stats["connections_by_path"] = dict(self._paths)
        return stats


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    """Poll `predicate` from the calling thread until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
