"""Each rule of the model on hand-made bars, with the expected numbers computed here.

Books start with no open interest (``seed_contracts=0``) and, unless a test is about decay, no
decay (``levels_half_life_hours=0``), so what a bar does can be followed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from levels.support import FIVE_MINUTES, T0, G, bar, bucket, flat_bar, mid

from heatmap_engine.levels.state import LONG, SHORT

P = 100_000.0
TEN_X = {"levels_tiers": ((10.0, 1.0),), "levels_half_life_hours": 0.0}
LONG_10X = (1 - 1 / 10) / (1 - 0.004)  # BTC bracket 1: LP / EP of a 10x long
SHORT_10X = (1 + 1 / 10) / (1 + 0.004)


def masses(book, side: int) -> dict[int, float]:
    """{bucket: contracts} of one side of the committed book."""
    mass = book.state.mass()[side].sum(axis=0)
    return {book.state.k0 + int(k): float(mass[k]) for k in np.flatnonzero(mass > 1e-12)}


def test_a_rise_opens_positions_at_the_formulas_price_split_by_taker_share(book_for):
    book = book_for(**TEN_X)
    book.add_bar(flat_bar(0, P, volume=10.0, taker_buy_volume=7.0))
    book.add_open_interest(T0 + FIVE_MINUTES, 4.0, P)
    assert masses(book, LONG) == pytest.approx({bucket(P * LONG_10X): 4.0 * 0.7})
    assert masses(book, SHORT) == pytest.approx({bucket(P * SHORT_10X): 4.0 * 0.3})
    assert book.state.usd[LONG] == pytest.approx(2.8 * mid(bucket(P * LONG_10X)))


def test_without_taker_volume_the_sides_split_evenly(book_for):
    book = book_for(**TEN_X)
    book.add_bar(flat_bar(0, P))  # no volume at all
    book.add_open_interest(T0 + FIVE_MINUTES, 4.0, P)
    assert sum(masses(book, LONG).values()) == pytest.approx(2.0)
    assert sum(masses(book, SHORT).values()) == pytest.approx(2.0)


def test_opens_spread_evenly_in_log_price_over_the_bars_range(book_for):
    low, high = 99_000.0, 101_000.0
    book = book_for(price=low, **TEN_X)
    book.add_bar(bar(0, low, high, volume=1.0, taker_buy_volume=1.0))  # all longs
    book.add_open_interest(T0 + FIVE_MINUTES, 1.0, high)
    a, b = math.log(low * LONG_10X), math.log(high * LONG_10X)
    expected = {}
    for k in range(bucket(low * LONG_10X), bucket(high * LONG_10X) + 1):
        overlap = min(b, (k + 1) * G) - max(a, k * G)
        expected[k] = overlap / (b - a)
    assert masses(book, LONG) == pytest.approx(expected)


def test_a_swept_level_is_gone_and_is_the_bars_predicted_liquidation(book_for):
    book = book_for(levels_tiers=((10.0, 1.0), (5.0, 1.0)), levels_half_life_hours=0.0)
    book.add_bar(flat_bar(0, P, volume=1.0, taker_buy_volume=1.0))  # 1 contract of longs
    book.add_open_interest(T0 + FIVE_MINUTES, 1.0, P)
    ten, five = bucket(P * LONG_10X), bucket(P * (1 - 1 / 5) / (1 - 0.004))
    assert masses(book, LONG) == pytest.approx({ten: 0.5, five: 0.5})
    # the next bar trades down to 89 000: through the 10x level, not the 5x one
    book.add_bar(bar(1, 89_000.0, P, close=89_500.0))
    book.add_open_interest(T0 + 2 * FIVE_MINUTES, 0.5, 89_500.0)  # OI fell by what liquidated
    outcome = book.recent[-1]
    assert outcome.long_usd == pytest.approx(0.5 * mid(ten))
    assert outcome.long_contracts == pytest.approx(0.5)
    assert masses(book, LONG) == pytest.approx({five: 0.5})  # no new opens: flow was 0
    assert book.state.ledger.consumed == pytest.approx(0.5)


def test_a_fall_in_open_interest_closes_by_taker_sell_share_pro_rata(book_for):
    book = book_for(**TEN_X)
    book.add_bar(flat_bar(0, P, volume=1.0, taker_buy_volume=0.5))
    book.add_open_interest(T0 + FIVE_MINUTES, 4.0, P)  # 2 long, 2 short
    long_before, short_before = masses(book, LONG), masses(book, SHORT)
    book.add_bar(flat_bar(1, P, volume=4.0, taker_buy_volume=1.0))  # takers sold 75 %
    book.add_open_interest(T0 + 2 * FIVE_MINUTES, 3.0, P)  # one contract closed
    # longs lose 0.75 of it, shorts 0.25, every level of a side by the same fraction
    assert masses(book, LONG) == pytest.approx(
        {k: v * (2 - 0.75) / 2 for k, v in long_before.items()}
    )
    assert masses(book, SHORT) == pytest.approx(
        {k: v * (2 - 0.25) / 2 for k, v in short_before.items()}
    )
    assert book.state.standing == pytest.approx(3.0)


def test_decay_halves_a_level_at_the_half_life(book_for):
    book = book_for(levels_tiers=((10.0, 1.0),), levels_half_life_hours=1.0)
    book.add_bar(flat_bar(0, P))
    book.add_open_interest(T0 + FIVE_MINUTES, 2.0, P)
    old = bucket(P * LONG_10X)
    first = masses(book, LONG)[old]
    book.add_bar(flat_bar(1, 1.05 * P))  # a jump up 5 %: the 10x shorts (+9.6 %) stand
    book.add_open_interest(T0 + 2 * FIVE_MINUTES, 2.0, 1.05 * P)
    for i in range(2, 13):  # bars 1…12: one hour of bars after the level was placed
        book.add_bar(flat_bar(i, 1.05 * P))
        book.add_open_interest(T0 + (i + 1) * FIVE_MINUTES, 2.0, 1.05 * P)
    assert masses(book, LONG)[old] == pytest.approx(first / 2)
    # what decayed re-opened at the new price (turnover): open interest is unchanged
    assert book.state.standing == pytest.approx(2.0)
    assert masses(book, LONG)[bucket(1.05 * P * LONG_10X)] == pytest.approx(first / 2)


def test_a_change_between_coarse_readings_is_spread_by_volume(book_for):
    """1-minute bars, one reading every 5 minutes: bar i gets its volume's share."""
    prices = [P * (1 + 0.003 * i) for i in range(5)]  # levels three buckets apart
    volumes = [1.0, 2.0, 3.0, 4.0, 0.0]
    book = book_for(**TEN_X)
    for i, (price, volume) in enumerate(zip(prices, volumes, strict=True)):
        book.add_bar(flat_bar(i, price, step_ms=60_000, volume=volume, taker_buy_volume=volume))
    assert book.state.ledger.opened == 0  # pending until the reading arrives
    book.add_open_interest(T0 + FIVE_MINUTES, 10.0, prices[-1])
    longs = masses(book, LONG)
    for price, volume in zip(prices[:4], volumes, strict=False):
        assert longs[bucket(price * LONG_10X)] == pytest.approx(volume)
    assert bucket(prices[4] * LONG_10X) not in longs


