"""Several connections to one venue as one message source.

Streams are packed into connections of at most ``adapter.max_streams_per_connection``: the
first carries the venue's always-on all-market streams plus as many per-symbol streams as fit,
the rest carry per-symbol streams only. With the default 28 symbols everything fits on one
connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from heatmap_engine.feed import LiveFeed

FeedFactory = Callable[[tuple[str, ...], str], LiveFeed]
_SUMMED = ("frames", "data_frames", "bytes", "control_frames", "connects", "reconnects",
           "disconnects", "failed_attempts", "rollovers", "watchdog_trips", "pings_answered",
           "streams")  # fmt: skip


def pack_streams(base: tuple[str, ...], extra: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    """``base`` first, then ``extra``, in connections of at most ``size`` streams."""
    streams = list(dict.fromkeys((*base, *extra)))
    return [tuple(streams[i : i + size]) for i in range(0, len(streams), size)] or [()]


class FeedGroup:
    def __init__(self, make_feed: FeedFactory, base: tuple[str, ...], size: int):
        self._make_feed = make_feed
        self._base = base
        self._size = size
        self._lock = threading.Lock()
        self.feeds: list[LiveFeed] = []
        self._started = False

    def _add(self, chunks: list[tuple[str, ...]]) -> None:
        for chunk in chunks:
            name = "market" if not self.feeds else f"market-{len(self.feeds) + 1}"
            feed = self._make_feed(chunk, name)
            self.feeds.append(feed)
            if self._started:
                feed.start()

    def subscribe(self, extra: tuple[str, ...]) -> None:
        """Add per-symbol streams; new ones go on new connections (live ones are kept)."""
        with self._lock:
            if not self.feeds:
                self._add(pack_streams(self._base, extra, self._size))
                return
            have = {s for f in self.feeds for s in f.streams}
            new = tuple(s for s in extra if s not in have)
            if new:
                self._add(pack_streams((), new, self._size))

    def start(self) -> None:
        with self._lock:
            if not self.feeds:
                self._add(pack_streams(self._base, (), self._size))
            self._started = True
            for feed in self.feeds:
                feed.start()

    def stop(self, timeout: float = 5.0) -> bool:
        with self._lock:
            return all([feed.stop(timeout) for feed in self.feeds])

    def threads(self) -> dict[str, bool]:
        """Every feed's supervisor and connection threads: name -> alive."""
        with self._lock:
            feeds = list(self.feeds)
        return {name: alive for feed in feeds for name, alive in feed.threads().items()}

    def status(self) -> dict[str, Any]:
        with self._lock:
            statuses = [feed.status() for feed in self.feeds]
        if len(statuses) == 1:
            return {**statuses[0], "connections": 1}
        merged = dict(statuses[0])  # the primary: all-market streams, state, last frame
        errors: Counter[str] = Counter()
        for status in statuses:
            errors.update(status["parse_errors"])
        for key in _SUMMED:
            merged[key] = sum(s.get(key, 0) for s in statuses)
        merged["parse_errors"] = dict(errors)
        failures: Counter[str] = Counter()
        for status in statuses:
            failures.update(status.get("loop_failures", {}))
        merged["loop_failures"] = dict(failures)
        merged["parse_errors_total"] = sum(errors.values())
        merged["connections"] = len(statuses)
        merged["per_connection"] = [
            {k: s[k] for k in ("source", "state", "streams", "frames", "reconnects",
                               "seconds_since_last_data", "last_disconnect_reason")}
            for s in statuses
        ]  # fmt: skip
        return merged
