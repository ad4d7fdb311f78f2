"""Heatmap (estimated): the refresh callback's server time and response size, and the time until
Chromium has drawn it, for the 30-day range (and 24 h beside it).

    python benchmarks/bench_estimated_view.py [--calls 100] [--loads 5] [--bars 5]

The app is the real one (``create_app``) over a never-started service whose history store holds
32 days of synthetic BTC 1-minute candles (a random walk with volume and taker-buy volume) and
5-minute open interest: the 30-day range and the model's 48 h warm-up. Each call posts the
refresh to Dash's ``/_dash-update-component`` with nothing rendered yet, so every call builds
the whole figure; the first call of a range also runs the model (``service.levels.result``
caches per data version, as between two bars live), shown apart. Response sizes: the JSON as
the app makes it, and Brotli as a browser receives it. After a new bar: one more 1m candle
stored, then the callback at once, without and with the refresher
(``heatmap_engine.levels.refresher``) running, and with it how long until the new result is
there. Drawn: a fresh browser context at
1440 × 900 opens ``/?levels_range=30d``; the time from navigation start until the heatmap's
image and the candles are in the DOM. Targets (issue 11): callback under 100 ms, response
under 500 KB, drawn under 2 s. Prints figures; never asserts on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):  # run as a script: the project and bench_dashboard
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from bench_dashboard import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    app_over,
    callback_body,
    parse_known,
    percentile,
    serving,
    stored_service,
)

NOW_MS = 1_769_601_600_000
MINUTE = 60_000
DAYS = 32
PRICE = 90_000.0
VIEWPORT = {"width": 1440, "height": 900}
DRAWN_JS = """() => {
    const g = document.querySelector('#estimated-graph .js-plotly-plot');
    return g && g.querySelector('.heatmaplayer image') && g.querySelector('.boxlayer .trace path')
        ? performance.now() : false;
}"""


def market(seed: int = 5) -> tuple[list, list]:
    """``DAYS`` of 1m candles up to NOW_MS and 5m open interest (contracts)."""
    from heatmap_engine.models import Candle, OpenInterest

    rng = np.random.default_rng(seed)
    count = DAYS * 1440
    start = NOW_MS - count * MINUTE
    close = PRICE * np.exp(np.cumsum(rng.normal(0, 0.0007, count)))
    opens = np.r_[PRICE, close[:-1]]
    wick = np.exp(np.abs(rng.normal(0, 0.0004, (2, count))))
    high, low = np.maximum(opens, close) * wick[0], np.minimum(opens, close) * 1 / wick[1]
    volume = rng.lognormal(3, 0.8, count)
    taker = volume * rng.uniform(0.3, 0.7, count)
    candles = [
        Candle("binance", "BTCUSDT", "1m", start + i * MINUTE, start + (i + 1) * MINUTE - 1,
               float(opens[i]), float(high[i]), float(low[i]), float(close[i]),
               float(volume[i]), float(volume[i] * close[i]), float(taker[i]), 100)
        for i in range(count)
    ]  # fmt: skip
    oi = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.002, count // 5 + 1)))
    readings = [("5m", OpenInterest("binance", "BTCUSDT", start + i * 5 * MINUTE, float(v), None))
                for i, v in enumerate(oi)]  # fmt: skip
    return candles, readings


def build(data_dir: str):
    from heatmap_engine.models import MarkPrice

    service = stored_service(data_dir)
    candles, readings = market()
    for a in range(0, len(candles), 20_000):
        service.history.store.write_batch([], candles=candles[a : a + 20_000])
    service.history.store.write_batch([], open_interest=readings)
    service.engine.process([MarkPrice("binance", "BTCUSDT", candles[-1].close, NOW_MS)])
    return app_over(service), service


def bench_callback(app, calls: int) -> list[str]:
    import brotli

    from dashboard.state import ViewState

    client = app.server.test_client()
    header = (f"{'range':<6} {'first ms':>9} {'p50 ms':>7} {'p99 ms':>7} {'JSON KB':>8} "
              f"{'br KB':>6}")  # fmt: skip
    lines = [f"estimated view refresh callback, {calls} calls each (targets: < 100 ms, "
             "< 500 KB)", header, "-" * len(header)]  # fmt: skip
    for range_name in ("24h", "30d"):
        state = ViewState("BTCUSDT", levels_range=range_name).to_dict()
        body = callback_body(app, state)
        started = time.perf_counter()
        client.post("/_dash-update-component", json=body)  # runs the model: the seam caches
        first = (time.perf_counter() - started) * 1000
        times, size = [], 0
        for _ in range(calls):
            started = time.perf_counter()
            response = client.post("/_dash-update-component", json=body)
            times.append((time.perf_counter() - started) * 1000)
            data = response.get_data()
            size = len(data)
        wire = len(brotli.compress(data, quality=5))
        p50, p99 = statistics.median(times), percentile(times, 0.99)
        lines.append(f"{range_name:<6} {first:>9.0f} {p50:>7.1f} {p99:>7.1f} "
                     f"{size / 1024:>8.1f} {wire / 1024:>6.1f}")  # fmt: skip
    lines.append("(first: the call that also runs the model; then the seam's cached result)")
    return lines


def new_bar(service, index: int) -> None:
    """The ``index``-th 1m candle after the stored ones, as the history writer stores it."""
    from heatmap_engine.models import Candle

    t = NOW_MS + index * MINUTE
    candle = Candle("binance", "BTCUSDT", "1m", t, t + MINUTE - 1, PRICE, PRICE * 1.0004,
                    PRICE * 0.9996, PRICE, 10.0, 10.0 * PRICE, 5.0, 100)  # fmt: skip
    service.history.store.write_batch([], candles=[candle])


def _rendered_key(response) -> str:
    from layouts import ids

    return response.get_json()["response"][ids.RENDERED]["data"]["estimated"]


def _spread(values: list[float]) -> str:
    return f"p50 {statistics.median(values):>6.0f} ms, max {max(values):>5.0f} ms"


def bench_new_bar(app, service, bars: int) -> list[str]:
    """The callback right after a new bar is stored: without the refresher (the reader runs the
    model, as in an unstarted service) and with it running (the previous result is served,
    marked updating, and the refresher runs the model); then how long until the new result is
    there (the staleness: from the store write until the refresher has it cached)."""
    import threading

    from dashboard.state import ViewState
    from heatmap_engine.levels.refresher import LevelsRefresher

    client = app.server.test_client()
    source, index = service.levels, 0
    lines = [f"right after a new 1m bar is stored, {bars} bars each:"]
    for range_name in ("24h", "30d"):
        body = callback_body(app, ViewState("BTCUSDT", levels_range=range_name).to_dict())
        client.post("/_dash-update-component", json=body)  # the view has a result to show
        plain = []
        for _ in range(bars):
            index += 1
            new_bar(service, index)
            started = time.perf_counter()
            client.post("/_dash-update-component", json=body)
            plain.append((time.perf_counter() - started) * 1000)
        stop = threading.Event()
        refresher = LevelsRefresher(source, stop)  # the service's defaults
        unstarted, source.refresher = source.refresher, refresher
        thread = threading.Thread(target=refresher.run, name="heatmap-levels-refresh")
        thread.start()
        served, stale, marked, fresh = [], [], 0, 0
        try:
            while not refresher.running:
                time.sleep(0.001)
            client.post("/_dash-update-component", json=body)  # read: a view to keep fresh
            for _ in range(bars):
                runs = refresher.runs
                index += 1
                new_bar(service, index)
                stored = time.perf_counter()
                response = client.post("/_dash-update-component", json=body)
                served.append((time.perf_counter() - stored) * 1000)
                marked += "|updating|" in _rendered_key(response)
                while refresher.runs == runs:  # the refresher's run, woken by the read
                    time.sleep(0.002)
                stale.append((time.perf_counter() - stored) * 1000)
                after = client.post("/_dash-update-component", json=body)
                fresh += "|updating|" not in _rendered_key(after)
        finally:
            stop.set()
            thread.join(10)
            source.refresher = unstarted  # the service's own, never started
        lines += [
            f"  {range_name:<4} callback, no refresher (runs the model): {_spread(plain)}",
            f"  {range_name:<4} callback, refresher running:             {_spread(served)} "
            f"({marked}/{bars} served the previous result, marked updating)",
            f"  {range_name:<4} until the new result is there:           {_spread(stale)} "
            f"(then {fresh}/{bars} callbacks served it; the page asks at its next refresh "
            "tick, 5 s by default)",
        ]
    lines.append(
        "left out: the live feed and its tracker (no live-book profile, no open-interest "
        "poller), other views the refresher keeps fresh at the same time (it runs them in "
        "turn, the one a reader waits for first), other readers, the page's refresh tick and "
        "the browser's drawing of the updated figure"
    )
    return lines


def bench_draw(base: str, loads: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    drawn = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(loads + 1):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(f"{base}/?symbol=BTCUSDT&levels_range=30d")
            handle = page.wait_for_function(DRAWN_JS, timeout=60_000, polling="raf")
            if i:  # the first load warms the server up
                drawn.append(handle.json_value())
            context.close()
        browser.close()
    return [
        f"30d estimated heatmap drawn in Chromium, {loads} fresh loads (target: < 2000 ms): "
        f"p50 {statistics.median(drawn):.0f} ms, max {max(drawn):.0f} ms (from navigation start)"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="callback calls per range (100)")
    parser.add_argument("--loads", type=int, default=5, help="fresh browser loads (5)")
    parser.add_argument("--bars", type=int, default=5, help="new bars per range (5)")
    args = parse_known(parser, argv)
    with tempfile.TemporaryDirectory(prefix="bench-estimated-") as data_dir:
        app, service = build(data_dir)
        try:
            lines = [f"market: {DAYS} days of 1m BTC candles and 5m open interest stored"]
            lines += bench_callback(app, args.calls)
            lines += bench_new_bar(app, service, args.bars)
            if not args.loads:
                lines.append("drawn: skipped (--loads 0)")
            elif Path(CHROMIUM).exists():
                with serving(app) as base:
                    lines += bench_draw(base, args.loads)
            else:
                lines.append(f"drawn: skipped, no Chromium at {CHROMIUM}")
            sys.stdout.write("\n".join(lines) + "\n")
        finally:
            service.history.stop(5.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
