"""Estimated-levels benchmark: the 30-day grid, the incremental update of 400 symbols, memory.

    python benchmarks/bench_levels.py [--runs 5]

1. A 30-day grid at 5-minute resolution for one symbol: ``run_levels`` over 30 days of 5-minute
   candles and open interest (plus the default 48 h warm-up) with one column per bar (8,640),
   then the JSON body (``api.levels_payload``) and its size; beside the default grid (at most
   720 columns). Target: the model under 200 ms.
2. The incremental update of 400 symbols, as the engine thread would do it each minute: one
   closed 1-minute bar into each book, and every fifth minute one open-interest reading each
   (which commits the five pending bars); books warmed up with a day of bars first. Target:
   under 1 s for all 400.
3. Memory per symbol of the model's state after 30 days (the arrays of the book, its pending
   bars and its last 1,440 bar outcomes), measured with tracemalloc.

Synthetic markets (a random walk with BTC-like 5-minute volatility, volume, taker-buy volume and
open interest); default settings. Left out: reading the series from the history store, and
serialising on the web server (the JSON size says what travels).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import orjson

from api.levels_payload import levels_payload
from heatmap_engine.levels import (
    Bar,
    Bars,
    LevelsBook,
    LevelsSettings,
    Readings,
    load_brackets,
    run_levels,
    symbol_layout,
)
from heatmap_engine.levels.layout import placements
from heatmap_engine.levels.tracker import LIVE_OUTCOMES

MINUTE, FIVE = 60_000, 300_000
START = 1_780_000_000_000 - 1_780_000_000_000 % 3_600_000


def market(bars: int, step_ms: int, seed: int, price: float = 80_000.0) -> tuple[Bars, Readings]:
    rng = np.random.default_rng(seed)
    sigma = 0.0015 * (step_ms / FIVE) ** 0.5
    close = price * np.exp(np.cumsum(rng.normal(0, sigma, bars)))
    open_ = np.r_[price, close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, sigma / 2, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, sigma / 2, bars)))
    volume = rng.lognormal(5, 0.8, bars)
    taker = volume * np.clip(0.5 + (close - open_) / (high - low + 1e-9) * 0.3, 0.05, 0.95)
    opens = START + step_ms * np.arange(bars)
    oi = 100_000 * np.exp(np.cumsum(rng.normal(0, 0.001, bars + 1)))
    return (
        Bars.build(opens, open_, high, low, close, volume, taker, step_ms),
        Readings.build(np.r_[START, opens + step_ms], oi),
    )


def timed(fn, runs: int) -> tuple[list[float], object]:
    """Wall milliseconds of each run (and the CPU milliseconds in ``timed.cpu``)."""
    times, cpu, out = [], [], None
    for _ in range(runs):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    timed.cpu = cpu
    return times, out


def grid_30d(runs: int) -> None:
    bars, readings = market(30 * 288 + 2 * 288, FIVE, seed=1)
    print(
        f"1. 30-day grid, one symbol: {len(bars):,} 5-minute candles and readings "
        f"(30 days + 48 h warm-up), default settings"
    )
    for label, columns in (
        ("5-minute columns (8,640)", 100_000),
        ("default (<= 720 columns)", 720),
    ):
        settings = LevelsSettings.from_env({}, levels_grid_columns=columns)
        times, result = timed(
            lambda s=settings: run_levels(bars, readings, s, symbol="BTCUSDT", range_name="30d"),
            runs,
        )
        cpu, grid = timed.cpu, result.grid
        print(
            f"   {label:26} model: wall median {statistics.median(times):6.1f} ms, CPU min "
            f"{min(cpu):6.1f} ms; grid {grid.long_usd.shape[0]} x {grid.long_usd.shape[1]}"
        )
        if columns <= 720:  # the full-resolution body (~90 MB) is not what anyone is served
            shaping, body = timed(lambda r=result: orjson.dumps(levels_payload(r)), runs)
            print(
                f"   {'':26} its JSON body: {statistics.median(shaping):6.1f} ms, "
                f"{len(body) / 1e6:5.1f} MB"
            )
    print("   target: the model under 200 ms")


def warmed_books(count: int, settings: LevelsSettings) -> list[tuple[LevelsBook, list[Bar]]]:
    """``count`` books after a day of 5-minute bars, and each one's next hour of 1m bars."""
    table, out = load_brackets(), []
    for i in range(count):
        layout = symbol_layout(settings, "BTCUSDT" if i == 0 else f"SYM{i}USDT", table)[0]
        book = LevelsBook(
            layout, settings.levels_oi_gap_minutes * MINUTE, keep_outcomes=LIVE_OUTCOMES
        )
        day, oi = market(288, FIVE, seed=100 + i, price=float(10 ** (i % 5)))
        book.add_open_interest(START, float(oi.contracts[0]), float(day.open[0]))
        for bar, placed, t, v in zip(
            day.bars(),
            placements(layout, day.low, day.high),
            oi.time_ms[1:].tolist(),
            oi.contracts[1:].tolist(),
            strict=True,
        ):
            book.add_bar(bar, placed)
            book.add_open_interest(t, v, bar.close)
        hour, _ = market(60, MINUTE, seed=900 + i, price=float(day.close[-1]))
        shifted = [
            bar._replace(open_ms=bar.open_ms + 288 * FIVE, end_ms=bar.end_ms + 288 * FIVE)
            for bar in hour.bars()
        ]
        assert book.state is not None  # (reading it applies the warm-up's committed bars)
        out.append((book, shifted))
    return out


