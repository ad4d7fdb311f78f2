"""Engine benchmark: ingest cost per frame kind, refresh time and memory at full universe.

    python benchmarks/bench_engine.py [--symbols 570] [--force-frames 200000] [--mark-seconds 600]

1. Ingest, per frame kind, as a multiple of ``orjson.loads`` alone on the same frames:
   ``forceOrder`` frames and ``!markPrice@arr@1s`` arrays (one entry per symbol each second,
   as Binance sends them), both wrapped as the 2026 stream sends them, through
   ``binance.parse`` + ``Engine.process`` with a history sink attached (as the service runs).
   The parser decodes a liquidation frame with msgspec, not orjson; the measure stays a
   multiple of plain ``orjson.loads`` of the same bytes, what any JSON decode of them costs.
   Each chunk is decoded alone, then ingested, back to back; the figure is the median ratio
   over the chunks. Frames are made in chunks, so no big list of frames is ever held.
   What it leaves out is printed with it (``LEFT_OUT``).
2. Refresh at S symbols holding a day of 1-minute candles each, an hour of liquidations and
   live prices: the usual 5 s refresh (every symbol's forming candle and price updated since
   the last one) and one with nothing new.
3. Memory, each in a fresh process that holds no frames: the candles' own bytes per symbol
   (tracemalloc of loading a day and publishing it), and the resident set per symbol of an
   engine holding a day of candles, an hour of liquidations and prices (RSS after / symbols,
   and the growth over the bare interpreter with the engine's imports).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges import binance
from heatmap_engine.models import Candle

NOW = 1_800_000_000_000
MIN = 60_000
DAY = 1440
CHUNK = 2_000  # frames a chunk: decode and ingest timed back to back


def symbols(count: int) -> list[str]:
    return [f"SYM{i:03d}USDT" for i in range(count)]


def force_frames(count: int, names: list[str], seed: int = 1) -> Iterator[list[bytes]]:
    """``count`` forceOrder frames over the hour before NOW, in chunks."""
    rng = random.Random(seed)
    window = 3_500_000
    chunk = []
    for i in range(count):
        sym = names[i % len(names)]
        price = (10.0 + (i % len(names))) * (1 + rng.uniform(-0.05, 0.05))
        qty = rng.uniform(0.1, 500.0)
        t = NOW - window + (i * window) // count
        order = {
            "s": sym, "S": "SELL" if rng.random() < 0.5 else "BUY", "o": "LIMIT", "f": "IOC",
            "q": f"{qty:.3f}", "p": f"{price * 0.99:.6f}", "ap": f"{price:.6f}", "X": "FILLED",
            "l": f"{qty:.3f}", "z": f"{qty:.3f}", "T": t, "ps": sym, "st": 1,
        }  # fmt: skip
        data = {"e": "forceOrder", "E": t + 3, "o": order}
        chunk.append(orjson.dumps({"stream": "!forceOrder@arr", "data": data}))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def mark_frames(seconds: int, names: list[str], seed: int = 2) -> Iterator[list[bytes]]:
    """One all-market array a second, ending at NOW; about a third of the prices unchanged."""
    rng = random.Random(seed)
    prices = [10.0 + i for i in range(len(names))]
    chunk = []
    for s in range(seconds):
        t = NOW - (seconds - s) * 1000
        entries = []
        for i, sym in enumerate(names):
            if rng.random() > 0.33:
                prices[i] *= 1 + rng.uniform(-2e-4, 2e-4)
            p = f"{prices[i]:.8f}"
            entries.append({"e": "markPriceUpdate", "E": t, "s": sym, "p": p, "ap": p, "P": p,
                            "i": p, "r": "0.00010000", "T": t + 3_600_000})  # fmt: skip
        chunk.append(orjson.dumps({"stream": "!markPrice@arr@1s", "data": entries}))
        if len(chunk) == 5:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def make_engine(names: list[str]) -> Engine:
    settings = Settings.from_env({"HEATMAP_SYMBOLS": ",".join(names)})
    engine = Engine(settings, clock=lambda: NOW)
    engine.history_sink = lambda event: None  # the service always has one
    return engine


def bench_ingest(chunks: Iterator[list[bytes]], names: list[str]) -> tuple[float, float, int]:
    """(median ratio ingest / decode over the chunks, decode frames/s, frames): each chunk is
    decoded alone, then parsed + applied, so both see the same state of this noisy machine."""
    engine = make_engine(names)
    parse, process, loads = binance.parse, engine.process, orjson.loads
    ratios, decode, count = [], 0.0, 0
    for chunk in chunks:
        gc.collect()
        started = time.perf_counter()
        for frame in chunk:
            loads(frame)
        alone = time.perf_counter() - started
        started = time.perf_counter()
        for frame in chunk:
            process(parse(frame, NOW).events)
        ratios.append((time.perf_counter() - started) / alone)
        decode += alone
        count += len(chunk)
    return sorted(ratios)[len(ratios) // 2], count / decode, count


def day_rows(symbol_index: int, minutes: int = DAY) -> list[tuple]:
    """A day of store rows (the candles table's columns from open_time_ms on), oldest first."""
    base = 10.0 + symbol_index
    out = []
    for m in range(minutes):
        t = NOW - (minutes - m) * MIN
        o = base * (1 + 0.001 * ((m * 7919 + symbol_index) % 13 - 6))
        out.append((t, t + MIN - 1, o, o * 1.002, o * 0.998, o * 1.0005, 120.5 + m, 1234.5 * o,
                    60.25, 300 + m, 1))  # fmt: skip
    return out


def load_day(engine: Engine, names: list[str]) -> None:
    """A day of candles per symbol, the quickest way the engine under test offers."""
    state = engine.state
    for i, sym in enumerate(names):
        rows = day_rows(i)
        if hasattr(state, "load_candles"):
            state.load_candles(sym, rows)
        else:  # an engine from before load_candles: one candle at a time
            for r in rows:
                state.apply(Candle("binance", sym, "1m", *r[:10], bool(r[10])), NOW)


def live_minute(names: list[str], minute: int, n: int) -> list:
    """The forming candle of every symbol (frame n of it) and a mark price each."""
    t = NOW + minute * MIN
    out: list = []
    for i, sym in enumerate(names):
        c = 10.0 + i + n * 1e-3
        out.append(Candle("binance", sym, "1m", t, t + MIN - 1, c, c, c, c, n, n * c, n / 2, n,
                          False))  # fmt: skip
    return out


def prepared_engine(names: list[str], liquidations: int) -> Engine:
    engine = make_engine(names)
    load_day(engine, names)
    for chunk in force_frames(liquidations, names):
        for frame in chunk:
            engine.process(binance.parse(frame, NOW).events)
    for chunk in mark_frames(1, names):
        for frame in chunk:
            engine.process(binance.parse(frame, NOW).events)
    engine.refresh(NOW)
    return engine


def bench_refresh(names: list[str], liquidations: int, rounds: int) -> tuple[list, list]:
    """(ms of refreshes after every book changed, ms of refreshes with nothing new)."""
    engine = prepared_engine(names, liquidations)
    busy, idle = [], []
    for r in range(rounds):
        for n in range(3):  # a kline update per symbol every ~2 s: 2-3 per 5 s refresh
            engine.process(live_minute(names, r // 4, 4 * r + n))
        gc.collect()
        started = time.perf_counter()
        engine.refresh(NOW + r)
        busy.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.refresh(NOW + r)
        idle.append((time.perf_counter() - started) * 1000)
    return sorted(busy), sorted(idle)


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def memory_child(kind: str, count: int, liquidations: int) -> None:
    names = symbols(count)
    if kind == "traced":
        import tracemalloc

        engine = make_engine(names)
        engine.refresh(NOW)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        load_day(engine, names)
        engine.refresh(NOW)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        print(orjson.dumps({"candle_bytes": after - before}).decode())
        return
    gc.collect()
    bare = rss_bytes()
    engine = prepared_engine(names, liquidations)
    for n in range(3):
        engine.process(live_minute(names, 0, n))
    engine.refresh(NOW + 1)
    gc.collect()
    after = rss_bytes()
    held = engine.status()["events_held"]
    print(orjson.dumps({"bare": bare, "after": after, "held": held}).decode())


def child(kind: str, args) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--memory-child={kind}", f"--symbols={args.symbols}",
         f"--liquidations={args.liquidations}"],
        capture_output=True, text=True, check=True, env=dict(os.environ),
    )  # fmt: skip
    return orjson.loads(out.stdout.strip().splitlines()[-1])


LEFT_OUT = (
    "left out of ingest: the socket read and websocket framing, the feed's per-frame stats\n"
    "  and watchdog, the history writer (the sink here only takes the event), duplicates\n"
    "  (no frame repeats) and reading the wall clock (the receive time and the engine's\n"
    "  clock are fixed)"
)


def report_ingest(what: str, ratio: float, decode_fps: float, frames: int, per_frame: int) -> None:
    print(f"{what}: {frames:,} frames ({frames * per_frame:,} entries)")
    print(f"  json decode alone (orjson.loads)  {decode_fps:>12,.0f} frames/s")
    print(f"  parse + engine (full ingest)      {decode_fps / ratio:>12,.0f} frames/s")
    print(f"  ingest cost / decode cost         {ratio:>12.2f} x (median over chunks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=570)
    parser.add_argument("--force-frames", type=int, default=200_000)
    parser.add_argument("--mark-seconds", type=int, default=600)
    parser.add_argument("--liquidations", type=int, default=18_000, help="held (5/s for 1 h)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--memory-child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.symbols, args.liquidations)
        return
    names = symbols(args.symbols)
    print(f"== engine benchmark: {args.symbols} symbols")
    print(LEFT_OUT)
    report_ingest("forceOrder", *bench_ingest(force_frames(args.force_frames, names), names), 1)
    marks = bench_ingest(mark_frames(args.mark_seconds, names), names)
    report_ingest("markPrice arrays", *marks, args.symbols)
    busy, idle = bench_refresh(names, args.liquidations, args.rounds)
    print(f"refresh, {args.symbols} symbols x a day of candles, {args.liquidations:,} events:")
    print(f"  every book written since: median {busy[len(busy) // 2]:.1f} ms, max {busy[-1]:.1f}")
    print(f"  nothing new:              median {idle[len(idle) // 2]:.1f} ms, max {idle[-1]:.1f}")
    traced = child("traced", args)
    per_symbol = traced["candle_bytes"] / args.symbols / 2**20
    print(f"candles (a day, traced allocations): {per_symbol:.3f} MiB per symbol")
    mem = child("rss", args)
    grown = (mem["after"] - mem["bare"]) / 2**20
    print(f"RSS after a day: {mem['after'] / 2**20:.1f} MiB = "
          f"{mem['after'] / 2**20 / args.symbols:.3f} MiB per symbol; engine growth "
          f"+{grown:.1f} MiB = {grown / args.symbols:.3f} MiB per symbol "
          f"({mem['held']:,} events held)")  # fmt: skip


if __name__ == "__main__":
    main()
