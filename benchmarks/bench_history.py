"""History benchmark: store insert rate under ingestion, rebuild time, size per million.

    python benchmarks/bench_history.py [--events 1000000] [--symbols 400]

1. Insert: frames are parsed and applied by the engine on one thread (as live ingestion does),
   whose history sink feeds the real ``HistoryWriter`` thread; the figure is liquidations
   committed per second from the first submit to the last commit.
2. Rebuild: a fresh engine restores every event of the window from the store (what a restart
   does) and computes its clusters.
3. Size: database bytes (with WAL) per million stored liquidations.

The writer runs with the service's default queue (``HEATMAP_HISTORY_QUEUE_SIZE``), so what a
burst faster than the writer commits costs is reported as it is ("dropped"), not sized away.
Leaves out: mark prices, candles and open interest (liquidations only), the web layer, and a
restart's candle load (``bench_store.py`` measures a restart on a 30-day store).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import NOW, force_frames, make_engine, symbols

from heatmap_engine.config import Settings
from heatmap_engine.exchanges import binance
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.history.writer import HistoryWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=400)
    args, _ = parser.parse_known_args()  # run_all.py passes its own argument through
    names = symbols(args.symbols)
    print(
        f"== history benchmark: {args.events:,} liquidations, {args.symbols} symbols (SQLite WAL)"
    )
    raw = [frame for chunk in force_frames(args.events, names, seed=3) for frame in chunk]
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "h.sqlite3")
        queue = Settings.from_env({}).history_queue_size  # the default, as a service runs
        writer = HistoryWriter(store, max_queue=queue).start()
        engine = make_engine(names)
        engine.history_sink = writer.submit
        started = time.perf_counter()
        for frame in raw:
            engine.process(binance.parse(frame, NOW).events)
        ingested = time.perf_counter() - started
        writer.flush(600)
        elapsed = time.perf_counter() - started
        writer.stop()
        stored = store.totals()
        count = sum(int(v["count"]) for v in stored.values())
        dropped = writer.status()["dropped_total"]
        print(
            f"ingest (parse + engine + submit)    {args.events / ingested:>12,.0f} liquidations/s"
        )
        print(f"committed to SQLite, end to end     {count / elapsed:>12,.0f} liquidations/s")
        print(f"writer queue (the default)          {queue:>12,} items")
        print(f"stored / dropped by a full queue    {count:>12,} / {dropped:,}"
              f" ({dropped / args.events:.1%} of the burst)")  # fmt: skip
        size = store.size_bytes()
        print(f"store size                          {size / 2**20:>12.1f} MiB"
              f" = {size / max(1, count) * 1e6 / 2**20:.1f} MiB per million")  # fmt: skip
        fresh = make_engine(names)
        started = time.perf_counter()
        restored = fresh.restore_from(store, names, NOW - 3_600_000)
        fresh.refresh(NOW)
        rebuild = time.perf_counter() - started
        print(f"rebuild {restored:,} events, {args.symbols} symbols   {rebuild:>12.2f} s")
        store.close()


if __name__ == "__main__":
    main()