def test_without_volume_the_change_is_spread_by_each_bars_range(book_for):
    book = book_for(**TEN_X)
    book.add_bar(bar(0, P, P * 1.001, step_ms=60_000))
    book.add_bar(bar(1, P * 1.01, P * 1.013, step_ms=60_000))  # three times the range
    book.add_open_interest(T0 + 120_000, 8.0, P * 1.013)
    weights = np.array([0.001 / 1.001, 0.003 / 1.013])  # (high − low) / close of each bar
    long_mass = masses(book, LONG)
    first = sum(v for k, v in long_mass.items() if k <= bucket(P * 1.001 * LONG_10X))
    assert first == pytest.approx(4.0 * weights[0] / weights.sum())  # half of it are longs


def test_a_gap_in_open_interest_changes_no_bar_and_puts_the_rise_at_unknown_levels(book_for):
    book = book_for(gap_minutes=360.0, **TEN_X)
    for i in range(120):  # ten hours of 5-minute bars, no reading
        book.add_bar(flat_bar(i, P))
    assert not book.pending  # committed without a change once the wait passed the limit
    book.add_open_interest(T0 + 120 * FIVE_MINUTES, 6.0, P)
    assert book.state.placed == [0.0, 0.0]
    assert book.state.unknown == pytest.approx([3.0, 3.0])
    assert book.counters.open_interest_gaps == 1