def incremental(symbols: int) -> None:
    settings = LevelsSettings.from_env({})
    print(
        f"\n2. incremental update, {symbols} symbols (warming up {symbols} books with a day "
        f"of bars first)"
    )
    books = warmed_books(symbols, settings)
    bar_ms, reading_ms = [], []
    for minute in range(60):
        t = time.perf_counter()
        for book, bars in books:
            book.add_bar(bars[minute])
            book.state.fit()  # as the live tracker does after each tick
        bar_ms.append((time.perf_counter() - t) * 1000)
        if (minute + 1) % 5 == 0:
            t = time.perf_counter()
            for book, bars in books:
                state = book.state
                book.add_open_interest(
                    bars[minute].end_ms, state.standing * 1.001, bars[minute].close
                )
            reading_ms.append((time.perf_counter() - t) * 1000)
    snap_ms, _ = timed(lambda: [book.snapshot() for book, _ in books], 3)
    print(
        f"   one closed 1m bar into every book:      p50 {statistics.median(bar_ms):6.1f} ms,"
        f" max {max(bar_ms):6.1f} ms"
    )
    print(
        f"   one reading each, committing 5 bars:    p50 {statistics.median(reading_ms):6.1f} ms,"
        f" max {max(reading_ms):6.1f} ms"
    )
    worst = max(bar_ms) + max(reading_ms)
    print(f"   worst minute (bar + reading):           {worst:6.1f} ms   target: under 1 s")
    print(f"   a snapshot of every book (readers):     {min(snap_ms):6.1f} ms")


def memory() -> None:
    settings = LevelsSettings.from_env({})
    layout = symbol_layout(settings, "BTCUSDT", load_brackets())[0]
    bars, readings = market(30 * 288, FIVE, seed=5)
    placed = placements(layout, bars.low, bars.high)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    book = LevelsBook(layout, settings.levels_oi_gap_minutes * MINUTE, keep_outcomes=LIVE_OUTCOMES)
    book.add_open_interest(START, float(readings.contracts[0]), float(bars.open[0]))
    for bar, p, t, v in zip(
        bars.bars(),
        placed,
        readings.time_ms[1:].tolist(),
        readings.contracts[1:].tolist(),
        strict=True,
    ):
        book.add_bar(bar, p)
        book.add_open_interest(t, v, bar.close)
    del placed
    assert book.state is not None  # (reading it applies the committed bars: none queued)
    book.state.fit()  # the arrays fitted to the levels' span, as the live tracker keeps them
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    state = book.state
    print(
        f"\n3. memory per symbol after 30 days of 5-minute bars: {used / 1024:.0f} KiB "
        f"(the book: {state.stored.nbytes / 1024:.0f} KiB of levels over "
        f"{state.size} buckets; "
        f"{(book.recent.columns.nbytes + book.recent.contracts.nbytes) / 1024:.0f} KiB "
        f"of kept outcomes)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--symbols", type=int, default=400)
    args, _ = parser.parse_known_args()
    grid_30d(args.runs)
    incremental(args.symbols)
    memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
