"""First load of the page: bytes on the wire, requests, and the time until a chart is drawn, in
headless Chromium, per view; and what each request of one load costs.

    python benchmarks/bench_first_load.py [--loads 7]

The app is the real one (``create_app``, compression and cache headers as shipped) served by the
same threaded Werkzeug server as ``python app.py``, over the busy synthetic BTC market of
``bench_dashboard.py`` (a never-started service: 5,000 liquidations in the window, a day stored).
Each load is a fresh browser context (empty cache) at 1440 × 900; "drawn" is the moment the view's
marks are in the DOM (bands, dots, bars), timed from navigation start. Bytes are Resource
Timing's ``transferSize`` (headers and the compressed body) of the page and of every request
started before the chart was drawn. A repeat visit (same context, cache warm) is shown once per
view. Loopback: no network latency or bandwidth limit, so the times are the browser's and the
server's work only. Targets (issue 13): first load <= 1 MB on the wire, chart drawn < 1.5 s p50.
Prints figures; never asserts on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):  # run as a script: the project and bench_dashboard
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_dashboard import CHROMIUM, CHROMIUM_ARGS, filled_app, parse_known, serving  # noqa: E402

VIEWPORT = {"width": 1440, "height": 900}
# the view's marks in the DOM: what a user sees as "the chart is there"
DRAWN = {
    "heatmap": "#heatmap-graph .barlayer .point",
    "timeline": "#timeline-graph .scatterlayer .point",
    "map": "#map-graph .barlayer .point",
}
MEASURE_JS = """(drawnAt) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const before = performance.getEntriesByType('resource').filter(r => r.startTime <= drawnAt);
    return {
        bytes: nav.transferSize + before.reduce((sum, r) => sum + r.transferSize, 0),
        requests: 1 + before.length,
        rows: [[nav.name, 'document', nav.transferSize, nav.decodedBodySize, nav.duration]]
            .concat(before.map(r => [r.name, r.initiatorType, r.transferSize, r.decodedBodySize,
                                     r.responseEnd - r.startTime])),
    };
}"""


def load(context, url: str, view: str) -> dict:
    """One navigation: drawn time (ms from navigation start), bytes, requests, rows."""
    page = context.new_page()
    page.goto(url)
    selector = DRAWN[view]
    handle = page.wait_for_function(
        f"() => document.querySelector('{selector}') ? performance.now() : false",
        timeout=60_000,
        polling="raf",
    )
    drawn_at = handle.json_value()
    measured = page.evaluate(MEASURE_JS, drawn_at)
    page.close()
    return {"drawn": drawn_at, **measured}


def short(url: str, base: str) -> str:
    path = url.removeprefix(base) or "/"
    return path if len(path) <= 72 else path[:69] + "..."


def print_requests(result: dict, base: str) -> None:
    header = f"{'request':<72} {'type':<10} {'wire kB':>8} {'body kB':>8} {'ms':>6}"
    lines = ["what each request of one fresh load of the heatmap costs:", header, "-" * len(header)]
    for name, kind, wire, body, ms in sorted(result["rows"], key=lambda r: -r[2]):
        lines.append(f"{short(name, base):<72} {kind:<10} {wire / 1000:>8.1f} "
                     f"{body / 1000:>8.1f} {ms:>6.0f}")  # fmt: skip
    lines.append(
        f"{'total':<72} {'':<10} {result['bytes'] / 1000:>8.1f} "
        f"{sum(r[3] for r in result['rows']) / 1000:>8.1f}"
    )
    sys.stdout.write("\n".join(lines) + "\n\n")


def bench(base: str, loads: int) -> None:
    from playwright.sync_api import sync_playwright

    header = (f"{'view':<10} {'drawn p50 ms':>12} {'max ms':>7} {'wire kB':>8} {'requests':>9}"
              f" {'repeat kB':>10} {'repeat ms':>10}")  # fmt: skip
    lines = [f"fresh loads, {loads} per view (targets: <= 1000 kB on the wire, drawn < 1500 ms "
             "p50)", header, "-" * len(header)]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        load(browser.new_context(viewport=VIEWPORT), f"{base}/?view=heatmap", "heatmap")  # warm-up
        for view in DRAWN:
            url = f"{base}/?symbol=BTCUSDT&view={view}"
            fresh, repeat = [], None
            for i in range(loads):
                context = browser.new_context(viewport=VIEWPORT)
                fresh.append(load(context, url, view))
                if i == 0:
                    repeat = load(context, url, view)  # the same browser again: cache warm
                context.close()
            if view == "heatmap":
                print_requests(fresh[0], base)
            drawn = [r["drawn"] for r in fresh]
            lines.append(
                f"{view:<10} {statistics.median(drawn):>12.0f} {max(drawn):>7.0f} "
                f"{statistics.median(r['bytes'] for r in fresh) / 1000:>8.1f} "
                f"{statistics.median(r['requests'] for r in fresh):>9.0f} "
                f"{repeat['bytes'] / 1000:>10.1f} {repeat['drawn']:>10.0f}"
            )
        browser.close()
    lines.append("(repeat: a second load in the same browser; fingerprinted files come from its "
                 "cache)")  # fmt: skip
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=7, help="fresh loads per view (7)")
    args = parse_known(parser, argv)
    if not Path(CHROMIUM).exists():
        sys.stdout.write(f"first load: skipped, no Chromium at {CHROMIUM}\n")
        return 0
    with filled_app("bench-first-load-") as (app, _service), serving(app) as base:
        bench(base, args.loads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