def test_levels_left_above_the_close_are_swept_by_the_next_bar(book_for):
    """A 100x long opened near a bar's high lies above a close 2 % lower: the next bar,
    whatever its own range, passes through it on the way from that close."""
    book = book_for(levels_tiers=((100.0, 1.0),), levels_half_life_hours=0.0)
    book.add_bar(bar(0, P, 1.02 * P, close=P, volume=1.0, taker_buy_volume=1.0))
    book.add_open_interest(T0 + FIVE_MINUTES, 1.0, P)
    above_close = sum(v for k, v in masses(book, LONG).items() if mid(k) > P)
    assert above_close > 0.5
    book.add_bar(bar(1, 1.05 * P, 1.06 * P))  # after a jump: its low is above every level
    book.add_open_interest(T0 + 2 * FIVE_MINUTES, 1.0 - above_close, 1.06 * P)
    assert book.recent[-1].long_contracts == pytest.approx(above_close)
    assert all(mid(k) <= P for k in masses(book, LONG))


def test_bars_after_the_last_reading_are_provisional(book_for):
    book = book_for(**TEN_X)
    for i in range(3):
        book.add_bar(flat_bar(i, P, step_ms=60_000))
    state, outcomes = book.provisional()
    assert len(outcomes) == 3 and len(book.pending) == 3
    assert state is not book.state
    book.add_open_interest(T0 + 180_000, 3.0, P)
    assert not book.pending and len(book.recent) == 3
    assert book.state.standing == pytest.approx(3.0)


def test_out_of_order_input_is_counted_and_skipped(book_for):
    book = book_for(**TEN_X)
    book.add_bar(flat_bar(1, P))
    book.add_bar(flat_bar(0, P))
    book.add_bar(flat_bar(1, P))
    book.add_open_interest(T0 + 2 * FIVE_MINUTES, 1.0, P)
    book.add_open_interest(T0 + FIVE_MINUTES, 2.0, P)
    assert book.counters.bars_out_of_order == 2
    assert book.counters.readings_out_of_order == 1
    assert len(book.recent) == 1


def test_a_snapshot_is_a_copy_readers_can_keep(book_for):
    book = book_for(seed_contracts=10.0, levels_half_life_hours=1.0)
    for i in range(5):
        book.add_bar(bar(i, P * (1 - 0.001 * i), P, step_ms=60_000))
    book.add_open_interest(T0 + 300_000, 12.0, P)
    book.add_bar(bar(5, P * 0.99, P, step_ms=60_000))  # after the last reading
    snap = book.snapshot()
    assert snap.pending_bars == 1 and snap.time_ms == T0 + 360_000
    assert snap.predictions.committed.tolist() == [True] * 5 + [False]
    long_before = snap.profile.long_usd.sum()
    assert long_before + snap.profile.short_usd.sum() > 0
    for i in range(6, 30):  # the book moves on; the snapshot does not
        book.add_bar(bar(i, P * 0.9, P, step_ms=60_000))
    book.add_open_interest(T0 + 1_800_000, 11.0, P)
    assert snap.profile.long_usd.sum() == long_before
    assert book.snapshot().profile.long_usd.sum() != long_before
