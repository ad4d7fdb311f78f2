"""The simulated market itself: determinism, the book, open interest, liquidation prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from market_sim.hub import encode_frames
from market_sim.sim import margin
from market_sim.sim.market import MarketSimulation
from market_sim.sim.params import FIRST_BRACKETS, SimConfig, build_profile
from market_sim.sim.traders import LEVERAGES
from market_sim.universe import NAMED_SYMBOLS

RecordedRun = Any  # tests/market_sim/conftest.py: RecordedRun (frames + per-step checks)
START_MS = 1_795_000_200_000


def wire_bytes(run: RecordedRun) -> list[bytes]:
    """The frames exactly as the fake would send them on a combined connection."""
    return [encode_frames(stream, [p], False, True)[0][0] for stream, p in run.frames]


def test_same_seed_gives_byte_identical_frames(
    make_sim_config: Callable[..., SimConfig], record_sim: Callable[..., RecordedRun]
) -> None:
    config = make_sim_config(seed=3, vol_scale=2.0)
    first = wire_bytes(record_sim(config, 300, checks=False))
    second = wire_bytes(record_sim(config, 300, checks=False))
    assert first == second
    assert len(first) > 300 * 2  # mark messages and klines every second, plus liquidations
    assert any(b'"e":"forceOrder"' in frame for frame in first)
    other = make_sim_config(seed=4, vol_scale=2.0)
    assert wire_bytes(record_sim(other, 300, checks=False)) != first


def test_open_interest_is_the_sum_of_open_positions_at_every_step(busy_run: RecordedRun) -> None:
    assert len(busy_run.oi_matches) == 2400
    assert all(busy_run.oi_matches)
    book = busy_run.sim.book
    assert (book.oi_lots > 0).all()
    assert book.counts.sum() == len(book) == len(book.rows_of())


def test_every_liquidation_happens_at_or_beyond_its_liquidation_price(
    busy_run: RecordedRun,
) -> None:
    records = busy_run.sim.truth.records(busy_run.sim.truth.select())
    assert len(records) > 100
    for record in records:
        if record["liquidated_side"] == "long":
            assert record["mark_price"] <= record["liquidation_price"], record
            assert float(record["price"]) >= float(record["limit_price"])  # fill within limit
        else:
            assert record["mark_price"] >= record["liquidation_price"], record
            assert float(record["price"]) <= float(record["limit_price"])
        assert record["opened_ms"] < record["time_ms"]


def test_no_open_position_is_beyond_its_liquidation_price_after_any_second(
    busy_run: RecordedRun,
) -> None:
    assert busy_run.reached_after_step == [0] * len(busy_run.reached_after_step)


def test_liquidation_price_matches_the_protocol_worked_examples() -> None:
    """§4.2 worked examples (BTCUSDT brackets 1 and 2)."""
    assert margin.liquidation_price(1, 0.5, 100_000.0, 2_500.0, 0.004) == pytest.approx(
        95_381.53, abs=0.01
    )
    assert margin.liquidation_price(-1, 0.5, 100_000.0, 2_500.0, 0.004) == pytest.approx(
        104_581.67, abs=0.01
    )
    assert margin.liquidation_price(1, 5.0, 100_000.0, 25_000.0, 0.005, 300.0) == pytest.approx(
        95_417.09, abs=0.01
    )
    wallet = margin.initial_margin(0.5, 100_000.0, 20.0)
    assert wallet == 2_500.0
    assert margin.bankruptcy_price(1, 0.5, 100_000.0, wallet) == 95_000.0


def test_book_positions_carry_the_formula_and_their_symbols_mmr(busy_run: RecordedRun) -> None:
    sim = busy_run.sim
    rows = sim.book.take(sim.book.rows_of())
    quantity = rows["lots"] * sim.step_size[rows["sym"]]
    wallet = margin.initial_margin(quantity, rows["entry"], rows["leverage"].astype(float))
    expected = margin.liquidation_price(
        rows["side"], quantity, rows["entry"], wallet, sim.mmr[rows["sym"]]
    )
    np.testing.assert_allclose(rows["liq"], expected, rtol=1e-12)
    np.testing.assert_allclose(rows["margin"], wallet, rtol=1e-12)
    longs = rows["side"] > 0
    assert (rows["liq"][longs] < rows["entry"][longs]).all()
    assert (rows["liq"][~longs] > rows["entry"][~longs]).all()


def test_leverage_mix_and_sizes_are_plausible() -> None:
    sim = MarketSimulation(SimConfig(symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS))
    rows = sim.book.take(sim.book.rows_of())
    leverage = rows["leverage"]
    assert set(np.unique(leverage)) <= set(LEVERAGES.tolist())
    assert ((leverage >= 5) & (leverage <= 25)).mean() > 0.7  # most 5-25x
    assert 0 < (leverage >= 100).mean() < 0.05  # few 100x+
    notional = rows["lots"] * sim.step_size[rows["sym"]] * rows["entry"]
    assert np.median(notional) < 20_000 < notional.max()  # retail median, whales in the tail
    assert notional.max() > 100 * np.median(notional)  # heavy-tailed


def test_profiles_use_the_first_bracket_table_and_plausible_prices() -> None:
    for symbol, (mmr, leverage) in FIRST_BRACKETS.items():
        if symbol in NAMED_SYMBOLS:
            profile = build_profile(symbol)
            assert (profile.mmr, profile.max_leverage) == (mmr, leverage)
    assert build_profile("1000PEPEUSDT").initial_price == pytest.approx(0.01)
    assert build_profile("BTCUSDT").initial_price == pytest.approx(90_000)
    for symbol in ("AVAXUSDT", "ALT123USDT", "BOMEUSDT"):
        profile = build_profile(symbol)
        assert 0.004 <= profile.mmr <= 0.025
        assert profile.max_leverage < 1 / profile.mmr  # never liquidatable on opening


def test_prices_move_with_clustered_volatility_but_stay_plausible(busy_run: RecordedRun) -> None:
    sim = busy_run.sim
    start = np.array([p.initial_price for p in sim.profiles])
    moved = sim.marks / start
    assert ((moved > 0.7) & (moved < 1.4)).all()  # 40 minutes at twice the volatility
    assert (moved != 1.0).all()
    assert (sim.paths.vol_ratio() != 1.0).all()  # GARCH variance moved off its long-run value
