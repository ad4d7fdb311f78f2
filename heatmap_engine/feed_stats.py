"""Thread-safe counters of one message source, exposed by ``status()``."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class FeedStats:
    """Frames, bytes, parse errors by reason, connects, reconnects, state and silence."""

    def __init__(self, source: str, url: str = ""):
        self.source = source
        self.url = url
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self.state = "idle"
        self.last_frame_monotonic: float | None = None
        self.last_frame_wall: float | None = None
        self.connected_since: float | None = None
        self.last_disconnect_reason: str | None = None
        self.next_retry_in: float | None = None
        self.streams = 0

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def set_state(self, state: str) -> None:
        self.state = state

    def connected(self, number: int) -> None:
        with self._lock:
            self._counts["connects"] += 1
            self.connected_since = time.time()
            self.next_retry_in = None
            if self.state != "live":
                self.state = "subscribing"

    def disconnected(self, reason: str) -> None:
        with self._lock:
            self._counts["disconnects"] += 1
            self.last_disconnect_reason = reason
            self.connected_since = None

    def reconnecting(self, delay: float) -> None:
        self.state = "reconnecting"
        self.next_retry_in = delay

    def frame(self, size: int, errors: tuple[str, ...] = (), control: bool = False) -> None:
        with self._lock:
            self._counts["frames"] += 1
            self._counts["bytes"] += size
            if control:
                self._counts["control_frames"] += 1
            for reason in errors:
                self._errors[reason] += 1
            self.last_frame_monotonic = time.monotonic()
            self.last_frame_wall = time.time()

    @property
    def parse_errors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            errors = dict(self._errors)
        since = (
            None
            if self.last_frame_monotonic is None
            else round(time.monotonic() - self.last_frame_monotonic, 3)
        )
        return {
            "source": self.source,
            "url": self.url,
            "streams": self.streams,
            "state": self.state,
            "frames": counts.get("frames", 0),
            "bytes": counts.get("bytes", 0),
            "control_frames": counts.get("control_frames", 0),
            "parse_errors": errors,
            "parse_errors_total": sum(errors.values()),
            "connects": counts.get("connects", 0),
            "reconnects": counts.get("reconnects", 0),
            "disconnects": counts.get("disconnects", 0),
            "rollovers": counts.get("rollovers", 0),
            "watchdog_trips": counts.get("watchdog_trips", 0),
            "pings_answered": counts.get("pings_answered", 0),
            "seconds_since_last_frame": since,
            "last_frame_at": self.last_frame_wall,
            "connected_since": self.connected_since,
            "last_disconnect_reason": self.last_disconnect_reason,
            "next_retry_in": self.next_retry_in,
        }
