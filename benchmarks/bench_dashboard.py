"""Dashboard: server time and response size of the main figure callback per view (the browser's
side, a first load and the time to a drawn chart, is bench_first_load.py).

    python benchmarks/bench_dashboard.py [--calls 200]

The app is the real one (``create_app``) over a service that is never started: its engine holds
a busy synthetic BTC market (5,000 liquidations in the last 50 minutes, both sides), and its
history store holds a day of it (24,000 liquidations) and a day of 1-minute candles. Each call
posts to Dash's ``/_dash-update-component`` through the Flask test client with nothing rendered
yet, so every call builds its figure. Targets (issue 5): callback p50 under 50 ms, response under
500 KB. Prints figures; never asserts on time.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench_dashboard")
NOW_MS = 1_769_601_600_000
PRICE = 90_000.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def synthetic_day(count: int = 24_000, recent: int = 5_000, seed: int = 7) -> list:
    """Liquidations over a day, ``recent`` of them in the last 50 minutes."""
    from heatmap_engine.models import Liquidation

    rng = random.Random(seed)
    out = []
    for i in range(count):
        side = rng.choice(("long", "short"))
        offset = abs(rng.gauss(0, 0.04))
        level = PRICE * (1 - offset if side == "long" else 1 + offset)
        qty = round(rng.expovariate(1 / 0.5), 3) + 0.001
        age = rng.randrange(0, 50 * 60_000) if i < recent else rng.randrange(0, 86_400_000)
        t = NOW_MS - age
        out.append(Liquidation("binance", "BTCUSDT", side, level, qty, level * qty, t, t))
    return out


def day_of_candles() -> list:
    from heatmap_engine.models import Candle

    start = NOW_MS - NOW_MS % 60_000 - 1440 * 60_000
    out = []
    for i in range(1440):
        t = start + i * 60_000
        o, c = PRICE * (1 + math.sin(i / 40) * 0.01), PRICE * (1 + math.sin((i + 1) / 40) * 0.01)
        out.append(Candle("binance", "BTCUSDT", "1m", t, t + 59_999, o, max(o, c) * 1.001,
                          min(o, c) * 0.999, c, 50.0, 50.0 * c, 25.0, 900))  # fmt: skip
    return out


def stored_service(data_dir: str):
    """An unstarted service at ``NOW_MS`` with its history store open in ``data_dir`` and no
    exchange (loopback port 9): benchmarks fill it, then wrap it with ``app_over``."""
    from heatmap_engine.config import Settings
    from heatmap_engine.history.runtime import HistoryRuntime
    from heatmap_engine.service import HeatmapService

    settings = Settings.from_env({
        "HEATMAP_SYMBOLS": "BTCUSDT,ETHUSDT", "HEATMAP_DATA_DIR": data_dir,
        "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market",
        "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9",
    })  # fmt: skip
    service = HeatmapService(settings, clock=lambda: NOW_MS)
    service.history = HistoryRuntime(settings, service.rest)
    return service


def app_over(service):
    """The real app (default web settings) over ``service``, refreshed at ``NOW_MS``."""
    from api.settings import ApiSettings
    from app import create_app

    service.engine.refresh(NOW_MS)
    return create_app(
        service.settings, service, start_engine=False, api_settings=ApiSettings.from_env({})
    )


def build_app(data_dir: str):
    """The real app over a filled, unstarted service; returns (dash app, service)."""
    from heatmap_engine.models import MarkPrice

    service = stored_service(data_dir)
    liquidations, candles = synthetic_day(), day_of_candles()
    service.history.store.write_batch(liquidations, candles=candles)
    service.engine.process([x for x in liquidations if NOW_MS - x.event_time_ms < 3_600_000])
    service.engine.process([MarkPrice("binance", "BTCUSDT", PRICE, NOW_MS), *candles[-60:]])
    return app_over(service), service


def callback_body(app, state: dict) -> dict:
    """The request Dash's renderer sends for the refresh callback, with nothing rendered yet."""
    from layouts import ids

    key = next(k for k in app.callback_map if f"{ids.HEATMAP_GRAPH}.figure" in k)
    spec = app.callback_map[key]
    values = {f"{ids.STATE}.data": state, f"{ids.RENDERED}.data": {}}
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
               for part in key.strip(".").split("...")]  # fmt: skip

    def fill(items: list) -> list:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    return {"output": key, "outputs": outputs, "inputs": fill(spec["inputs"]),
            "state": fill(spec["state"]), "changedPropIds": [f"{ids.STATE}.data"]}  # fmt: skip


def time_callback(client, body: dict, calls: int) -> tuple[list[float], int]:
    client.post("/_dash-update-component", json=body)  # warm-up
    times, size = [], 0
    for _ in range(calls):
        started = time.perf_counter()
        response = client.post("/_dash-update-component", json=body)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.get_data())
    return times, size


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench_callbacks(app, calls: int) -> None:
    from dashboard.state import ViewState

    views = [("heatmap", "1h"), ("table", "1h"), ("timeline", "1h"), ("timeline", "24h"),
             ("map", "1h"), ("map", "24h")]  # fmt: skip
    client = app.server.test_client()
    header = f"{'view (range)':<18} {'p50 ms':>8} {'p99 ms':>8} {'response KB':>12}"
    lines = [f"main figure callback, {calls} calls each (targets: < 50 ms, < 500 KB)", header,
             "-" * len(header)]  # fmt: skip
    for view, range_ in views:
        body = callback_body(app, ViewState("BTCUSDT", view=view, range=range_).to_dict())
        times, size = time_callback(client, body, calls)
        lines.append(f"{view + ' (' + range_ + ')':<18} {statistics.median(times):>8.1f} "
                     f"{percentile(times, 0.99):>8.1f} {size / 1024:>12.1f}")  # fmt: skip
    sys.stdout.write("\n".join(lines) + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def filled_app(prefix: str) -> Iterator[tuple]:
    """``build_app`` over a temporary store, its history writer stopped at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        app, service = build_app(data_dir)
        try:
            yield app, service
        finally:
            service.history.stop(5.0)


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a free loopback port, served as ``python app.py`` serves it (threaded
    Werkzeug); yields its base URL."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bench-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


def parse_known(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments (run_all.py passes its own through: ignored, saying so), and quiet logs."""
    args, ignored = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    if ignored:
        log.warning("ignoring arguments meant for other benchmarks: %s", " ".join(ignored))
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="callback calls per view (200)")
    args = parse_known(parser, argv)
    with filled_app("bench-dashboard-") as (app, service):
        snapshot = service.snapshot("BTCUSDT")
        sys.stdout.write(
            f"market: {len(snapshot.clusters)} BTC clusters, {snapshot.events_in_window} "
            "liquidations in the window, 24,000 stored over a day, 1,440 candles\n"
        )
        bench_callbacks(app, args.calls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
