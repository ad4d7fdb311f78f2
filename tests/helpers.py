"""Test helpers (import as ``helpers``): real-data paths, free loopback ports, bounded waits."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


def real_data_dir(folder: str) -> Path:
    """A folder of ``../shared/data/real``; skips (or fails in CI) when it is missing."""
    path = REAL_DATA / folder
    if not path.is_dir():
        if os.environ.get("HEATMAP_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"real recordings required but {path} is missing")
        pytest.skip(f"real recordings not present at {path} (only on the project's machines)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02):
    """Polls ``predicate`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)
