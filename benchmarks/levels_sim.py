"""The estimated levels scored against the simulated market (``market_sim.sim``), which knows
every position's true liquidation price. Used by ``score_levels.py``.

Each run steps a ``MarketSimulation`` second by second and feeds every symbol's closed 1-minute
candles and 5-minute open interest (what the live service sees) to one ``LevelsBook`` per
variant: the model, the naive formula ``entry × (1 ∓ 1/L)``, and the uniform baseline (open
interest spread evenly over the same price range). After the warm-up it measures

(a) every ``sample_minutes``: the share of the true standing liquidation notional (every open
    position of the symbol, valued at its liquidation price) that lies in each variant's top
    20 % of price buckets within ``±span`` of the price;
(b) at the end: the rank correlation between each variant's predicted and the true liquidation
    volume (every liquidation, sampled by the stream or not) per bar and side, and per hour.

Nothing here changes the simulation: it reads ``sim.candles``, ``sim.book`` and ``sim.truth``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from heatmap_engine.levels import Bar, LevelsBook, LevelsSettings, load_brackets, symbol_layout
from heatmap_engine.levels.metrics import rank_correlation, top_share
from market_sim.sim.market import MarketSimulation
from market_sim.sim.params import SimConfig

MINUTE_MS, OI_MS, HOUR_MS = 60_000, 300_000, 3_600_000
START_MS = 1_780_000_000_000 - 1_780_000_000_000 % HOUR_MS
VARIANTS: dict[str, dict[str, str]] = {
    "model": {},
    "naive": {"levels_formula": "naive"},
    "uniform": {"levels_placement": "uniform"},
}


@dataclass
class SimScores:
    """Per (variant, symbol): the (a) samples and the (b) correlations of one run."""

    top: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    flat: dict[str, list[float]] = field(default_factory=dict)  # 20 % of the in-range truth
    bars: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def _bar(row: dict, step: float) -> Bar:
    """A closed simulated candle (``sim.candles.closed.last``: volumes in lots) as a model bar."""
    open_ms = int(row["time_ms"])
    return Bar(
        open_ms,
        open_ms + MINUTE_MS,
        float(row["open"]),
        float(row["high"]),
        float(row["low"]),
        float(row["close"]),
        float(row["volume"]) * step,
        float(row["buy"]) * step,
    )


def run_seed(
    seed: int,
    symbols: tuple[str, ...],
    hours: float,
    warmup_hours: float,
    base: LevelsSettings,
    *,
    sample_minutes: int = 60,
    span: float = 0.2,
    bucket_factor: int = 2,
    variants: Mapping[str, Mapping[str, str]] = VARIANTS,
) -> SimScores:
    sim = MarketSimulation(SimConfig(symbols=symbols, seed=seed, start_ms=START_MS))
    books = _books(symbols, hours, base, variants)
    scores = SimScores(
        top={v: {s: [] for s in symbols} for v in variants}, flat={s: [] for s in symbols}
    )
    scored_from = START_MS + int(warmup_hours * HOUR_MS)
    for _ in range(int(hours * 3600)):
        out = sim.step()
        _feed(sim, out, books)
        if out.time_ms >= scored_from and out.time_ms % (sample_minutes * MINUTE_MS) == 0:
            _sample_top(sim, books, scores, span, bucket_factor)
    _score_bars(sim, books, scores, scored_from)
    return scores


def _books(symbols, hours, base: LevelsSettings, variants) -> dict[str, list[LevelsBook]]:
    """One book per variant and symbol, keeping every bar's outcome of the run."""
    table = load_brackets()
    return {
        name: [
            LevelsBook(
                symbol_layout(base.__class__.from_env({}, **_fields(base, over)), symbol, table)[0],
                base.levels_oi_gap_minutes * MINUTE_MS,
                keep_outcomes=int(hours * 60) + 60,
            )
            for symbol in symbols
        ]
        for name, over in variants.items()
    }


def _feed(sim, out, books) -> None:
    """What the live service would receive this second: a closed candle, an OI reading."""
    if out.minute_closed:
        for i in range(len(sim.symbols)):
            bar = _bar(sim.candles.closed.last(i), float(sim.profiles[i].step))
            for variant in books.values():
                variant[i].add_bar(bar)
    if out.time_ms % OI_MS == 0:
        for i in range(len(sim.symbols)):
            row = sim.candles.open_interest.last(i)
            contracts = float(row["oi_lots"]) * float(sim.profiles[i].step)
            for variant in books.values():
                variant[i].add_open_interest(int(row["time_ms"]), contracts, float(row["mark"]))


def _fields(base: LevelsSettings, over: Mapping[str, str]) -> dict:
    values = {name: getattr(base, name) for name in base.__dataclass_fields__}
    values.update(over)
    return values


def _sample_top(sim, books, scores: SimScores, span: float, factor: int) -> None:
    """(a) for every symbol and variant at this instant."""
    for i, symbol in enumerate(sim.symbols):
        price = float(sim.marks[i])
        layout = books["model"][i].layout
        k_lo = layout.index(price * (1 - span))
        k_hi = k_lo + factor * math.ceil((layout.index(price * (1 + span)) + 1 - k_lo) / factor)
        edges = np.exp(np.arange(k_lo, k_hi + 1, factor) * layout.g)
        rows = sim.book.rows_of(i)
        cols = sim.book.take(rows)
        notional = cols["lots"] * float(sim.profiles[i].step) * cols["liq"]
        truth, _ = np.histogram(cols["liq"], bins=edges, weights=notional)
        total = float(notional.sum())
        scores.flat[symbol].append(0.2 * float(truth.sum()) / total if total > 0 else math.nan)
        for name, variant in books.items():
            book = variant[i]
            if book.state is None:
                continue
            state = book.provisional()[0]
            model = state.side_usd(k_lo, k_hi).sum(axis=0).reshape(-1, factor).sum(axis=1)
            scores.top[name][symbol].append(top_share(model, truth, total))


def _score_bars(sim, books, scores: SimScores, scored_from: int) -> None:
    """(b): per bar (1 minute) and per hour, each side, over the committed scored bars."""
    cols = sim.truth.arrays()
    for i, symbol in enumerate(sim.symbols):
        mine = cols["sym"] == i
        notional = cols["lots"][mine] * float(sim.profiles[i].step) * cols["price"][mine]
        minute = cols["time_ms"][mine] // MINUTE_MS * MINUTE_MS
        side = cols["side"][mine]
        for name, variant in books.items():
            outcomes = [o for o in variant[i].recent if o.open_ms >= scored_from]
            if not outcomes:
                continue
            opens = np.array([o.open_ms for o in outcomes])
            predicted = {
                "long": np.array([o.long_usd for o in outcomes]),
                "short": np.array([o.short_usd for o in outcomes]),
            }
            result = scores.bars.setdefault(name, {}).setdefault(symbol, {})
            for label, sign in (("long", 1), ("short", -1)):
                index = np.searchsorted(opens, minute[side == sign])
                valid = (index < len(opens)) & (
                    opens[np.minimum(index, len(opens) - 1)] == minute[side == sign]
                )
                truth = np.bincount(
                    index[valid], weights=notional[side == sign][valid], minlength=len(opens)
                )
                result[f"{label}_bar"] = rank_correlation(predicted[label], truth)
                hours = (opens - opens[0]) // HOUR_MS
                result[f"{label}_hour"] = rank_correlation(
                    np.bincount(hours, weights=predicted[label]), np.bincount(hours, weights=truth)
                )
