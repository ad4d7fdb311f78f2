"""Properties over random markets: conservation, calibration to open interest, independence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from levels.support import T0, random_market

from heatmap_engine.levels import Bar, LevelsBook, LevelsSettings, run_levels

MINUTE = 60_000


@st.composite
def markets(draw):
    """Bars (1 or 5 minutes, optional volume), readings every few bars, a gap sometimes."""
    count = draw(st.integers(5, 120))
    step = draw(st.sampled_from([MINUTE, 5 * MINUTE]))
    every = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    volume = draw(st.booleans())
    price = 100.0 * np.exp(np.cumsum(rng.normal(0, draw(st.sampled_from([0.001, 0.01])), count)))
    spread = np.abs(rng.normal(0, 0.004, (2, count)))
    bars = []
    for i in range(count):
        low, high = price[i] * math.exp(-spread[0, i]), price[i] * math.exp(spread[1, i])
        v = float(rng.lognormal(2, 1)) if volume else math.nan
        bars.append(
            Bar(
                T0 + i * step,
                T0 + (i + 1) * step,
                price[i],
                high,
                low,
                float(rng.uniform(low, high)),
                v,
                v * float(rng.uniform(0, 1)),
            )
        )
    times = [T0 + (i + 1) * step for i in range(0, count, every)]
    if draw(st.booleans()) and len(times) > 3:  # a long gap in the middle
        times = times[: len(times) // 3] + times[2 * len(times) // 3 :]
    oi = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.02, len(times) + 1)))
    return bars, [T0, *times], oi.tolist(), step


def _feed(book: LevelsBook, bars, times, oi, check=None) -> None:
    """Bars at their close, readings at their time, bars first on ties (as runs do)."""
    events = [(b.end_ms, 0, b) for b in bars] + [
        (t, 1, (t, v)) for t, v in zip(times, oi, strict=True)
    ]
    for _, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            book.add_bar(item)
        else:
            book.add_open_interest(item[0], item[1], 100.0)
        if check is not None and book.state is not None:
            check(book, kind, item)


def _book(gap_minutes: float = 60.0, **fields) -> LevelsBook:
    from heatmap_engine.levels import load_brackets, symbol_layout

    chosen = LevelsSettings.from_env({}, **{"levels_half_life_hours": 2.0, **fields})
    layout = symbol_layout(chosen, "ETHUSDT", load_brackets())[0]
    return LevelsBook(layout, gap_minutes * MINUTE, keep_outcomes=10_000)


def _conserved(book: LevelsBook, kind: int, item) -> None:
    state, ledger = book.state, book.state.ledger
    into = ledger.seeded + ledger.opened
    out = ledger.closed + ledger.decayed + ledger.consumed + state.standing
    assert into == pytest.approx(out, rel=1e-9, abs=1e-9)
    mass = state.mass()
    standing_usd = float((mass.sum(axis=1) * state.mids).sum())
    out_usd = ledger.closed_usd + ledger.decayed_usd + ledger.consumed_usd + standing_usd
    assert ledger.opened_usd == pytest.approx(out_usd, rel=1e-7, abs=1e-6)
    assert mass.min() >= -1e-12
    assert state.placed == pytest.approx(mass.sum(axis=(1, 2)).tolist(), rel=1e-7, abs=1e-9)
    if kind == 1 and book.reference is not None and book.reference[0] == item[0]:
        oi = item[1]  # after a committing reading the book holds exactly the open interest
        assert state.standing == pytest.approx(oi, rel=1e-9, abs=1e-9)
        for side in (0, 1):
            assert state.placed[side] + state.unknown[side] <= oi * (1 + 1e-9) + 1e-12


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.sampled_from(["leverage", "uniform"]), st.sampled_from([0.0, 2.0]))
def test_notional_is_conserved_and_each_side_stays_within_open_interest(market, placement, hl):
    bars, times, oi, _ = market
    book = _book(levels_placement=placement, levels_half_life_hours=hl)
    _feed(book, bars, times, oi, _conserved)


@settings(max_examples=25, deadline=None)
@given(st.lists(markets(), min_size=2, max_size=3), st.randoms())
def test_results_do_not_depend_on_the_order_of_symbols(symbols, rnd):
    def run(order):
        books = {i: _book() for i in order}
        events = []
        for i in order:
            bars, times, oi, _ = symbols[i]
            events += [(b.end_ms, 0, i, b) for b in bars]
            events += [(t, 1, i, (t, v)) for t, v in zip(times, oi, strict=True)]
        for _, kind, i, item in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == 0:
                books[i].add_bar(item)
            else:
                books[i].add_open_interest(item[0], item[1], 100.0)
        return {i: [tuple(o) for o in books[i].recent] for i in order}

    order = list(range(len(symbols)))
    shuffled = order[:]
    rnd.shuffle(shuffled)
    assert run(order) == run(shuffled)


def test_a_run_over_series_equals_feeding_the_book_bar_by_bar():
    bars, readings = random_market(3, 600)
    result = run_levels(
        bars, readings, LevelsSettings.from_env({}), symbol="ETHUSDT", range_name="3d"
    )
    book = _book(gap_minutes=360.0, levels_half_life_hours=24.0)
    _feed(book, bars.bars(), readings.time_ms.tolist(), readings.contracts.tolist())
    fed = {o.open_ms: (o.long_usd, o.short_usd) for o in book.recent}
    predicted = result.predictions
    assert len(predicted.open_ms) == len(bars) and predicted.committed[:-1].all()
    for t, lu, su, done in zip(
        predicted.open_ms.tolist(),
        predicted.long_usd.tolist(),
        predicted.short_usd.tolist(),
        predicted.committed.tolist(),
        strict=True,
    ):
        if done:
            assert (lu, su) == pytest.approx(fed[t], rel=1e-9, abs=1e-6)
