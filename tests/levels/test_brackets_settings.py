"""The shipped bracket table, its override file, and the HEATMAP_LEVELS_* settings."""

from __future__ import annotations

import itertools
import json

import pytest

from heatmap_engine.config import ConfigError
from heatmap_engine.levels import LevelsSettings, load_brackets
from heatmap_engine.levels.brackets import BracketFileError, bracket_of


def test_shipped_brackets_are_the_references_btc_table():
    btc, listed = load_brackets().for_symbol("btcusdt")
    assert listed
    got = [(b.floor_usd, b.cap_usd, b.max_leverage, b.mmr, b.cum_usd) for b in btc]
    assert got == [
        (0, 300e3, 150, 0.004, 0),
        (300e3, 800e3, 100, 0.005, 300),
        (800e3, 3e6, 75, 0.0065, 1500),
        (3e6, 12e6, 50, 0.01, 12000),
    ]


def test_every_shipped_maintenance_amount_follows_from_continuity():
    table = load_brackets()
    for symbol, rows in [*table.symbols.items(), ("default", table.default)]:
        cum = 0.0
        for previous, current in itertools.pairwise(rows):
            cum += current.floor_usd * (current.mmr - previous.mmr)
            assert current.cum_usd == pytest.approx(cum, abs=1e-6), symbol
        assert rows[0].cum_usd == 0.0


def test_an_unlisted_symbol_gets_the_default_table():
    rows, listed = load_brackets().for_symbol("NOSUCHUSDT")
    assert not listed
    assert rows[0].mmr == 0.015 and rows[0].max_leverage == 50
    assert bracket_of(rows, 1e9) is rows[-1]  # the last bracket extends to any notional


def test_an_override_file_in_binance_leverage_bracket_format(tmp_path):
    raw = [
        {
            "symbol": "BTCUSDT",
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 125,
                    "notionalCap": 50000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.004,
                    "cum": 0.0,
                },
                {
                    "bracket": 2,
                    "initialLeverage": 100,
                    "notionalCap": 600000,
                    "notionalFloor": 50000,
                    "maintMarginRatio": 0.005,
                    "cum": 50.0,
                },
            ],
        }
    ]
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(raw))
    table = load_brackets(path)
    btc, _ = table.for_symbol("BTCUSDT")
    assert [b.cap_usd for b in btc] == [50000, 600000]
    assert table.for_symbol("ETHUSDT")[1]  # other symbols keep the shipped rows
    assert table.source == "file: brackets.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ('[{"symbol": "X"}]', "non-empty list"),
        ('[{"symbol": "X", "brackets": [{"notionalCap": 1}]}]', "each bracket needs"),
        (
            '[{"symbol": "X", "brackets": [{"notionalCap": 1, "initialLeverage": 5, '
            '"maintMarginRatio": 2}]}]',
            "maintMarginRatio must be",
        ),
        ('{"symbols": 3}', "expected a list"),
    ],
)
def test_a_bad_override_file_says_why(tmp_path, text, message):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(BracketFileError, match=message):
        load_brackets(path)
    with pytest.raises(BracketFileError, match="cannot read"):
        load_brackets(tmp_path / "missing.json")


def test_settings_defaults_and_presets():
    settings = LevelsSettings.from_env({})
    assert [lev for lev, _ in settings.tiers()] == [5, 10, 25, 50, 100]
    assert sum(w for _, w in settings.tiers()) == pytest.approx(1.0)
    high = settings.with_preset("high").tiers()
    assert [lev for lev, _ in high] == [25, 50, 100]
    assert [w for _, w in high] == pytest.approx([0.25 / 0.5, 0.15 / 0.5, 0.1 / 0.5])
    assert [lev for lev, _ in settings.with_preset("low").tiers()] == [5, 10]
    assert settings.half_life_ms == 24 * 3_600_000


def test_settings_from_the_environment():
    env = {
        "HEATMAP_LEVELS_TIERS": "20:1, 3:3",
        "HEATMAP_LEVELS_HALF_LIFE_HOURS": "0",
        "HEATMAP_LEVELS_PRESET": "LOW",
        "HEATMAP_LEVELS_HIGH_LEVERAGE_MIN": "20",
    }
    settings = LevelsSettings.from_env(env)
    assert settings.levels_tiers == ((3.0, 3.0), (20.0, 1.0))
    assert settings.tiers() == ((3.0, 1.0),)
    assert settings.half_life_ms == float("inf")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEATMAP_LEVELS_TIERS": "5x:1"}, "HEATMAP_LEVELS_TIERS"),
        ({"HEATMAP_LEVELS_TIERS": "5:0"}, "weight > 0"),
        ({"HEATMAP_LEVELS_TIERS": ""}, "is empty"),
        ({"HEATMAP_LEVELS_PRESET": "model9"}, "HEATMAP_LEVELS_PRESET"),
        ({"HEATMAP_LEVELS_TIERS": "5:1", "HEATMAP_LEVELS_PRESET": "high"}, "keeps no tier"),
        ({"HEATMAP_LEVELS_BUCKET_PCT": "0"}, "HEATMAP_LEVELS_BUCKET_PCT"),
        ({"HEATMAP_LEVELS_HALF_LIFE_HOURS": "-1"}, "HEATMAP_LEVELS_HALF_LIFE_HOURS"),
        ({"HEATMAP_LEVELS_FORMULA": "magic"}, "binance, naive"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        LevelsSettings.from_env(env)
