"""Parameter validation and the choice of the best cluster, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from api.envelope import ApiError
from api.query import parse_query
from api.resources.heatmap import BestQuery, HeatmapQuery
from heatmap_engine.best import best_score, choose_best
from heatmap_engine.models import Cluster


def _heatmap(**args: str) -> HeatmapQuery:
    return parse_query(HeatmapQuery, MultiDict(args))


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
    assert _heatmap(min_strength=raw).min_strength == expected


@pytest.mark.parametrize(
    "raw",
    ["", " ", "abc", "1.5", "-0.1", "nan", "inf", "0x1", "1_0", "0.5 ", "1,0", "true",
     "０.5", "٠.5", "0.５", "1e5٠"],
)  # fmt: skip
def test_min_strength_rejects_everything_else(raw):
    """ASCII digits only: Python's float() would read fullwidth or Arabic-Indic digits."""
    with pytest.raises(ApiError) as info:
        _heatmap(min_strength=raw)
    assert info.value.status == 400 and "min_strength" in info.value.message


@pytest.mark.parametrize("raw", ["0", "-1", "0.0", "-0", "1e400", "NaN", "ten"])
def test_max_distance_must_be_a_positive_finite_number(raw):
    with pytest.raises(ApiError, match="max_distance"):
        _heatmap(max_distance=raw)


def test_defaults_follow_the_seed():
    assert _heatmap().model_dump() == {"min_strength": 0.0, "max_distance": 10.0, "at": None}
    best = parse_query(BestQuery, MultiDict())
    assert (best.min_strength, best.max_distance) == (0.6, 10.0)


def test_a_repeated_parameter_is_refused_by_name():
    args = MultiDict([("min_strength", "0.2"), ("max_distance", "5"), ("min_strength", "0.9")])
    with pytest.raises(ApiError) as info:
        parse_query(HeatmapQuery, args)
    assert info.value.status == 400 and "'min_strength' is given 2 times" in info.value.message
    unknown = MultiDict([("utm", "a"), ("utm", "b")])  # a parameter the route does not read
    assert parse_query(HeatmapQuery, unknown) == _heatmap()


@given(st.floats(min_value=0, max_value=1))
def test_every_float_in_range_round_trips(value):
    assert _heatmap(min_strength=repr(value)).min_strength == value


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
