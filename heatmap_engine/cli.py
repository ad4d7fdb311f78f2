"""Command-line jobs behind ``python app.py record`` and ``python app.py replay``."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

from heatmap_engine.config import Settings
from heatmap_engine.exchanges import binance
from heatmap_engine.recording import ReplaySource
from heatmap_engine.service import HeatmapService

log = logging.getLogger(__name__)


def record(
    settings: Settings, out: str | Path, seconds: float | None, stop: threading.Event
) -> tuple[dict, bool]:
    """Connect and write every raw frame to ``out`` (JSON lines) until ``stop`` or ``seconds``;
    returns the final status and whether the service stopped cleanly (everything written).

    Clusters and history run as usual, so a recording session is also a normal ingest.
    """
    settings = dataclasses.replace(settings, record_path=str(out))
    service = HeatmapService(settings).start()
    try:
        stop.wait(seconds)
    finally:
        stopped = service.stop(10.0)
    status = service.status()
    log.info("recorded %d frames to %s", status["feed"].get("frames", 0), out)
    return status, stopped


def replay(
    settings: Settings, path: str | Path, speed: float, stop: threading.Event
) -> tuple[dict, bool]:
    """Play a recording through the real parser into the engine and the store in
    ``settings.data_dir``; returns the final status once every frame is written, and whether
    the service stopped cleanly (False: something was not written; the log says what)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no recording at {path}")
    settings = dataclasses.replace(settings, backfill=False)
    sources: list[ReplaySource] = []

    def factory(sink):
        source = ReplaySource(path, binance.ADAPTER, sink, speed=speed)
        sources.append(source)
        return source

    service = HeatmapService(settings, source_factory=factory, mode="replay", event_time=True)
    service.start()
    try:
        while not stop.is_set() and sources[0].status()["state"] != "replay finished":
            stop.wait(0.05)
        deadline = time.monotonic() + 30
        while service.status()["queue_depth"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stopped = service.stop(30.0)
    return service.status(), stopped
