"""API throughput under gunicorn, before and after the API restructure, side by side in one run.

    python benchmarks/bench_api.py [--duration 10] [--connections 64] [--baseline REV]

Starts ``gunicorn --workers 1 --threads 8`` (the Procfile's shape) on free loopback ports, twice:
this tree's ``bench_server()``, and the same factory of the baseline commit (default
``BASELINE``, the last commit before the API became resources), checked out with ``git archive``
into a temporary folder at run time, so the old implementation exists only inside this run.
Each server holds the real app and API over an engine filled with the same synthetic market,
plus ``/bench/bare``, which answers the very same bytes the heatmap route returns,
pre-serialised, with no work at all. wrk drives each route with 64 connections; the script
prints requests per second, p50/p99 latency and non-2xx/3xx responses for both trees, the
after/before ratio per route (target: >= 0.90, i.e. no more than 10 % slower per request) and
each route's ratio to its tree's bare route. Every route's seconds are split into rounds taken
in turn across both servers, and the medians are printed: on a small shared machine a single
10 s run varies by more than the API's own cost. It also prints the in-process cost of the
parts the restructure changed (query validation, routing through the operation wrapper).
Left out: the history routes (HEATMAP_HISTORY=0 here: SQLite reads are not the API layer's
cost), the rate limiter and CORS allow-lists (off by default). It prints figures and never
asserts on time.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import timeit
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench_api")
BASELINE = "713c6d1e32901b2dccdaa3877280c97cf2ca5b17"  # the API before it became resources
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


def start_gunicorn(port: int, tree: Path = ROOT) -> subprocess.Popen:
    """gunicorn serving ``tree``'s own ``benchmarks/bench_api.py:bench_server()``."""
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
           "--bind", f"127.0.0.1:{port}", "--chdir", str(tree),
           "--pythonpath", f"{tree},{tree / 'benchmarks'}", "--log-level", "warning",
           "bench_api:bench_server()"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env["PYTHONPATH"] = str(tree)
    proc = subprocess.Popen(cmd, cwd=tree, env=env)
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


IN_PROCESS_PATHS = [
    "/bench/bare",
    "/api/heatmap/BTCUSDT",
    "/api/heatmap/BTCUSDT?min_strength=0.5",
    "/api/heatmap/btc/best",
    "/api/symbols",
    "/api/stats",
]


def checkout(rev: str, into: Path) -> Path | None:
    """``rev``'s tree extracted into ``into`` (``git archive``), or None when it is not there."""
    done = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        log.warning("baseline %s not available (%s): measuring this tree only", rev,
                    done.stderr.decode(errors="replace").strip())  # fmt: skip
        return None
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into


def measure(servers: dict[str, str], routes: list, args: argparse.Namespace) -> dict:
    """Each (server, route) gets ``duration`` seconds, split into ``rounds`` short wrk runs
    taken in turn with every other pair, so drift of a shared, noisy machine hits all alike."""
    seconds = max(1.0, args.duration / args.rounds)
    for base in servers.values():
        log.info("warming up %s for 2 s ...", base)
        run_wrk(base + routes[1][1], "warm-up", args, 2)
    runs: dict[tuple[str, str], list[Result]] = {}
    for round_number in range(args.rounds):
        log.info("round %d/%d: %d servers x %d routes x %gs", round_number + 1, args.rounds,
                 len(servers), len(routes), seconds)  # fmt: skip
        for name, path, headers in routes:
            for tree, base in servers.items():
                header_values = headers(base) if callable(headers) else headers
                result = run_wrk(base + path, name, args, seconds, header_values)
                runs.setdefault((tree, name), []).append(result)
    return {key: median_result(results) for key, results in runs.items()}


