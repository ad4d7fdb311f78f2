"""Thread-safe counters of one message source, exposed by ``status()``."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


def _since(monotonic_at: float | None) -> float | None:
    return None if monotonic_at is None else round(time.monotonic() - monotonic_at, 3)


class FeedStats:
    """Frames, bytes, parse errors by reason, connects, reconnects, state and silence.

    What a page or ``/api/health`` says about the feed comes from here, in plain words: the
    ``host``, whether a connection ``ever_connected``, whether the host is ``reachable`` (False
    while the last attempt could not even open a connection), ``last_disconnect_reason`` and
    ``next_retry_in`` (seconds, counting down).
    """

    def __init__(self, source: str, url: str = "", host: str = ""):
        self.source = source
        self.url = url
        self.host = host
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self.state = "idle"
        self.last_frame_monotonic: float | None = None
        self.last_frame_wall: float | None = None
        self.last_data_monotonic: float | None = None
        self.last_data_wall: float | None = None
        self.connected_since: float | None = None
        self.ever_connected = False
        self.reachable: bool | None = None
        self.last_disconnect_reason: str | None = None
        self._retry_at: float | None = None
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
            self.ever_connected = True
            self.reachable = True
            self._retry_at = None
            if self.state != "live":
                self.state = "subscribing"

    def disconnected(self, reason: str, reachable: bool = True) -> None:
        """A connection ended (``reachable`` False: it could not even be opened)."""
        with self._lock:
            self._counts["disconnects" if reachable else "failed_attempts"] += 1
            self.last_disconnect_reason = reason
            self.connected_since = None
            self.reachable = reachable

    def reconnecting(self, delay: float) -> None:
        self.state = "reconnecting"
        self._retry_at = time.monotonic() + delay

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

    def data(self) -> None:
        """The frame just counted carried market data."""
        with self._lock:
            self._counts["data_frames"] += 1
            self.last_data_monotonic = time.monotonic()
            self.last_data_wall = time.time()

    @property
    def parse_errors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            errors = dict(self._errors)
        retry_at = self._retry_at
        next_retry = (
            round(max(0.0, retry_at - time.monotonic()), 1)
            if retry_at is not None and self.state == "reconnecting"
            else None
        )
        names = (
            *("frames", "data_frames", "bytes", "control_frames", "connects", "reconnects"),
            *("disconnects", "failed_attempts", "rollovers", "watchdog_trips", "pings_answered"),
        )
        return {
            "source": self.source,
            "url": self.url,
            "host": self.host,
            "streams": self.streams,
            "state": self.state,
            **{name: counts.get(name, 0) for name in names},
            "parse_errors": errors,
            "parse_errors_total": sum(errors.values()),
            "seconds_since_last_frame": _since(self.last_frame_monotonic),
            "seconds_since_last_data": _since(self.last_data_monotonic),
            "last_frame_at": self.last_frame_wall,
            "last_data_at": self.last_data_wall,
            "connected_since": self.connected_since,
            "ever_connected": self.ever_connected,
            "reachable": self.reachable,
            "last_disconnect_reason": self.last_disconnect_reason,
            "next_retry_in": next_retry,
        }
