"""A book's numbers do not depend on how many buckets its arrays hold around its levels (its
first array's size and offset, and when it grows): what lets a seeded book start small."""

from __future__ import annotations

import math

import numpy as np
from levels.support import T0

from heatmap_engine.levels import Bar, LevelsBook, LevelsSettings, load_brackets, symbol_layout

MINUTE = 60_000


def market(count: int = 1_500, seed: int = 5) -> list[Bar]:
    """1-minute bars of a random walk that trends to about 3x its first price (the levels
    travel far past any first array), with volumes."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(math.log(3.0) / count, 0.004, count)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.002, count)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.002, count)))
    volume = rng.lognormal(3, 1, count)
    return [
        Bar(T0 + i * MINUTE, T0 + (i + 1) * MINUTE, float(open_[i]), float(high[i]),
            float(low[i]), float(close[i]), float(volume[i]), float(volume[i] * 0.55))
        for i in range(count)
    ]  # fmt: skip


def run(bars: list[Bar], widen: int) -> tuple[LevelsBook, int]:
    """The book fed ``bars`` (a reading every 5), and the size of its arrays once seeded."""
    settings = LevelsSettings.from_env({})
    layout = symbol_layout(settings, "ETHUSDT", load_brackets())[0]
    book = LevelsBook(layout, 60 * MINUTE, keep_outcomes=10_000)
    book.add_open_interest(T0, 1_000.0, bars[0].open)
    if widen:  # arrays far larger than needed, starting elsewhere
        state = book.state
        state.reserve(state.k0 - widen, state.k0 + state.size + 2 * widen)
    first = book.state.size
    for i, bar in enumerate(bars):
        book.add_bar(bar)
        if i % 5 == 4:
            book.add_open_interest(bar.end_ms, 1_000.0 * (1 + 0.05 * math.sin(i / 50)), bar.close)
    return book, first


def test_the_arrays_size_changes_no_number():
    bars = market()
    (small, first), (wide, _) = run(bars, 0), run(bars, 5_000)
    assert small.state.size > first  # the levels outgrew the first array
    assert wide.state.size > small.state.size + 9_000 and wide.state.k0 != small.state.k0
    assert list(small.recent) == list(wide.recent)  # every bar's outcome, to the last bit
    assert vars(small.state.ledger) == vars(wide.state.ledger)
    for name in ("scale", "unknown", "placed", "usd", "extent"):
        assert getattr(small.state, name) == getattr(wide.state, name), name
    one, other = small.snapshot(4).profile, wide.snapshot(4).profile
    assert (one.price, one.unknown_long_usd) == (other.price, other.unknown_long_usd)
    for name in ("price_low", "price_high", "long_usd", "short_usd", "tier_long_usd",
                 "tier_short_usd", "cumulative_long_usd", "cumulative_short_usd"):  # fmt: skip
        assert np.array_equal(getattr(one, name), getattr(other, name), equal_nan=True), name


def test_fitting_the_arrays_to_the_levels_changes_no_number():
    bars = market()
    plain, _ = run(bars, 0)
    fitted, _ = run(bars[:300], 0)
    state = fitted.state
    size, (lo, usd) = state.size, state.tier_usd()
    extent = state.extent
    assert state.fit()  # the first array is far wider than ~300 quiet minutes of levels
    assert state.size < size - 256
    assert state.k0 <= min(extent[0], extent[2]) and state.k0 + state.size > max(
        extent[1], extent[3]
    )  # every occupied bucket kept
    after_lo, after_usd = state.tier_usd()  # every level as it was, to the bit
    assert after_lo == lo and np.array_equal(after_usd, usd) and not state.fit()  # once is enough
    for i, bar in enumerate(bars[300:], start=300):  # the rest, the levels travelling far
        fitted.add_bar(bar)
        if i % 5 == 4:
            fitted.add_open_interest(bar.end_ms, 1_000.0 * (1 + 0.05 * math.sin(i / 50)), bar.close)
        if i % 100 == 0:
            fitted.state.fit()
    assert list(fitted.recent) == list(plain.recent)  # every bar's outcome, to the last bit
    assert vars(fitted.state.ledger) == vars(plain.state.ledger)
    for name in ("scale", "unknown", "placed", "usd", "extent"):
        assert getattr(fitted.state, name) == getattr(plain.state, name), name
    one, other = fitted.snapshot(4).profile, plain.snapshot(4).profile
    for name in ("price_low", "price_high", "long_usd", "short_usd", "tier_long_usd",
                 "tier_short_usd", "cumulative_long_usd", "cumulative_short_usd"):  # fmt: skip
        assert np.array_equal(getattr(one, name), getattr(other, name), equal_nan=True), name
