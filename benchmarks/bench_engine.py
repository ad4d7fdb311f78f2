"""Engine benchmark: ingest speed, cluster refresh time and memory. Prints figures only.

    python benchmarks/bench_engine.py [--frames 1000000] [--symbols 400]

1. Ingest: N forceOrder frames (wrapped, as the 2026 stream sends them) through
   ``binance.parse`` + ``Engine.process``, beside ``orjson.loads`` alone on the same frames.
2. Refresh: one full cluster refresh of S symbols holding N events inside the decay window.
3. Memory: resident set size of a fresh process before and after holding those events.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges import binance

NOW = 1_800_000_000_000


def symbols(count: int) -> list[str]:
    return [f"SYM{i:03d}USDT" for i in range(count)]


def frames(count: int, names: list[str], seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    window = 3_500_000
    for i in range(count):
        sym = names[i % len(names)]
        base = 10.0 + (i % len(names))
        price = base * (1 + rng.uniform(-0.05, 0.05))
        qty = rng.uniform(0.1, 500.0)
        t = NOW - window + (i * window) // count
        order = {
            "s": sym, "S": "SELL" if rng.random() < 0.5 else "BUY", "o": "LIMIT", "f": "IOC",
            "q": f"{qty:.3f}", "p": f"{price * 0.99:.6f}", "ap": f"{price:.6f}", "X": "FILLED",
            "l": f"{qty:.3f}", "z": f"{qty:.3f}", "T": t, "ps": sym, "st": 1,
        }  # fmt: skip
        out.append(
            orjson.dumps(
                {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t + 3, "o": order}}
            )
        )
    return out


def make_engine(names: list[str]) -> Engine:
    settings = Settings.from_env({"HEATMAP_SYMBOLS": ",".join(names)})
    return Engine(settings, clock=lambda: NOW)


def bench_ingest(raw: list[bytes], names: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    for frame in raw:
        orjson.loads(frame)
    decode = time.perf_counter() - started
    engine = make_engine(names)
    parse, process = binance.parse, engine.process
    gc.collect()
    started = time.perf_counter()
    for frame in raw:
        process(parse(frame, NOW).events)
    full = time.perf_counter() - started
    assert engine.status()["events_held"] == len(raw), engine.status()
    return {"decode_fps": len(raw) / decode, "ingest_fps": len(raw) / full, "engine": engine}


def bench_refresh(engine: Engine, rounds: int = 5) -> list[float]:
    times = []
    for r in range(rounds):
        started = time.perf_counter()
        engine.refresh(NOW + r)
        times.append((time.perf_counter() - started) * 1000)
    return times


def memory_child(count: int, names: int) -> None:
    import psutil

    proc = psutil.Process()
    sym = symbols(names)
    raw = frames(count, sym)  # generated first, so the frames' own memory is not counted
    engine = make_engine(sym)
    engine.refresh(NOW)
    gc.collect()
    before = proc.memory_info().rss
    for frame in raw:
        engine.process(binance.parse(frame, NOW).events)
    engine.refresh(NOW)
    gc.collect()
    after = proc.memory_info().rss
    held = engine.status()["events_held"]
    print(orjson.dumps({"before": before, "after": after, "held": held}).decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.frames, args.symbols)
        return
    names = symbols(args.symbols)
    print(f"== engine benchmark: {args.frames:,} forceOrder frames, {args.symbols} symbols")
    raw = frames(args.frames, names)
    result = bench_ingest(raw, names)
    del raw
    ratio = result["decode_fps"] / result["ingest_fps"]
    print(f"json decode alone (orjson.loads)    {result['decode_fps']:>12,.0f} frames/s")
    print(f"parse + engine (full ingest)        {result['ingest_fps']:>12,.0f} frames/s")
    print(f"ingest cost / decode cost           {ratio:>12.1f} x")
    refresh = sorted(bench_refresh(result["engine"]))
    held = result["engine"].status()["events_held"]
    median = refresh[len(refresh) // 2]
    print(f"refresh {args.symbols} symbols, {held:,} events:  median {median:.1f} ms")
    print(f"                                    max {refresh[-1]:.1f} ms")
    del result
    gc.collect()
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", f"--frames={args.frames}",
         f"--symbols={args.symbols}"],
        capture_output=True, text=True, check=True, env=dict(os.environ),
    )  # fmt: skip
    mem = orjson.loads(child.stdout.strip().splitlines()[-1])
    grown = (mem["after"] - mem["before"]) / 2**20
    per_symbol = grown * 1024 / args.symbols
    print(
        f"RSS before events {mem['before'] / 2**20:.1f} MiB, after {mem['after'] / 2**20:.1f} MiB"
    )
    print(
        f"engine memory: +{grown:.1f} MiB for {mem['held']:,} events = {per_symbol:.1f} KiB/symbol"
    )


if __name__ == "__main__":
    main()
