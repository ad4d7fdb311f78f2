"""`market_sim.demo`: nothing at import, the CLI serves until Ctrl-C and writes the truth."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import free_port

from market_sim.demo import start_demo_market

REPO = Path(__file__).resolve().parents[2]


def test_import_starts_nothing() -> None:
    code = (
        "import threading, market_sim.demo, market_sim.sim.runner, market_sim.sim.market; "
        "assert threading.active_count() == 1, threading.enumerate()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=20)


def test_start_demo_market_serves_the_simulated_symbols_from_a_fixed_start() -> None:
    start = 1_795_000_200_000
    demo = start_demo_market(
        seed=5, speed=1.0, prefill_minutes=2, symbols=["BTCUSDT", "1000PEPEUSDT"],
        start_ms=start,
    )  # fmt: skip
    try:
        assert demo.sim.symbols == ("BTCUSDT", "1000PEPEUSDT")
        full_start = demo.sim.config.start_ms  # at least 2 minutes back, on a 5-minute step
        assert start - 420_000 < full_start <= start - 120_000 and full_start % 300_000 == 0
        assert demo.sim.now_ms >= start
        assert demo.ws_market_base == demo.rest_base.replace("http", "ws") + "/market"
        summary = requests.get(f"{demo.rest_base}/sim/truth/summary", timeout=5).json()
        assert summary["seed"] == 5 and summary["symbols"] == ["BTCUSDT", "1000PEPEUSDT"]
        assert summary["truth_start_ms"] == full_start  # the fully simulated part
        days = (summary["time_ms"] - summary["history_start_ms"]) / 86_400_000
        assert 30 <= days < 30.01 and demo.history_days == pytest.approx(days, abs=1e-3)
        klines = requests.get(
            f"{demo.rest_base}/fapi/v1/klines",
            params={"symbol": "BTCUSDT", "interval": "1d", "limit": 40}, timeout=5,
        ).json()  # fmt: skip
        assert len(klines) == 31 and klines[0][0] <= summary["history_start_ms"]
        pepe = requests.get(
            f"{demo.rest_base}/fapi/v1/premiumIndex", params={"symbol": "1000PEPEUSDT"}, timeout=5
        ).json()
        assert 0.005 < float(pepe["markPrice"]) < 0.02  # the 1000x multiplier's price level
    finally:
        demo.stop()
        demo.stop()  # idempotent
    assert not demo.runner.running


def test_cli_prints_the_urls_serves_and_writes_the_truth_on_exit(tmp_path: Path) -> None:
    port, truth = free_port(), tmp_path / "truth.jsonl"
    command = [
        sys.executable, "-m", "market_sim.demo", "--port", str(port), "--speed", "60",
        "--prefill-minutes", "5", "--symbols", "BTCUSDT,ETHUSDT", "--truth-file", str(truth),
    ]  # fmt: skip
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            ws_line, rest_line = process.stdout.readline(), process.stdout.readline()
            assert ws_line.strip() == f"HEATMAP_BINANCE_WS_URL=ws://127.0.0.1:{port}/market"
            assert rest_line.strip() == f"HEATMAP_BINANCE_REST_URL=http://127.0.0.1:{port}"
            summary = requests.get(f"http://127.0.0.1:{port}/sim/truth/summary", timeout=5).json()
            assert summary["symbols"] == ["BTCUSDT", "ETHUSDT"]
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
    lines = truth.read_text().splitlines()
    header = json.loads(lines[0])
    assert (
        header["type"] == "header"
        and len(lines) == 1 + header["liquidations"] + header["open_positions"]
    )
