"""Symbol universe, resolver and settings validation."""

from __future__ import annotations

import pytest

from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.symbols import (
    DEFAULT_SYMBOLS,
    SymbolResolver,
    perpetuals_from_exchange_info,
    split_multiplier,
)


def test_default_universe_is_the_seeds_28_under_real_contract_names():
    assert len(DEFAULT_SYMBOLS) == 28 == len(set(DEFAULT_SYMBOLS))
    for name in ("1000PEPEUSDT", "1000000MOGUSDT", "1000CATUSDT", "1000SHIBUSDT", "1000BONKUSDT"):
        assert name in DEFAULT_SYMBOLS
    assert "CATUSDT" not in DEFAULT_SYMBOLS  # Caterpillar, not the memecoin


@pytest.mark.parametrize(
    ("typed", "contract"),
    [
        ("pepe", "1000PEPEUSDT"),
        ("PEPEUSDT", "1000PEPEUSDT"),
        ("1000pepeusdt", "1000PEPEUSDT"),
        ("pepe/usdt", "1000PEPEUSDT"),
        (" btc-usdt ", "BTCUSDT"),
        ("btcusdt", "BTCUSDT"),
        ("BTCUSDT.PERP", "BTCUSDT"),
        ("mog", "1000000MOGUSDT"),
        ("babydoge", "1MBABYDOGEUSDT"),
        ("cat", "1000CATUSDT"),
        ("shib", "1000SHIBUSDT"),
        ("doesnotexist", None),
        ("", None),
        ("<script>", None),
        ("x" * 100, None),
    ],
)
def test_resolver_maps_what_people_type(typed, contract):
    assert SymbolResolver(DEFAULT_SYMBOLS).resolve(typed) == contract


def test_exact_contract_wins_over_a_multiplied_one():
    resolver = SymbolResolver(["CATUSDT", "1000CATUSDT"])
    assert resolver.resolve("catusdt") == "CATUSDT"
    assert resolver.resolve("1000cat") == "1000CATUSDT"


def test_split_multiplier():
    assert split_multiplier("1000000MOG") == (1_000_000, "MOG")
    assert split_multiplier("1MBABYDOGE") == (1_000_000, "BABYDOGE")
    assert split_multiplier("1INCH") == (1, "1INCH")
    assert split_multiplier("BTC") == (1, "BTC")


def test_exchange_info_filter_keeps_trading_usdt_perpetuals_only():
    def entry(symbol, contract_type="PERPETUAL", status="TRADING", quote="USDT"):
        return {"symbol": symbol, "contractType": contract_type, "status": status,
                "quoteAsset": quote}  # fmt: skip

    info = {
        "symbols": [
            entry("BTCUSDT"),
            entry("CATUSDT", contract_type="TRADIFI_PERPETUAL"),
            entry("BTCUSDT_261225", contract_type="CURRENT_QUARTER"),
            entry("OLDUSDT", status="SETTLING"),
            entry("ETHUSDC", quote="USDC"),
        ]
    }
    assert perpetuals_from_exchange_info(info) == ("BTCUSDT",)


def test_settings_defaults_are_the_seeds():
    s = Settings.from_env({})
    assert (s.cluster_window_pct, s.min_cluster_size, s.time_decay_minutes, s.update_interval) == (
        0.02,
        5,
        60.0,
        5.0,
    )
    assert s.binance_ws_url == "wss://fstream.binance.com/market"
    assert s.port == 8004


def test_settings_read_from_the_mapping_given():
    s = Settings.from_env(
        {"HEATMAP_SYMBOLS": "btcusdt, ethusdt,btcusdt", "HEATMAP_MIN_CLUSTER_SIZE": "3"}
    )
    assert s.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.min_cluster_size == 3
    assert Settings.from_env({"HEATMAP_SYMBOLS": "ALL"}).all_symbols


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("HEATMAP_CLUSTER_WINDOW_PCT", "abc", "not a number"),
        ("HEATMAP_CLUSTER_WINDOW_PCT", "0", "must be >"),
        ("HEATMAP_MIN_CLUSTER_SIZE", "2.5", "not an integer"),
        ("HEATMAP_TIME_DECAY_MINUTES", "nan", "finite"),
        ("HEATMAP_BINANCE_WS_URL", "http://x", "ws://"),
        ("HEATMAP_PORT", "70000", "between"),
        ("HEATMAP_SYMBOLS", " , ", "empty"),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(var, value, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        Settings.from_env({var: value})
    assert var in str(info.value) or var == "HEATMAP_SYMBOLS"
