"""The API as a user meets it: the engine live on full-universe traffic, gunicorn as the shipped
systemd unit runs it, direct and through the shipped nginx site, beside nginx serving the same
bytes as a file.

    python benchmarks/bench_api_live.py [--duration 10] [--connections 64] [--symbols 570]

Starts the fake Binance publishing full-universe traffic (``market_sim.traffic``: mark-price
arrays every second, klines, ~5 liquidations/s), the app under ``gunicorn --workers 1
--threads 8 'app:create_server()'`` with default settings (history on, in a temporary data
folder) on that feed, and Debian's nginx with ``deploy/nginx-liquidation-heatmap.conf`` in
front (its micro-cache and gzip as shipped), plus a second nginx server that serves the body of
``/api/heatmap/BTCUSDT`` as a static file. wrk drives, in turn, each of: the app direct, the app
through nginx, the static file; it prints requests per second, p50/p99 latency, the ratio of
each to nginx's static rate (target through nginx: >= 0.5) and how nginx answered (X-Cache-Status
counts of a sample). Requests ask for identity encoding, as wrk does (the gzip cost is left out),
and come from one host (loopback: no network latency). It prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:  # run as a script: make the project importable
        sys.path.insert(0, str(path))

from bench_api import Result, _free_port, run_wrk, stop  # noqa: E402
from nginx_site import nginx_conf, nginx_path  # noqa: E402

from market_sim.traffic import start_traffic  # noqa: E402

ROUTE = "/api/heatmap/BTCUSDT"


def wait_ok(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def start_app(port: int, traffic, data_dir: Path, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(
        HEATMAP_BINANCE_WS_URL=traffic.ws_market_base, HEATMAP_BINANCE_REST_URL=traffic.rest_base,
        HEATMAP_DATA_DIR=str(data_dir), HEATMAP_TRUSTED_PROXIES="127.0.0.2",
    )  # fmt: skip
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
           "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "15",
           "app:create_server()"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def cache_statuses(url: str, count: int = 40) -> dict[str, int]:
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        with urllib.request.urlopen(url, timeout=5) as answer:
            seen[answer.headers.get("X-Cache-Status", "none")] += 1
        time.sleep(0.05)
    return dict(seen)


def print_results(results: list[Result], static: Result) -> None:
    print(f"{'target':<30}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'÷ static':>10}")
    for r in results:
        ratio = r.rps / static.rps if static.rps else float("nan")
        print(f"{r.name:<30}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
              f"{r.non_2xx_3xx:>9}{ratio:>10.3f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--symbols", type=int, default=570, help="perpetuals the fake lists")
    args, ignored = parser.parse_known_args(argv)  # run_all.py passes its own argument through
    if ignored:
        print(f"ignoring arguments meant for other benchmarks: {' '.join(ignored)}")
    nginx = nginx_path()
    if shutil.which("wrk") is None or nginx is None:
        print("needs wrk and nginx (scripts/ensure-system.sh --bench installs them)")
        return 2
    traffic = start_traffic(symbols=args.symbols)
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-live-") as tmp_name:
        tmp = Path(tmp_name)
        log = (tmp / "gunicorn.log").open("wb")
        try:
            app_port, proxy_port, static_port = _free_port(), _free_port(), _free_port()
            procs.append(start_app(app_port, traffic, tmp / "data", log))
            direct = f"http://127.0.0.1:{app_port}"
            wait_ok(direct + ROUTE, procs[0])
            time.sleep(5)  # a few refreshes of the live engine: the route answers real data
            (tmp / "static").mkdir()
            with urllib.request.urlopen(direct + ROUTE, timeout=5) as answer:
                body = answer.read()
            (tmp / "static" / "heatmap.json").write_bytes(body)
            extra = (
                f"server {{ listen 127.0.0.1:{static_port}; root {tmp}/static; "
                "default_type application/json; }"
            )
            conf = nginx_conf(tmp, proxy_port, app_port, extra)
            procs.append(subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf)]))
            proxied = f"http://127.0.0.1:{proxy_port}"
            static_url = f"http://127.0.0.1:{static_port}/heatmap.json"
            wait_ok(proxied + ROUTE, procs[1])
            print(f"engine live on {args.symbols} symbols of fake traffic; body {len(body)} bytes;"
                  f" {args.duration:g} s per target, {args.connections} connections")  # fmt: skip
            run_wrk(static_url, "warm-up", args, 2)
            static = run_wrk(static_url, "nginx static file", args, args.duration)
            results = [
                run_wrk(direct + ROUTE, "app direct (gunicorn)", args, args.duration),
                run_wrk(proxied + ROUTE, "app through shipped nginx", args, args.duration),
                static,
            ]
            print_results(results, static)
            print(f"through nginx, 40 requests 50 ms apart: {cache_statuses(proxied + ROUTE)}")
            print("left out: gzip (wrk asks for identity), TLS, network latency, other routes")
        finally:
            for proc in reversed(procs):
                stop(proc)
            log.close()
            traffic.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
