"""Record raw frames with their receive time to JSON lines, and replay them as a message source.

A recording line is ``{"received_at_ms": <int>, "frame": "<the raw text frame>"}``. Replay feeds
every frame through the venue adapter's real ``parse`` (the same function the live feed uses),
so what a recording proves about parsing holds for the live stream.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import orjson

from heatmap_engine.exchanges.base import Event, VenueAdapter
from heatmap_engine.feed_stats import FeedStats

log = logging.getLogger(__name__)


class Recorder:
    """Appends frames to a JSONL file; safe to call from several reader threads. Flushes every
    ``flush_every`` frames or ``flush_seconds``, whichever comes first."""

    def __init__(self, path: str | Path, flush_every: int = 100, flush_seconds: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = self.path.open("ab")
        self._lock = threading.Lock()
        self._pending = 0
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._flushed_at = time.monotonic()
        self.frames = 0

    def write(self, received_at_ms: int, frame: str | bytes) -> None:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        line = orjson.dumps({"received_at_ms": received_at_ms, "frame": text}) + b"\n"
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self.frames += 1
            self._pending += 1
            now = time.monotonic()
            if self._pending >= self.flush_every or now - self._flushed_at >= self.flush_seconds:
                self._file.flush()
                self._pending = 0
                self._flushed_at = now

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_recording(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yields ``(received_at_ms, raw_frame)``; a damaged line is logged and skipped."""
    with Path(path).open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                yield int(record["received_at_ms"]), str(record["frame"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("recording %s line %d is damaged; skipped", path, number)


class ReplaySource:
    """Plays recorded frames through ``adapter.parse`` into a sink, at a chosen speed.

    ``speed`` 0 replays as fast as possible; 1.0 keeps the recorded pacing; 60 is a minute per
    second. ``run()`` replays synchronously; ``start()`` does it on a named thread.
    """

    def __init__(
        self,
        frames: Callable[[], Iterator[tuple[int, str]]] | str | Path,
        adapter: VenueAdapter,
        sink: Callable[[tuple[Event, ...]], None],
        speed: float = 0.0,
    ):
        self._frames = frames if callable(frames) else (lambda p=frames: read_recording(p))
        self.adapter = adapter
        self.sink = sink
        self.speed = speed
        self.stats = FeedStats(source=f"replay:{adapter.name}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        self.stats.set_state("replay")
        first: int | None = None
        started = time.monotonic()
        for received_at_ms, raw in self._frames():
            if self._stop.is_set():
                break
            if self.speed > 0:
                first = received_at_ms if first is None else first
                due = started + (received_at_ms - first) / 1000 / self.speed
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
            result = self.adapter.parse(raw, received_at_ms)
            self.stats.frame(len(raw), result.errors, result.control)
            if result.events:
                self.sink(result.events)
        self.stats.set_state("replay finished")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="heatmap-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def status(self) -> dict:
        return self.stats.as_dict()
