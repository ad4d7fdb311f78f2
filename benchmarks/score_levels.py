"""How well the estimated levels work (``make score``): prints the figures the README publishes.

    python benchmarks/score_levels.py [--seeds 6] [--hours 30] [--warmup 12] [--quick]

1. The simulated market (``levels_sim``), which knows every position's true liquidation price:
   (a) the share of the true standing liquidation notional in the model's top 20 % of price
   buckets, (b) the rank correlation of predicted and true liquidation volume per bar and side;
   the model beside the naive formula ``entry × (1 ∓ 1/L)`` and the uniform baseline (open
   interest spread evenly over the same price range), and for (a) a flat pick (20 % of what
   lies in the buckets).
2. Real data (``levels_real``): BTCUSDT 5-minute bars and open interest against Coinglass's
   hourly and 30-minute liquidation totals, and three months of 1-hour bars with hourly open
   interest against the hourly totals; rank correlation per side beside the same baselines and
   ``move`` (no levels: how far each interval went past the previous close).

Every run uses the default settings (``HEATMAP_LEVELS_*`` as the README lists them), so the
figures are those of the model a user gets. Also prints the half-life sensitivity.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from heatmap_engine.levels import LevelsSettings

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "1000PEPEUSDT", "WIFUSDT")
NAMES = ("model", "naive", "uniform")


def _mean(values) -> float:
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else math.nan


def _f(value: float) -> str:
    return "   n/a" if value != value else f"{value:6.3f}"


def simulated(seeds: int, hours: float, warmup: float) -> None:
    import levels_sim

    base = LevelsSettings.from_env({})
    runs = []
    started = time.perf_counter()
    for seed in range(1, seeds + 1):
        runs.append(levels_sim.run_seed(seed, SYMBOLS, hours, warmup, base))
        print(f"  seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"\n(a) share of the true standing liquidation notional in the top 20 % of 0.2 % price "
        f"buckets within ±20 % of the price,\n    sampled hourly after the warm-up (mean over "
        f"{seeds} seeds)"
    )
    print(f"    {'symbol':14}" + "".join(f"{n:>9}" for n in (*NAMES, "flat")))
    for symbol in (*SYMBOLS, "all"):
        chosen = SYMBOLS if symbol == "all" else (symbol,)
        row = [_mean(v for r in runs for s in chosen for v in r.top[n][s]) for n in NAMES]
        row.append(_mean(v for r in runs for s in chosen for v in r.flat[s]))
        print(f"    {symbol:14}" + "".join(f"{_f(v):>9}" for v in row))
    print(
        "\n(b) rank correlation of predicted and true liquidation volume, mean over "
        f"{seeds} seeds × {len(SYMBOLS)} symbols"
    )
    print(f"    {'':10}{'1-minute bars':>20}{'hours':>20}")
    print(f"    {'variant':10}" + "".join(f"{s:>10}" for s in ("long", "short") * 2))
    for name in NAMES:
        cells = [
            _mean(r.bars[name][s][key] for r in runs for s in SYMBOLS)
            for key in ("long_bar", "short_bar", "long_hour", "short_hour")
        ]
        print(f"    {name:10}" + "".join(f"{_f(v):>10}" for v in cells))


def _real_row(label: str, scores: dict) -> None:
    for name in (*NAMES, "move"):
        s = scores[name]
        scale = f"{s['scale']:8.1f}x" if "scale" in s else ""
        print(
            f"    {label:22}{name:9}{_f(s['long'][0]):>8}{_f(s['short'][0]):>8}"
            f"{s['long'][1]:>7}{scale}"
        )
        label = ""


def real(warmup: float, half_lives: tuple[float, ...]) -> None:
    import levels_real as lr

    if not lr.FIVE_MINUTE.is_file():
        print(f"\nreal data not found under {lr.REAL}: skipped")
        return
    five, five_oi = lr.load_btc_5m()
    hourly = lr.load_coinglass(
        "coinglass_btc_1h_liq_oi_funding_cvd.csv", "liquidation_long_usd", "liquidation_short_usd"
    )
    halves = lr.load_coinglass("coinglass_btc_30m_liquidations.csv", "longUsd", "shortUsd")
    hour_bars, hour_oi, hour_liq = lr.load_btc_1h()
    print(
        f"\nReal data: rank correlation with Coinglass's liquidation totals (Binance + Bybit + "
        f"OKX), after a {warmup:g} h warm-up;\n    scale = predicted over recorded USD"
    )
    for half_life in half_lives:
        variants = {
            name: LevelsSettings.from_env(
                {}, levels_half_life_hours=half_life, levels_warmup_hours=0.0, **over
            )
            for name, over in (
                ("model", {}),
                ("naive", {"levels_formula": "naive"}),
                ("uniform", {"levels_placement": "uniform"}),
            )
        }
        default = half_life == LevelsSettings.from_env({}).levels_half_life_hours
        title = "no decay" if half_life == 0 else f"half-life {half_life:g} h"
        print(f"\n  {title}{' (default)' if default else ''}")
        print(f"    {'series':22}{'variant':9}{'long':>8}{'short':>8}{'n':>7}{'scale':>9}")
        _real_row("BTC 5m vs hourly", lr.score(five, five_oi, hourly, lr.HOUR_MS, variants, warmup))
        _real_row(
            "BTC 5m vs 30-minute",
            lr.score(five, five_oi, halves, lr.HALF_HOUR_MS, variants, warmup),
        )
        _real_row(
            "BTC 1h vs hourly", lr.score(hour_bars, hour_oi, hour_liq, lr.HOUR_MS, variants, warmup)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--hours", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--quick", action="store_true", help="2 seeds of 16 hours")
    parser.add_argument("--real-only", action="store_true")
    args = parser.parse_args()
    seeds, hours = (2, 16.0) if args.quick else (args.seeds, args.hours)
    print("Estimated liquidation levels: scores (default settings)")
    if not args.real_only:
        print(
            f"\nSimulated market: seeds 1-{seeds}, {', '.join(SYMBOLS)}; {hours:g} h each, the "
            f"first {args.warmup:g} h warm-up; 1-minute candles and 5-minute open interest"
        )
        simulated(seeds, hours, args.warmup)
    default = LevelsSettings.from_env({}).levels_half_life_hours
    real(args.warmup, tuple(dict.fromkeys((default, 3.0, 12.0, 72.0, 0.0))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
