"""API throughput under gunicorn: the real heatmap route beside a bare pre-serialised route.

    python benchmarks/bench_api.py [--duration 10] [--connections 64]

Starts ``gunicorn --workers 1 --threads 8`` (the Procfile's shape) on a free loopback port with
``bench_server()``: the real app and API over an engine filled with a synthetic market, plus
``/bench/bare``, which answers the very same bytes the heatmap route returns, pre-serialised,
with no work at all. wrk drives each route with 64 connections; the script prints requests per
second, p50/p99 latency, non-2xx/3xx responses and each route's ratio to the bare one (target
for /api/heatmap/BTCUSDT: >= 0.80, zero non-2xx). Each route's seconds are split into rounds
taken in turn with the other routes, and the medians are printed: on a small shared machine a
single 10 s run of one route varies by more than the API's own cost. It prints figures and never
asserts on time.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench_api")
NOW_MS = 1_769_601_600_000
BENCH_ENV = {
    "HEATMAP_SYMBOLS": "BTCUSDT,ETHUSDT",
    "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market",
    "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9",
    "HEATMAP_HISTORY": "0",  # the engine is never started here; nothing to persist
}


def synthetic_market(count: int = 5_000, price: float = 90_000.0, seed: int = 7) -> list:
    """Liquidations around ``price`` over the last 50 minutes, both sides, and a mark price."""
    from heatmap_engine.models import Liquidation, MarkPrice

    rng = random.Random(seed)
    events: list = []
    for _ in range(count):
        side = rng.choice(("long", "short"))
        level = (
            price * (1 - abs(rng.gauss(0, 0.04)))
            if side == "long"
            else price * (1 + abs(rng.gauss(0, 0.04)))
        )
        qty = round(rng.expovariate(1 / 0.5), 3) + 0.001
        t = NOW_MS - rng.randrange(0, 50 * 60_000)
        events.append(Liquidation("binance", "BTCUSDT", side, level, qty, level * qty, t, t))
    events.append(MarkPrice("binance", "BTCUSDT", price, NOW_MS))
    return events


def bench_server():
    """Gunicorn factory: the real app (engine filled, not started) plus the bare route."""
    from flask import Response

    from api.settings import ApiSettings
    from app import create_app
    from heatmap_engine.config import Settings
    from heatmap_engine.service import HeatmapService

    settings = Settings.from_env(BENCH_ENV)
    service = HeatmapService(settings, clock=lambda: NOW_MS)
    service.engine.process(synthetic_market())
    service.engine.refresh(NOW_MS)
    app = create_app(settings, service, start_engine=False, api_settings=ApiSettings.from_env({}))
    server = app.server
    bare: dict[str, bytes] = {}
    server.add_url_rule(
        "/bench/bare", "bench_bare", lambda: Response(bare["body"], mimetype="application/json")
    )
    bare["body"] = server.test_client().get("/api/heatmap/BTCUSDT").data
    return server


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    requests: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(name: str, output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    return Result(name, rps, p50, p99, int(bad.group(1)) if bad else 0, total)


def run_wrk(
    url: str, name: str, args: argparse.Namespace, seconds: float, headers: dict | None = None
) -> Result:
    cmd = ["wrk", "--latency", f"-t{args.threads}", f"-c{args.connections}",
           f"-d{seconds:g}s", "--timeout", "5s"]  # fmt: skip
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr}")
    return parse_wrk(name, done.stdout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
           "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
           "--pythonpath", f"{ROOT},{ROOT / 'benchmarks'}", "--log-level", "warning",
           "bench_api:bench_server()"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers["ETag"]


def median_result(runs: list[Result]) -> Result:
    """Per-figure medians of interleaved rounds; non-2xx and requests are summed."""
    return Result(
        runs[0].name,
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.non_2xx_3xx for r in runs),
        sum(r.requests for r in runs),
    )


def measure(base: str, routes: list, args: argparse.Namespace) -> list[Result]:
    """Each route gets ``duration`` seconds, split into ``rounds`` short wrk runs taken in turn
    with the other routes, so drift of a shared, noisy machine hits every route alike."""
    seconds = max(1.0, args.duration / args.rounds)
    log.info("warming up for 2 s ...")
    run_wrk(base + routes[1][1], "warm-up", args, 2)
    runs: dict[str, list[Result]] = {name: [] for name, _, _ in routes}
    for round_number in range(args.rounds):
        log.info(
            "round %d/%d: %d routes x %gs", round_number + 1, args.rounds, len(routes), seconds
        )
        for name, path, headers in routes:
            runs[name].append(run_wrk(base + path, name, args, seconds, headers))
    return [median_result(runs[name]) for name, _, _ in routes]


def print_table(results: list[Result], bare: Result) -> None:
    header = f"{'route':<38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs bare':>8}"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.name:<38} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.non_2xx_3xx:>8d} {r.rps / bare.rps:>8.2f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per route (10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args, ignored = parser.parse_known_args(argv)  # run_all.py passes its own argument through
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if ignored:
        log.info("ignoring arguments meant for other benchmarks: %s", " ".join(ignored))
    if shutil.which("wrk") is None:
        log.error("wrk is not installed (apt-get install wrk)")
        return 2
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(port)
    try:
        routes = [
            ("/bench/bare (same bytes, no work)", "/bench/bare", None),
            ("/api/heatmap/BTCUSDT", "/api/heatmap/BTCUSDT", None),
            ("/api/heatmap/BTCUSDT (If-None-Match)", "/api/heatmap/BTCUSDT",
             {"If-None-Match": etag_of(f"{base}/api/heatmap/BTCUSDT")}),
            ("/api/heatmap/btc/best", "/api/heatmap/btc/best", None),
        ]  # fmt: skip
        results = measure(base, routes, args)
    finally:
        stop(proc)
    print_table(results, results[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
