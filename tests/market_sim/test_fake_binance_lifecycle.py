"""Start/stop, the context manager, import without side effects, and the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from market_sim.fake_binance import FakeBinance

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_import_starts_nothing() -> None:
    code = (
        "import threading, market_sim.fake_binance as f; f.FakeBinance(); "
        "assert threading.active_count() == 1, threading.enumerate()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=20)


def test_urls_need_a_running_server() -> None:
    fake = FakeBinance(symbols=["BTCUSDT"])
    with pytest.raises(RuntimeError):
        _ = fake.rest_base
    with pytest.raises(RuntimeError):
        fake.publish("!forceOrder@arr", {})
    fake.stop()  # stopping a server that never started is a no-op


def test_context_manager_serves_then_releases_the_port() -> None:
    with FakeBinance(symbols=["BTCUSDT"]) as fake:
        base = fake.rest_base
        assert fake.ws_market_base == base.replace("http", "ws") + "/market"
        assert fake.ws_root == base.replace("http", "ws")
        assert requests.get(f"{base}/fapi/v1/time", timeout=2).status_code == 200
        with pytest.raises(RuntimeError):
            fake.start()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/fapi/v1/time", timeout=2)


def test_start_on_a_busy_port_fails_cleanly() -> None:
    with FakeBinance(symbols=["BTCUSDT"]) as first:
        second = FakeBinance(symbols=["BTCUSDT"], port=first.port)
        with pytest.raises(RuntimeError, match="failed to start"):
            second.start()
        assert second.stats()["open_connections"] == 0


def test_invalid_settings_fail_fast() -> None:
    with pytest.raises(ValueError):
        FakeBinance(ping_interval=0)
    with pytest.raises(ValueError):
        FakeBinance(max_streams=0)


@pytest.fixture
def cli_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "market_sim.fake_binance", "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def test_cli_serves_until_interrupted(cli_process: tuple[subprocess.Popen[str], int]) -> None:
    process, port = cli_process
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert f"http://127.0.0.1:{port}" in banner
    info = requests.get(f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo", timeout=2).json()
    assert len(info["symbols"]) > 400
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=5) == 0
