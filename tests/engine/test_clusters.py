"""Clustering as the README defines it, checked by example and by property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap_engine.clusters import (
    ClusterParams,
    cell_bounds,
    cell_index,
    cluster_id,
    compute_clusters,
    compute_many_clusters,
    decay_weights,
)

NOW = 1_800_000_000_000
HOUR = 3_600_000
PARAMS = ClusterParams(window_pct=0.02, min_cluster_size=5, decay_window_ms=HOUR)

event = st.tuples(
    st.integers(min_value=0, max_value=HOUR - 1),  # age in ms, inside the window
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1.0, max_value=1e7, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=1),
)


def arrays(events):
    ages, prices, notionals, sides = zip(*events, strict=True) if events else ((), (), (), ())
    return (
        NOW - np.asarray(ages, dtype=np.int64),
        np.asarray(prices, dtype=np.float64),
        np.asarray(notionals, dtype=np.float64),
        np.asarray(sides, dtype=np.int8),
    )


def clusters_of(events, price=None, params=PARAMS):
    return compute_clusters(*arrays(events), NOW, price, params)


def test_worked_example_matches_the_definition():
    # five long liquidations in one cell, ages 0..40 min, one short outlier far away
    events = [(m * 600_000, 100.0 + m * 0.1, 1000.0 * (m + 1), 0) for m in range(5)]
    events.append((0, 150.0, 50_000.0, 1))
    (cluster,) = clusters_of(events, price=101.0)
    w = [1 - m * 600_000 / HOUR for m in range(5)]
    n = [1000.0 * (m + 1) for m in range(5)]
    p = [100.0 + m * 0.1 for m in range(5)]
    assert cluster.side == "long"
    assert cluster.liquidation_count == 5
    assert cluster.total_notional == pytest.approx(sum(n))
    assert cluster.weighted_notional == pytest.approx(sum(a * b for a, b in zip(w, n, strict=True)))
    level = sum(a * b * c for a, b, c in zip(w, n, p, strict=True)) / cluster.weighted_notional
    assert cluster.price_level == pytest.approx(level)
    assert cluster.strength == 1.0
    assert cluster.distance_from_price == pytest.approx(abs(level - 101.0) / 101.0 * 100)
    assert cluster.last_updated_ms == NOW
    k = int(cell_index(np.array([100.0]), 0.02)[0])
    assert cluster.cluster_id == cluster_id(k, 0)
    assert cluster.price_low <= min(p) and max(p) < cluster.price_high
    assert cell_bounds(k, 0.02) == (cluster.price_low, cluster.price_high)


def test_below_min_cluster_size_gives_nothing_and_expired_events_do_not_count():
    four = [(0, 100.0, 1.0, 0)] * 4
    assert clusters_of(four) == ()
    expired = [(HOUR, 100.0, 1.0, 0)] * 10  # age == T has weight 0
    assert clusters_of(expired) == ()
    assert len(clusters_of([*four, (HOUR - 1, 100.0, 1.0, 0)])) == 1


def test_no_current_price_means_unknown_distance():
    (cluster,) = clusters_of([(0, 100.0, 1.0, 1)] * 5)
    assert cluster.distance_from_price is None
    assert cluster.side == "short"


def test_cluster_id_is_stable_while_events_come_and_go():
    base = [(60_000 * i, 100.0 + i * 0.01, 10.0, 0) for i in range(6)]
    later = [*base[1:], (0, 100.3, 10.0, 0), (0, 100.2, 99.0, 0)]
    first, second = clusters_of(base), clusters_of(later)
    assert [c.cluster_id for c in first] == [c.cluster_id for c in second]
    assert first[0].price_level != second[0].price_level


@settings(max_examples=200, deadline=None)
@given(st.lists(event, max_size=120))
def test_count_and_notional_are_conserved_into_clusters_above_threshold(events):
    clusters = clusters_of(events)
    if not events:
        assert clusters == ()
        return
    _times, prices, notionals, sides = arrays(events)
    keys = cell_index(prices, PARAMS.window_pct) * 2 + sides
    uniq, counts = np.unique(keys, return_counts=True)
    qualifying = set(uniq[counts >= PARAMS.min_cluster_size].tolist())
    mask = np.isin(keys, list(qualifying))
    assert sum(c.liquidation_count for c in clusters) == int(mask.sum())
    assert sum(c.total_notional for c in clusters) == pytest.approx(
        float(notionals[mask].sum()), rel=1e-9
    )
    for c in clusters:
        assert 0.0 < c.strength <= 1.0
        assert c.price_low * (1 - 1e-9) <= c.price_level <= c.price_high * (1 + 1e-9)
    if clusters:
        assert max(c.strength for c in clusters) == 1.0


@settings(max_examples=100, deadline=None)
@given(st.lists(event, max_size=80), st.randoms(use_true_random=False))
def test_side_mapping_each_cluster_holds_only_its_side(events, rnd):
    clusters = clusters_of(events)
    for c in clusters:
        code = 0 if c.side == "long" else 1
        assert c.cluster_id % 2 == code
        members = [
            e
            for e in events
            if e[3] == code
            and cluster_id(int(cell_index(np.array([e[1]]), 0.02)[0]), code) == c.cluster_id
        ]
        assert len(members) == c.liquidation_count


@settings(max_examples=100, deadline=None)
@given(st.lists(event, max_size=100), st.randoms(use_true_random=False))
def test_cluster_order_and_content_are_independent_of_arrival_order(events, rnd):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = clusters_of(events, price=123.0), clusters_of(shuffled, price=123.0)
    assert [(c.cluster_id, c.side, c.liquidation_count, c.last_updated_ms) for c in a] == [
        (c.cluster_id, c.side, c.liquidation_count, c.last_updated_ms) for c in b
    ]
    for x, y in zip(a, b, strict=True):
        assert x.total_notional == pytest.approx(y.total_notional, rel=1e-12)
        assert x.price_level == pytest.approx(y.price_level, rel=1e-12)
        assert x.strength == pytest.approx(y.strength, rel=1e-12)
    ids = [c.cluster_id for c in a]
    assert ids == sorted(ids, key=lambda i: (-(i // 2), i % 2))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-10_000, max_value=2 * HOUR), min_size=2, max_size=50),
    st.integers(min_value=1, max_value=10 * HOUR),
)
def test_decay_is_monotone_in_age_and_zero_beyond_the_window(ages, window):
    ordered = np.sort(np.asarray(ages, dtype=np.int64))
    weights = decay_weights(ordered, window)
    assert np.all(np.diff(weights) <= 0)
    assert np.all((weights >= 0) & (weights <= 1))
    assert np.all(weights[ordered >= window] == 0)
    assert np.all(weights[ordered <= 0] == 1)


def test_grid_cells_are_window_pct_wide():
    k = int(cell_index(np.array([50_000.0]), 0.02)[0])
    low, high = cell_bounds(k, 0.02)
    assert math.isclose(high / low, 1.02)
    assert low <= 50_000.0 < high


def test_symbols_computed_together_are_each_as_defined_alone():
    """A refresh computes every symbol at once: each symbol's clusters are still its own (its
    strength relative to its own strongest cluster, its events only), the worked example's."""
    example = [(m * 600_000, 100.0 + m * 0.1, 1000.0 * (m + 1), 0) for m in range(5)]
    same_cell_bigger = [(0, 100.2, 1e9, 0)] * 7  # another symbol, the same cell, far bigger
    expired = [(HOUR, 100.0, 1.0, 0)] * 10
    batch = [arrays(same_cell_bigger), arrays([]), arrays(example), arrays(expired)]
    got = compute_many_clusters(batch, NOW, [None, 5.0, 101.0, None], PARAMS)
    assert got[1] == () and got[3] == ()
    (big,), (cluster,) = got[0], got[2]
    assert big.liquidation_count == 7 and big.total_notional == 7e9 and big.strength == 1.0
    w = [1 - m * 600_000 / HOUR for m in range(5)]
    n = [1000.0 * (m + 1) for m in range(5)]
    p = [100.0 + m * 0.1 for m in range(5)]
    assert cluster.liquidation_count == 5 and cluster.strength == 1.0
    assert cluster.total_notional == pytest.approx(sum(n))
    assert cluster.weighted_notional == pytest.approx(sum(a * b for a, b in zip(w, n, strict=True)))
    level = sum(a * b * c for a, b, c in zip(w, n, p, strict=True)) / cluster.weighted_notional
    assert cluster.price_level == pytest.approx(level)
    assert cluster.distance_from_price == pytest.approx(abs(level - 101.0) / 101.0 * 100)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(event, max_size=40), min_size=1, max_size=6), st.data())
def test_a_batch_gives_each_symbol_exactly_what_it_gives_alone(symbols, data):
    prices = [data.draw(st.one_of(st.none(), st.floats(1.0, 1e6))) for _ in symbols]
    together = compute_many_clusters([arrays(e) for e in symbols], NOW, prices, PARAMS)
    alone = [clusters_of(e, price) for e, price in zip(symbols, prices, strict=True)]
    assert together == alone  # every field, to the last bit
