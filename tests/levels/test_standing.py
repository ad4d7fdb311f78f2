"""``standing``: the sides of a profile split at a price, and the nearest large level of each,
on a hand-made profile whose answer is read off its rows."""

from __future__ import annotations

import numpy as np
import pytest

from heatmap_engine.levels.results import Profile
from heatmap_engine.levels.standing import standing


def profile(rows: list[tuple[float, float, float]], price: float, unknown=(0.0, 0.0)) -> Profile:
    """Rows of (middle price, long USD, short USD), each 0.2 % wide around its middle."""
    mid = np.array([r[0] for r in rows])
    low, high = mid / 1.001, mid * 1.001  # the geometric middle is ``mid``
    longs, shorts = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    nan = np.full(len(rows), np.nan)
    return Profile(price, 0, low, high, longs, shorts, ("10x",), longs[None, :], shorts[None, :],
                   nan, nan, *unknown)  # fmt: skip


def test_the_nearest_large_level_of_each_side_within_reach():
    rows = [
        (80.0, 900.0, 0.0),  # the largest long, but 20 % below: out of reach
        (95.0, 100.0, 0.0),  # the largest long within reach
        (97.0, 40.0, 0.0),  # under half of it: not large
        (98.0, 60.0, 0.0),  # large (>= 50), and the nearest such below 100
        (101.0, 30.0, 10.0),  # a long above the price: not counted
        (102.0, 0.0, 50.0),  # large short, nearest above
        (104.0, 0.0, 80.0),  # the largest short within reach
    ]
    s = standing(profile(rows, 100.0, unknown=(25.0, 25.0)))
    assert s.long_usd == pytest.approx(900 + 100 + 40 + 60)
    assert s.short_usd == pytest.approx(50 + 80 + 10)
    assert s.unknown_usd == 50.0
    assert s.unknown_share == pytest.approx(50 / (1130 + 140 + 50))
    assert s.nearest_long.price == pytest.approx(98.0) and s.nearest_long.usd == 60.0
    assert s.nearest_long.distance_pct == pytest.approx(2.0)
    assert s.nearest_short.price == pytest.approx(102.0) and s.nearest_short.usd == 50.0


def test_split_at_another_price_and_no_level_in_reach():
    rows = [(50.0, 10.0, 0.0), (100.0, 0.0, 0.0), (103.0, 5.0, 7.0)]
    s = standing(profile(rows, 100.0), price=104.0)  # the mark price moved above 103
    assert s.long_usd == pytest.approx(15.0) and s.short_usd == 0.0
    assert s.nearest_long.price == pytest.approx(103.0)  # 50 is 52 % away: out of reach
    assert s.nearest_short is None
