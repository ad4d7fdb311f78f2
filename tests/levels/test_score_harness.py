"""``make score``'s simulated-market harness still reads the simulator as it is: a short run
feeds real closed candles and open interest to the books and yields scores in their ranges (the
harness broke silently once when the simulator's candle store changed shape)."""

from __future__ import annotations

import math

import pytest

from benchmarks import levels_sim
from heatmap_engine.levels import LevelsSettings

pytestmark = pytest.mark.slow


def test_a_short_simulated_run_scores_every_variant():
    scores = levels_sim.run_seed(
        3, ("BTCUSDT", "DOGEUSDT"), hours=3.0, warmup_hours=1.0,
        base=LevelsSettings.from_env({}), sample_minutes=30,
    )  # fmt: skip
    for variant in levels_sim.VARIANTS:
        for symbol in ("BTCUSDT", "DOGEUSDT"):
            shares = scores.top[variant][symbol]
            assert len(shares) == 5, (variant, symbol)  # at 1 h, 1 h 30, 2 h, 2 h 30, 3 h
            assert all(0.0 <= s <= 1.0 for s in shares), (variant, symbol, shares)
            bars = scores.bars[variant][symbol]
            for key in ("long_bar", "short_bar", "long_hour", "short_hour"):
                value = bars[key]
                assert math.isnan(value) or -1.0 <= value <= 1.0, (variant, symbol, key, value)