def print_table(results: dict, routes: list, trees: list[str]) -> None:
    columns = "".join(f" {t + ' req/s':>14} {'p50 ms':>7} {'p99 ms':>7} {'bad':>4}" for t in trees)
    ratio = f" {'after/before':>12}" if len(trees) == 2 else ""
    header = f"{'route':<38}{columns}{ratio} {'vs bare':>8}"
    lines = [header, "-" * len(header)]
    bare = {t: results[(t, routes[0][0])] for t in trees}
    for name, _, _ in routes:
        row = f"{name:<38}"
        for t in trees:
            r = results[(t, name)]
            row += f" {r.rps:>14.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.non_2xx_3xx:>4d}"
        last = results[(trees[-1], name)]
        if len(trees) == 2:
            row += f" {last.rps / results[(trees[0], name)].rps:>12.2f}"
        lines.append(row + f" {last.rps / bare[trees[-1]].rps:>8.2f}")
    sys.stdout.write("\n".join(lines) + "\n")


# Run inside each tree (its own bench_server): CPU microseconds per request through Flask's test
# client (process time, best of 5: other processes' load inflates wall time, not this), so the
# API layer's own cost shows without HTTP, wrk or machine noise.
_IN_PROCESS = """
import json, sys, time, timeit
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/benchmarks"]
from bench_api import bench_server
client = bench_server().test_client()
out = {}
for path in json.loads(sys.argv[2]):
    client.get(path)
    runs = timeit.repeat(lambda: client.get(path), number=2000, repeat=5, timer=time.process_time)
    out[path] = min(runs) / 2000 * 1e6
print(json.dumps(out))
"""


def in_process_us(tree: Path, paths: list[str]) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(tree), json.dumps(paths)],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=600,
                          check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_in_process(trees: dict[str, Path], paths: list[str]) -> None:
    """Per-request cost in process, per tree, and what query validation alone costs now."""
    from werkzeug.datastructures import MultiDict

    from api.query import parse_query
    from api.resources.heatmap import HeatmapQuery

    timings: dict[str, dict[str, float]] = {name: {} for name in trees}
    for _ in range(5):  # alternate the trees, keep each path's best: load drifts between runs
        for name, tree in trees.items():
            for path, us in in_process_us(tree, paths).items():
                timings[name][path] = min(us, timings[name].get(path, us))
    header = f"{'in process (test client), CPU us/request':<44}" + "".join(
        f" {name:>9}" for name in trees
    )
    lines = [header, "-" * len(header)]
    for path in paths:
        lines.append(f"{path:<44}" + "".join(f" {timings[n][path]:>9.1f}" for n in trees))
    args = MultiDict({"min_strength": "0.5", "max_distance": "3"})
    number = 20_000
    runs = timeit.repeat(lambda: parse_query(HeatmapQuery, args), number=number, repeat=5,
                         timer=time.process_time)  # fmt: skip
    best = min(runs)
    lines.append(f"of which query validation now (pydantic, 2 parameters): "
                 f"{best / number * 1e6:.1f} us")  # fmt: skip
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per route (10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    args, ignored = parser.parse_known_args(argv)  # run_all.py passes its own argument through
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if ignored:
        log.info("ignoring arguments meant for other benchmarks: %s", " ".join(ignored))
    if shutil.which("wrk") is None:
        log.error("wrk is not installed (apt-get install wrk)")
        return 2
    routes = [
        ("/bench/bare (same bytes, no work)", "/bench/bare", None),
        ("/api/heatmap/BTCUSDT", "/api/heatmap/BTCUSDT", None),
        ("/api/heatmap/BTCUSDT (If-None-Match)", "/api/heatmap/BTCUSDT",
         lambda base: {"If-None-Match": etag_of(f"{base}/api/heatmap/BTCUSDT")}),
        ("/api/heatmap/btc/best", "/api/heatmap/btc/best", None),
        ("/api/symbols", "/api/symbols", None),
    ]  # fmt: skip
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-baseline-") as tmp:
        trees = {"before": checkout(args.baseline, Path(tmp)), "after": ROOT}
        trees = {name: tree for name, tree in trees.items() if tree is not None}
        servers = {}
        try:
            for name, tree in trees.items():
                port = _free_port()
                procs.append(start_gunicorn(port, tree))
                servers[name] = f"http://127.0.0.1:{port}"
            results = measure(servers, routes, args)
        finally:
            for proc in procs:
                stop(proc)
        if "before" in trees:
            sys.stdout.write(f"before: {args.baseline[:12]} (git archive); after: this tree\n")
        print_table(results, routes, list(trees))
        print_in_process(trees, IN_PROCESS_PATHS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
