"""Store benchmark: a 30-day history of 570 symbols, restart to serving, per-symbol reads, the
timeline callbacks and memory, on the real store, service and app.

    python benchmarks/bench_store.py [--symbols 570] [--days 30] [--fresh]

The store is prepared directly in SQLite (``INSERT ... SELECT`` over generated series, through
the real schema, its keys and its triggers), relative to the wall clock, in
``$TMPDIR/heatmap-bench-store/``: 1-minute candles for the last day, 5-minute candles and
5-minute open interest for ``--days``, 1-hour candles for a year (what the backfill keeps),
liquidations at 5 per second spread over the symbols for ``--days``, a day of mark prices at
one per minute. Preparing takes minutes, so the store is kept between runs and reused while it
is younger than ``--max-age-minutes`` (its last hour is then older than "now": the restart
rebuilds fewer events than a live store would; ``--fresh`` prepares it again).

Figures: restart to serving (service start on that data folder until ``/api/health`` answers
200, "rebuilding" or "ready", and ``/api/heatmap/<symbol>`` answers 200), until the stored candles
are loaded ("ready"); per-symbol 24 h candle read, last candle time, last open-interest time;
the timeline (time x price) main callback at 24 h and 7 d, p50/p99, for a symbol viewed for the
first time (every past hour read from the store) and for one viewed again (its past hours are
cached; only the hour in progress is read); RSS, whole and per symbol. Targets (issue 13):
restart < 5 s, 24 h candle read < 5 ms, timeline 24 h p99 < 50 ms, RSS <= 0.5 MiB per symbol
after a day (``--days 1``). Prints figures; asserts nothing about time.

Leaves out: mark prices at the engine's real sampling (one per symbol per 5 s: 30 days at 570
symbols would be ~295 million rows; one per minute for a day here), the live feed's traffic
while measuring (the fake Binance only sends a mark-price frame now and then so health can be
live), the backfill and the kline streams (both off), a cold OS page cache (the store was just
written or read).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_dashboard import callback_body, parse_known, percentile  # noqa: E402

DAY, HOUR, MINUTE = 86_400_000, 3_600_000, 60_000
LIQUIDATIONS_PER_SECOND = 5.0
CACHE = Path(tempfile.gettempdir()) / "heatmap-bench-store"


def names(count: int) -> list[str]:
    return [f"S{i:03d}USDT" for i in range(count)]


def fill(conn, symbols: list[str], days: int, now: int) -> dict[str, int]:
    """Every table, generated inside SQLite in key order; returns rows per table."""
    conn.execute("CREATE TEMP TABLE syms (n INTEGER PRIMARY KEY, symbol TEXT, base REAL)")
    conn.executemany("INSERT INTO syms VALUES (?, ?, ?)",
                     [(i, s, 1.0 + (i * 37 % 1000)) for i, s in enumerate(symbols)])  # fmt: skip
    series = "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {count})"
    price = "s.base * (1 + 0.02 * sin((t / 3600000.0) + s.n))"
    counts = {}

    def candles(interval: str, step: int, span: int) -> None:
        first = (now - span) // step * step
        count = span // step
        conn.execute(
            series.format(count=count) + f", ts(t) AS (SELECT {first} + i * {step} FROM k)"
            f" INSERT INTO candles SELECT 'binance', s.symbol, '{interval}', t, t + {step} - 1,"
            f" {price}, {price} * 1.002, {price} * 0.998, {price} * 1.001, 100, 100 * s.base,"
            " 50, 30, 1 FROM syms s, ts ORDER BY s.symbol, t"
        )
        counts[f"candles {interval}"] = count * len(symbols)

    candles("1m", MINUTE, DAY)
    candles("5m", 5 * MINUTE, days * DAY)
    candles("1h", HOUR, 365 * DAY)
    first = (now - days * DAY) // (5 * MINUTE) * 5 * MINUTE
    count = days * DAY // (5 * MINUTE)
    conn.execute(
        series.format(count=count) + f", ts(t) AS (SELECT {first} + i * 300000 FROM k)"
        f" INSERT INTO open_interest SELECT 'binance', s.symbol, '5m', t, 1e6 / s.base,"
        f" 1e6 * (1 + 0.1 * sin(t / 86400000.0)) FROM syms s, ts ORDER BY s.symbol, t"
    )  # fmt: skip
    counts["open interest 5m"] = count * len(symbols)
    conn.execute(
        series.format(count=1440) + f", ts(t) AS (SELECT {now - DAY} + i * 60000 FROM k)"
        f" INSERT INTO mark_prices SELECT 'binance', s.symbol, t, {price}"
        f" FROM syms s, ts ORDER BY s.symbol, t"
    )  # fmt: skip
    counts["mark prices"] = 1440 * len(symbols)
    per_symbol = int(LIQUIDATIONS_PER_SECOND * days * 86_400 / len(symbols))
    gap = days * DAY // per_symbol
    start = now - days * DAY
    conn.execute(
        series.format(count=per_symbol) + ", r AS MATERIALIZED (SELECT s.symbol, s.n, s.base,"
        f" {start} + k.i * {gap} + abs(random()) % {gap} AS t, abs(random()) % 2 AS side"
        " FROM syms s, k)"
        " INSERT OR IGNORE INTO liquidations (exchange, symbol, side, price, quantity,"
        " notional_usd, event_time_ms, received_at_ms, status)"
        " SELECT 'binance', symbol, side, px, 1.5, px * 1.5, t, t + 40, 'FILLED' FROM"
        " (SELECT symbol, side, t, base * (1 + 0.02 * sin(t / 3600000.0 + n))"
        " * (1 + (side * 2 - 1) * 0.01) AS px FROM r) ORDER BY symbol, t"
    )
    counts["liquidations"] = conn.execute("SELECT SUM(count) FROM liquidation_totals").fetchone()[0]
    return counts


def prepared_store(symbols: list[str], days: int, fresh: bool, max_age_minutes: float) -> Path:
    """The data folder holding the prepared store (kept between runs)."""
    from heatmap_engine.history.sqlite_store import SqliteStore

    folder = CACHE / f"{len(symbols)}-symbols-{days}-days"
    db = folder / "heatmap.sqlite3"
    if db.exists() and not fresh:
        store = SqliteStore(db)
        made = store.get_meta("bench_prepared_ms")
        store.close()
        age = (time.time() * 1000 - int(made or 0)) / MINUTE
        if made is not None and age < max_age_minutes:
            print(f"store: reused, prepared {age:.0f} min ago in {folder} (--fresh to redo)")
            return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    now = int(time.time() * 1000)
    store = SqliteStore(db)
    conn = store._write
    conn.execute("BEGIN")
    counts = fill(conn, symbols, days, now)
    conn.execute("INSERT INTO meta VALUES ('bench_prepared_ms', ?)", (str(now),))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = store.size_bytes()
    store.close()
    rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    print(f"store: prepared in {time.perf_counter() - started:.0f} s, {size / 2**30:.2f} GiB"
          f" in {folder}\n  rows: {rows}")  # fmt: skip
    return folder


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def restart(folder: Path, symbols: list[str], fake):
    """Start the service and app on ``folder``; returns (service, app, figures)."""
    from api.settings import ApiSettings
    from app import create_app
    from heatmap_engine.config import Settings
    from heatmap_engine.service import HeatmapService

    settings = Settings.from_env({
        "HEATMAP_SYMBOLS": ",".join(symbols), "HEATMAP_DATA_DIR": str(folder),
        "HEATMAP_BINANCE_WS_URL": fake.ws_market_base, "HEATMAP_BINANCE_REST_URL": fake.rest_base,
        "HEATMAP_BACKFILL": "0", "HEATMAP_KLINE_STREAMS": "0",
        "HEATMAP_FEED_SILENCE_SECONDS": "600",
    })  # fmt: skip
    started = time.perf_counter()
    service = HeatmapService(settings).start()
    app = create_app(settings, service, start_engine=False, api_settings=ApiSettings.from_env({}))
    client = app.server.test_client()
    figures = {"start() returned": time.perf_counter() - started}
    deadline = time.monotonic() + 300
    health = None
    while time.monotonic() < deadline:
        health = client.get("/api/health")
        heatmap = client.get(f"/api/heatmap/{symbols[0]}")
        if health.status_code == 200 and heatmap.status_code == 200:
            figures["serving (health 200, heatmap 200)"] = time.perf_counter() - started
            figures["history said"] = health.json.get("history")
            break
        time.sleep(0.02)
    else:
        raise SystemExit(f"never served: {health.json if health else None}")
    while service.history_state != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)
    figures["candles loaded (ready)"] = time.perf_counter() - started
    # the live estimated-levels books start from the store too (a day of bars each): the reads
    # below are timed once they are built, as a user meets the service a minute after start
    while time.monotonic() < deadline:
        if service.status()["levels"]["books"] >= len(symbols):
            break
        time.sleep(0.1)
    figures["levels books built"] = time.perf_counter() - started
    return service, app, figures


def time_reads(store, symbols: list[str], now: int) -> dict[str, tuple[float, float]]:
    """p50/p99 ms of the per-symbol reads, each symbol once."""
    from heatmap_engine.history.reads import CANDLES

    reader = store._reader()
    reads = {
        "24 h of 1m candles (SQL rows)": lambda s: reader.execute(
            CANDLES, (s, "1m", now - DAY, now, 1440)
        ).fetchall(),
        "24 h of 1m candles (as Candle)": lambda s: store.candles(s, "1m", now - DAY, now, 1440),
        "last candle time": lambda s: store.last_time("candles", s, "1m"),
        "last open-interest time": lambda s: store.last_time("open_interest", s, "5m"),
        "24 h of liquidations": lambda s: store.window_rows(s, now - DAY, now),
    }
    out = {}
    for name, read in reads.items():
        times = []
        for symbol in symbols:
            started = time.perf_counter()
            read(symbol)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = (statistics.median(times), percentile(times, 0.99))
    return out


def time_timeline(app, symbols: list[str], range_: str, calls: int) -> tuple[float, float, int]:
    """The timeline's main figure callback over ``calls`` symbols, nothing rendered before."""
    from dashboard.state import ViewState

    client = app.server.test_client()
    times, size = [], 0
    if len(set(symbols)) == 1:  # viewed again: the first view is not timed
        client.post("/_dash-update-component", json=callback_body(
            app, ViewState(symbols[0], view="timeline", range=range_).to_dict()))  # fmt: skip
    for symbol in symbols[:calls]:
        body = callback_body(app, ViewState(symbol, view="timeline", range=range_).to_dict())
        started = time.perf_counter()
        response = client.post("/_dash-update-component", json=body)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.get_data())
    return statistics.median(times), percentile(times, 0.99), size


