"""The liquidation price: Binance's isolated-margin formula (protocol reference §4) and brackets.

Expected values are computed here from the formula's definition (the price where margin
balance equals maintenance margin), from §4.2's worked examples, and from the simulated
exchange's own margin arithmetic (``market_sim.sim.margin``, an independent implementation).
"""

from __future__ import annotations

import pytest

from heatmap_engine.levels import load_brackets
from heatmap_engine.levels.brackets import Bracket
from heatmap_engine.levels.formula import (
    LONG,
    SHORT,
    cohort_liquidation_price,
    cohorts,
    isolated_liquidation_price,
    naive_liquidation_price,
)
from market_sim.sim import margin

BTC = load_brackets().for_symbol("BTCUSDT")[0]


@pytest.mark.parametrize(
    ("side", "entry", "leverage", "notional", "expected", "mmr", "cum"),
    [
        (LONG, 100_000.0, 20, 50_000.0, 95_381.53, 0.004, 0.0),  # §4.2 long, bracket 1
        (SHORT, 100_000.0, 20, 50_000.0, 104_581.67, 0.004, 0.0),  # §4.2 short, bracket 1
        (LONG, 100_000.0, 20, 500_000.0, 95_417.09, 0.005, 300.0),  # §4.2 long, bracket 2
    ],
)
def test_worked_examples_of_the_reference(side, entry, leverage, notional, expected, mmr, cum):
    price, bracket = cohort_liquidation_price(side, entry, leverage, notional, BTC)
    assert price == pytest.approx(expected, abs=0.01)
    assert (bracket.mmr, bracket.cum_usd) == (mmr, cum)


def test_a_25x_long_is_liquidated_where_margin_balance_meets_maintenance_margin():
    entry, notional, leverage, mmr = 64_000.0, 10_000.0, 25.0, 0.004  # BTC bracket 1
    quantity, wallet = notional / entry, notional / leverage
    price, _ = cohort_liquidation_price(LONG, entry, leverage, notional, BTC)
    # the definition: WB + Q·(P − EP) = Q·P·MMR − cum, solved by hand for P
    by_hand = (wallet - quantity * entry) / (quantity * mmr - quantity)
    assert price == pytest.approx(by_hand, rel=1e-12)
    balance = wallet + quantity * (price - entry)
    assert balance == pytest.approx(quantity * price * mmr, rel=1e-9)
    # and the simulated exchange's own arithmetic agrees
    sim = margin.liquidation_price(
        1, quantity, entry, margin.initial_margin(quantity, entry, 25.0), mmr
    )
    assert price == pytest.approx(sim, rel=1e-12)


def test_the_formula_beats_the_naive_form_by_the_maintenance_margin():
    """``entry × (1 − 1/L)`` ignores maintenance margin: every level too far from the entry."""
    entry, leverage, mmr = 64_000.0, 25.0, 0.004
    exact, _ = cohort_liquidation_price(LONG, entry, leverage, 10_000.0, BTC)
    naive = naive_liquidation_price(LONG, entry, leverage)
    assert naive == pytest.approx(61_440.0)
    # exact = EP(1 − 1/L)/(1 − MMR): above the naive price by EP(1 − 1/L)·MMR/(1 − MMR)
    assert exact - naive == pytest.approx(entry * (1 - 1 / leverage) * mmr / (1 - mmr), rel=1e-9)
    assert naive < exact < entry
    # at 100x the naive form puts the level 1 % below entry; Binance liquidates 0.6 % below
    exact100, _ = cohort_liquidation_price(LONG, entry, 100.0, 10_000.0, BTC)
    assert 1 - exact100 / entry == pytest.approx(1 - (1 - 0.01) / (1 - 0.004), rel=1e-12)
    assert 1 - naive_liquidation_price(LONG, entry, 100.0) / entry == pytest.approx(0.01)
    short_exact, _ = cohort_liquidation_price(SHORT, entry, 100.0, 10_000.0, BTC)
    assert entry < short_exact < naive_liquidation_price(SHORT, entry, 100.0)


def test_the_bracket_is_chosen_again_at_the_liquidation_price():
    """310k notional is bracket 2 at entry, but 294.5k at its liquidation price: bracket 1."""
    price, bracket = cohort_liquidation_price(LONG, 100_000.0, 20, 310_000.0, BTC)
    assert bracket.mmr == 0.004
    quantity = 310_000.0 / 100_000.0
    assert price == pytest.approx(
        isolated_liquidation_price(1, quantity, 100_000.0, 310_000.0 / 20, 0.004, 0.0)
    )


def test_a_tier_above_the_brackets_maximum_is_taken_at_that_maximum():
    doge = load_brackets().for_symbol("DOGEUSDT")[0]
    (tier,) = cohorts(((100.0, 1.0),), doge, 2_000.0)
    assert tier.effective_leverage == 75.0
    assert tier.long_factor == pytest.approx((1 - 1 / 75) / (1 - 0.0065))


def test_a_tier_liquidated_at_entry_is_refused():
    thin = (Bracket(0.0, 1e12, 200.0, 0.02, 0.0),)
    with pytest.raises(ValueError, match="liquidated at entry"):
        cohorts(((100.0, 1.0),), thin, 2_000.0)


def test_naive_cohorts_use_the_naive_factors():
    (tier,) = cohorts(((10.0, 1.0),), BTC, 2_000.0, formula="naive")
    assert (tier.long_factor, tier.short_factor) == pytest.approx((0.9, 1.1))
