"""Parameter validation and the choice of the best cluster, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.envelope import ApiError
from api.params import BEST_PARAMS, HEATMAP_PARAMS, MAX_DISTANCE, MIN_STRENGTH, parse_all
from heatmap_engine.best import best_score, choose_best
from heatmap_engine.models import Cluster


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("0.6", 0.6),
        (".5", 0.5),
        ("5e-1", 0.5),
        ("-0", 0.0),
        ("+0.25", 0.25),
    ],
)
def test_min_strength_accepts_plain_numbers_in_range(raw, expected):
    assert MIN_STRENGTH.parse({"min_strength": raw}) == expected


@pytest.mark.parametrize(
    "raw", ["", " ", "abc", "1.5", "-0.1", "nan", "inf", "0x1", "1_0", "0.5 ", "1,0", "true"]
)
def test_min_strength_rejects_everything_else(raw):
    with pytest.raises(ApiError) as info:
        MIN_STRENGTH.parse({"min_strength": raw})
    assert info.value.status == 400 and "min_strength" in info.value.message


@pytest.mark.parametrize("raw", ["0", "-1", "0.0", "-0", "1e400", "NaN", "ten"])
def test_max_distance_must_be_a_positive_finite_number(raw):
    with pytest.raises(ApiError, match="max_distance"):
        MAX_DISTANCE.parse({"max_distance": raw})


def test_defaults_follow_the_seed():
    assert parse_all(HEATMAP_PARAMS, {}) == {"min_strength": 0.0, "max_distance": 10.0}
    assert parse_all(BEST_PARAMS, {}) == {"min_strength": 0.6, "max_distance": 10.0}


@given(st.floats(min_value=0, max_value=1))
def test_every_float_in_range_round_trips(value):
    assert MIN_STRENGTH.parse({"min_strength": repr(value)}) == value


def _cluster(cluster_id: int, strength: float, distance: float | None, side="long") -> Cluster:
    return Cluster(
        cluster_id=cluster_id, side=side, price_level=100.0, liquidation_count=5,
        total_notional=1e6, weighted_notional=strength * 1e6, strength=strength,
        distance_from_price=distance, last_updated_ms=0, price_low=99.0, price_high=101.0,
    )  # fmt: skip


def test_near_and_strong_beats_far_and_strongest():
    far = _cluster(1, 1.0, 8.0)
    near = _cluster(2, 0.7, 0.5)
    assert choose_best([far, near], 0.6, 10.0) == (near, best_score(near))


def test_filters_and_unknown_distance_exclude():
    weak = _cluster(1, 0.5, 0.1)
    too_far = _cluster(2, 0.9, 12.0)
    unpriced = _cluster(3, 1.0, None)
    assert choose_best([weak, too_far, unpriced], 0.6, 10.0) is None
    assert choose_best([], 0.0, 10.0) is None


def test_ties_go_to_the_stronger_then_the_nearer_then_the_lower_id():
    a = _cluster(7, 0.8, 1.0)  # score 0.4
    b = _cluster(5, 0.6, 0.5)  # score 0.4
    assert choose_best([b, a], 0.0, 10.0)[0] is a
    c = _cluster(9, 0.8, 1.0)
    assert choose_best([c, a], 0.0, 10.0)[0] is a


@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.one_of(st.none(), st.floats(0, 50))), min_size=0, max_size=8
    ),
    st.floats(0, 1),
    st.floats(0.01, 50),
)
def test_best_is_the_highest_scoring_eligible_cluster(specs, min_strength, max_distance):
    clusters = [_cluster(i, s, d) for i, (s, d) in enumerate(specs)]
    eligible = [
        c
        for c in clusters
        if c.strength >= min_strength and c.distance_from_price is not None
        and c.distance_from_price <= max_distance
    ]  # fmt: skip
    chosen = choose_best(clusters, min_strength, max_distance)
    if not eligible:
        assert chosen is None
    else:
        assert chosen[0] in eligible
        assert chosen[1] == max(best_score(c) for c in eligible)