def live_frames(fake, symbols: list[str], stop: threading.Event) -> None:
    """A mark-price frame now and then: the feed is live, so health can answer 200."""
    while not stop.wait(0.5):
        now = int(time.time() * 1000)
        price = {"p": "1.0", "ap": "1.0", "P": "1.0", "i": "1.0", "r": "0.0001", "st": 1}
        frame = [{"e": "markPriceUpdate", "E": now, "s": s, "T": now + HOUR, **price}
                 for s in symbols[:5]]  # fmt: skip
        fake.publish("!markPrice@arr@1s", frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=570)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=100, help="timeline calls per range (100)")
    parser.add_argument("--fresh", action="store_true", help="prepare the store again")
    parser.add_argument("--max-age-minutes", type=float, default=60.0)
    args = parse_known(parser, argv)
    from market_sim.fake_binance import FakeBinance

    symbols = names(args.symbols)
    folder = prepared_store(symbols, args.days, args.fresh, args.max_age_minutes)
    stop = threading.Event()
    with FakeBinance() as fake:
        feeder = threading.Thread(target=live_frames, args=(fake, symbols, stop), daemon=True)
        feeder.start()
        rss_before = rss_mib()
        service, app, figures = restart(folder, symbols, fake)
        try:
            print(f"restart on {args.symbols} symbols, {args.days} days (target: serving < 5 s)")
            for name, value in figures.items():
                shown = f"{value:.2f} s" if isinstance(value, float) else str(value)
                print(f"  {name:<36} {shown:>10}")
            restored = service.status()["history"]["restored_on_start"]
            print(f"  {'liquidations restored (the window)':<36} {restored:>10,}")
            now = int(time.time() * 1000)
            print("per-symbol reads, each symbol once, ms (target: 24 h candles < 5 ms)")
            for name, (p50, p99) in time_reads(service.history.store, symbols, now).items():
                print(f"  {name:<36} p50 {p50:>7.2f}   p99 {p99:>7.2f}")
            print(f"timeline main callback, {args.calls} symbols each, ms (target: 24 h p99 < 50)")
            for range_ in ("24h", "7d"):
                for label, shown in (("a new symbol each", symbols), ("one symbol again",
                                     [symbols[1]] * args.calls)):  # fmt: skip
                    p50, p99, size = time_timeline(app, shown, range_, args.calls)
                    print(f"  timeline {range_:<3} {label:<18}     p50 {p50:>7.1f}   "
                          f"p99 {p99:>7.1f}   {size / 1024:.0f} KB")  # fmt: skip
            rss = rss_mib()
            print(f"RSS {rss:.0f} MiB = {rss / args.symbols:.2f} MiB per symbol ({rss_before:.0f}"
                  f" MiB before the start; {(rss - rss_before) / args.symbols:.2f} MiB per symbol"
                  " more; target <= 0.5 MiB per symbol after a day: --days 1)")  # fmt: skip
        finally:
            stop.set()
            service.stop(10.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
