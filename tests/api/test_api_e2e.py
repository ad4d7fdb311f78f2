"""End to end: ``python app.py`` as a subprocess against the fake Binance, then every curl example
of the README run verbatim (only the host and port are swapped for the test server's)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers import free_port

from market_sim import fake_binance

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "README.md"
DOC_BASE = "http://localhost:8004"
CSV_HEADER = "id,symbol,exchange,side,price,quantity,notional_usd,time,time_ms,received_at,status"


def curl_examples() -> list[str]:
    """Every line starting with ``curl`` inside a fenced bash block of the README."""
    blocks = re.findall(r"```bash\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip().startswith("curl ")]  # fmt: skip


def _wait(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"app.py exited with {proc.returncode} while waiting for {what}"
        try:
            if condition():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def exchange() -> Iterator:
    fb = fake_binance.FakeBinance(ping_interval=5.0).start()
    try:
        yield fb
    finally:
        fb.stop()


@pytest.fixture
def server(exchange, tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(
        HEATMAP_BINANCE_WS_URL=exchange.ws_market_base,
        HEATMAP_BINANCE_REST_URL=exchange.rest_base,
        HEATMAP_UPDATE_INTERVAL="0.2",
        HEATMAP_DATA_DIR=str(tmp_path / "data"),
        HEATMAP_LOG_LEVEL="INFO",
        # the prices come from the published market only: on a loaded machine the wait for the
        # backfill can outlast the default 10 s, and the REST fallback would then replace them
        # with the fake's own premiumIndex prices (PEPE at 0.01, its clusters then 18 % away)
        HEATMAP_PRICE_STALE_SECONDS="3600",
    )
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        if proc.returncode not in (0, -15):
            print((tmp_path / "app.log").read_text(errors="replace")[-4000:])


def _feed_market(exchange, market_at) -> None:
    assert exchange.wait_for_subscribers("!forceOrder@arr", timeout=30.0)
    assert exchange.wait_for_subscribers("!markPrice@arr@1s", timeout=5.0)
    now = int(time.time() * 1000)
    for _, raw in market_at(now):
        stream = "!forceOrder@arr" if "forceOrder" in raw else "!markPrice@arr@1s"
        exchange.publish(stream, raw)


def _run(line: str, base: str) -> tuple[int | None, dict | str]:
    """Run one example verbatim (host swapped); returns (status if -i was given, the JSON body,
    or the text of a CSV body)."""
    args = shlex.split(line.replace(DOC_BASE, base), comments=True)
    done = subprocess.run(args, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, (line, done.stderr)
    out, status = done.stdout, None
    if "-i" in args:  # bytes, so the header block still ends with CRLF CRLF
        head, _, out = out.partition(b"\r\n\r\n")
        status = int(head.split()[1])
    if out.startswith(CSV_HEADER.encode()):
        return status, out.decode()
    return status, json.loads(out)


def _history_is_in(base: str) -> bool:
    """The market's liquidations are committed and BTC's candles and OI are backfilled."""
    paths = ("liquidations", "candles", "open-interest")
    return all(requests.get(f"{base}/api/{p}/BTCUSDT", timeout=5).json()["count"] for p in paths)


def _check_body(line: str, expected: int, body: dict | str) -> None:
    """What an example's answer must hold, beyond its status."""
    if isinstance(body, str):  # CSV: the header, then rows unless a fixed past range was asked
        rows = body.splitlines()
        assert expected == 200 and rows[0] == CSV_HEADER and (len(rows) > 1 or "start=" in line)
        return
    assert body["success"] is (expected < 400), (line, body)
    if expected != 200:
        return
    if re.search(r"[?&]at=", line):  # a fixed past time: before this run's history, so no clusters
        assert body["at"] == body["timestamp"] and body["version"] == 0, (line, body)
    elif "/api/levels/" in line:  # the estimate over the backfilled candles and open interest
        cells = (body.get("data") or body).get("liquidation_leverage_data")
        assert cells or body["profile"]["buckets"], (line, body)
    elif "/api/heatmap/" in line:
        assert body.get("clusters") or body.get("best"), (line, body)
    elif "/api/stats" in line:
        assert body["connection_state"] == "live" and body["liquidations"]["total"] > 0
    elif any(f"/api/{p}/" in line for p in ("liquidations", "candles", "open-interest")):
        assert body["count"] > 0 or "start=" in line, (line, body)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl examples need curl")
def test_docs_curl_examples_against_the_real_app(server, exchange, market_at):
    base, proc = server
    _feed_market(exchange, market_at)

    # every symbol a heatmap example asks for (as written: "pepe" too) has clusters and a price
    asked = sorted(set(re.findall(r"/api/heatmap/(\w+)", " ".join(curl_examples()))))

    def market_is_in() -> bool:
        bodies = [requests.get(f"{base}/api/heatmap/{s}", timeout=5).json() for s in asked]
        return all(b["clusters"] and b["current_price"] is not None for b in bodies)

    _wait(market_is_in, 60, f"clusters and a price for {', '.join(asked)}", proc)
    _wait(lambda: requests.get(f"{base}/api/health", timeout=5).status_code == 200,
          30, "health 200", proc)  # fmt: skip
    _wait(lambda: _history_is_in(base), 60, "stored liquidations, candles, open interest", proc)
    examples = curl_examples()
    assert len(examples) >= 6 and any("format=csv" in line for line in examples)
    for line in examples:
        expected = int(m.group(1)) if (m := re.search(r"#\s*->\s*(\d{3})", line)) else 200
        status, body = _run(line, base)
        assert status in (None, expected), line
        _check_body(line, expected, body)


def test_gunicorn_factory_serves_the_api_with_a_running_engine(exchange, monkeypatch, tmp_path):
    import app as app_module

    for name in [k for k in os.environ if k.startswith("HEATMAP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HEATMAP_BINANCE_WS_URL", exchange.ws_market_base)
    monkeypatch.setenv("HEATMAP_BINANCE_REST_URL", exchange.rest_base)
    monkeypatch.setenv("HEATMAP_DATA_DIR", str(tmp_path / "data"))
    server = app_module.create_server()
    service = server.extensions["heatmap"]
    try:
        assert service.started_at is not None
        assert exchange.wait_for_subscribers("!forceOrder@arr", timeout=30.0)
        body = server.test_client().get("/api/symbols").get_json()
        assert body["success"] is True and "BTCUSDT" in body["symbols"]
    finally:
        assert service.stop(5.0)
