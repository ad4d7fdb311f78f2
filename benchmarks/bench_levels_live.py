"""Live estimated levels: the tracker's tick for 400 symbols, and the 30-day levels API answer.

    python benchmarks/bench_levels_live.py [--symbols 400] [--runs 3]

1. ``LevelsTracker.tick`` as the service's ``heatmap-levels`` thread runs it: per minute each
   of 400 symbols gets one newly closed 1m candle in the engine's published candles (a
   1,440-candle tuple, as the engine keeps) and every fifth minute one polled open-interest
   reading (which commits the five pending bars). Books started a day earlier (a day of 1m
   bars). Target: under 1 s per minute for all 400 (the tick runs every 5 s; a minute's bars
   arrive in the tick after they close).
2. ``GET /api/levels/BTCUSDT?range=30d`` through the Flask app over a history store of 30 days
   (+ the 48 h warm-up) of 1m candles and 5m open interest: the first answer (store read, 15m
   aggregation, the run, JSON), a repeated one (cache hit), the body size in both formats, and
   ``/map``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from heatmap_engine.levels import LevelsSettings, load_brackets
from heatmap_engine.levels.tracker import LevelsTracker
from heatmap_engine.models import Candle, OpenInterest

MINUTE = 60_000
NOW = int(time.time() * 1000) // 3_600_000 * 3_600_000


def candles(symbol: str, start_ms: int, count: int, seed: int, price: float) -> list[Candle]:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 0.0007, count)))
    open_ = np.r_[price, close[:-1]]
    wick = np.exp(np.abs(rng.normal(0, 0.0003, (2, count))))
    high, low = np.maximum(open_, close) * wick[0], np.minimum(open_, close) / wick[1]
    volume = rng.lognormal(3, 0.8, count)
    taker = volume * rng.uniform(0.3, 0.7, count)
    return [
        Candle("binance", symbol, "1m", t, t + MINUTE - 1, o, h, lo, c, v, v * c, tb, 10)
        for t, o, h, lo, c, v, tb in zip(
            (start_ms + MINUTE * np.arange(count)).tolist(),
            open_.tolist(), high.tolist(), low.tolist(), close.tolist(),
            volume.tolist(), taker.tolist(), strict=True,
        )
    ]  # fmt: skip


def tracker_tick(symbols: int) -> None:
    names = [f"SYM{i}USDT" for i in range(symbols)]
    start = NOW - 1440 * MINUTE
    series = {s: candles(s, start, 1500, i, float(10 ** (i % 5))) for i, s in enumerate(names)}
    published = {s: tuple(c[:1440]) for s, c in series.items()}
    tracker = LevelsTracker(LevelsSettings.from_env({}), load_brackets(),
                            lambda s: published[s], lambda: None, lambda: NOW)  # fmt: skip
    for i, s in enumerate(names):  # every book starts at a reading at the day's start
        tracker.add_reading(OpenInterest("binance", s, start, 1_000.0 + i))
    t = time.perf_counter()
    tracker.tick(names)
    warm_s = time.perf_counter() - t
    print(f"1. tracker tick, {symbols} symbols: started with a day of 1m bars each in "
          f"{warm_s:.1f} s")  # fmt: skip
    minutes, bar_ms, reading_ms = 60, [], []
    for m in range(minutes):
        for s in names:
            window = series[s][m + 1 : 1441 + m]
            published[s] = tuple(window)
        if (m + 1) % 5 == 0:
            for i, s in enumerate(names):
                end = series[s][1439 + m].open_time_ms + MINUTE
                tracker.add_reading(OpenInterest("binance", s, end, 1_000.0 + i + m))
        t = time.perf_counter()
        tracker.tick(names)
        (reading_ms if (m + 1) % 5 == 0 else bar_ms).append((time.perf_counter() - t) * 1000)
    print(f"   a minute's closed bar into every book:   p50 {statistics.median(bar_ms):6.1f} ms, "
          f"max {max(bar_ms):6.1f} ms")  # fmt: skip
    print(f"   ... with a reading each (commits 5 bars): p50 "
          f"{statistics.median(reading_ms):6.1f} ms, max {max(reading_ms):6.1f} ms")  # fmt: skip
    print(f"   worst minute: {max(reading_ms + bar_ms):6.1f} ms   target: under 1 s "
          f"(fed {tracker.bars_fed:,} bars, {tracker.readings_fed:,} readings)")  # fmt: skip


def api_30d(runs: int) -> None:
    from api.settings import ApiSettings
    from app import create_app
    from heatmap_engine.config import Settings
    from heatmap_engine.history.runtime import DB_NAME
    from heatmap_engine.history.sqlite_store import SqliteStore
    from heatmap_engine.service import HeatmapService

    with tempfile.TemporaryDirectory() as folder:
        minutes = 32 * 1440
        start = NOW - minutes * MINUTE
        store = SqliteStore(Path(folder) / DB_NAME)
        rows = candles("BTCUSDT", start, minutes, 1, 80_000.0)
        rng = np.random.default_rng(2)
        oi = 100_000 * np.exp(np.cumsum(rng.normal(0, 0.001, minutes // 5)))
        readings = [("5m", OpenInterest("binance", "BTCUSDT", start + i * 5 * MINUTE, float(v)))
                    for i, v in enumerate(oi.tolist())]  # fmt: skip
        store.write_batch([], candles=rows, open_interest=readings)
        store.close()
        env = {"HEATMAP_SYMBOLS": "BTCUSDT", "HEATMAP_DATA_DIR": folder, "HEATMAP_BACKFILL": "0",
               "HEATMAP_BINANCE_REST_URL": "http://127.0.0.1:9",
               "HEATMAP_BINANCE_WS_URL": "ws://127.0.0.1:9/market"}  # fmt: skip
        settings = Settings.from_env(env)
        service = HeatmapService(settings, source_factory=lambda sink: _Quiet())
        service.start()
        try:
            app = create_app(settings, service, start_engine=False,
                             api_settings=ApiSettings.from_env({}))  # fmt: skip
            client = app.server.test_client()
            print(f"\n2. /api/levels/BTCUSDT?range=30d over {minutes:,} stored 1m candles and "
                  f"{len(readings):,} 5m readings")  # fmt: skip
            for label, url in (("compact", "/api/levels/BTCUSDT?range=30d"),
                               ("coinglass", "/api/levels/BTCUSDT?range=30d&format=coinglass"),
                               ("map", "/api/levels/BTCUSDT/map?range=30d")):  # fmt: skip
                cold = []
                for _ in range(runs):
                    service.levels._cache.clear()
                    app.server.extensions["heatmap_api"].bodies.cache.clear()
                    t = time.perf_counter()
                    response = client.get(url)
                    cold.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.get_json()
                t = time.perf_counter()
                client.get(url)
                warm = (time.perf_counter() - t) * 1000
                size = len(response.data) / 1e3
                print(f"   {label:9}: first answer median {statistics.median(cold):7.1f} ms, "
                      f"cached {warm:5.1f} ms, body {size:7.1f} KB")  # fmt: skip
        finally:
            service.stop(5.0)


class _Quiet:
    def start(self) -> None:
        pass

    def stop(self, timeout: float = 5.0) -> bool:
        return True

    def status(self) -> dict:
        return {"state": "live"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args()
    tracker_tick(args.symbols)
    api_30d(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
