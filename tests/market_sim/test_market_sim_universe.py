"""The fake's symbol universe and exchangeInfo entries (§1.9, §1.11)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import requests

from market_sim.fake_binance import FakeBinance, default_mark_prices, default_universe

NAMED_TEXT = (
    "BTCUSDT ETHUSDT BNBUSDT SOLUSDT XRPUSDT DOGEUSDT ADAUSDT AVAXUSDT LINKUSDT DOTUSDT LTCUSDT "
    "TRXUSDT SUIUSDT NEARUSDT APTUSDT ARBUSDT OPUSDT TONUSDT 1000SHIBUSDT 1000PEPEUSDT "
    "1000BONKUSDT 1000FLOKIUSDT 1000000MOGUSDT 1000CATUSDT WIFUSDT 1000SATSUSDT "
    "1MBABYDOGEUSDT BOMEUSDT"
)
NAMED = NAMED_TEXT.split()


def test_default_universe_has_400_unique_usdt_perps_including_the_named_28() -> None:
    universe = default_universe()
    assert len(universe) == len(set(universe)) == 400
    assert set(NAMED) <= set(universe)
    assert all(name.endswith("USDT") for name in universe)
    assert "CATUSDT" not in universe  # the Caterpillar equity perp, not the memecoin


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [("BTCUSDT", 50_000, 150_000), ("ETHUSDT", 1_000, 6_000), ("1000PEPEUSDT", 0.001, 0.1),
     ("1000000MOGUSDT", 0.05, 5), ("1000SATSUSDT", 0.00001, 0.01)],
)  # fmt: skip
def test_default_mark_prices_are_plausible(symbol: str, low: float, high: float) -> None:
    prices = default_mark_prices()
    assert set(prices) == set(default_universe())
    assert low < float(prices[symbol]) < high
    assert all(Decimal(price) > 0 for price in prices.values())
    assert default_mark_prices() == prices  # deterministic


def test_exchange_info_exercises_the_client_universe_filter(
    make_fake: Callable[..., FakeBinance],
) -> None:
    fake = make_fake(symbols=None)
    info = requests.get(f"{fake.rest_base}/fapi/v1/exchangeInfo", timeout=2).json()
    entries = {entry["symbol"]: entry for entry in info["symbols"]}
    kept = [
        s["symbol"] for s in info["symbols"]
        if s["contractType"] == "PERPETUAL" and s["status"] == "TRADING"
        and s["quoteAsset"] == "USDT"
    ]  # fmt: skip
    assert kept == default_universe() == fake.symbols
    assert entries["CATUSDT"]["contractType"] == "TRADIFI_PERPETUAL"
    assert {"TSLAUSDT", "XAUUSDT"} <= {
        s for s, e in entries.items() if e["contractType"] == "TRADIFI_PERPETUAL"
    }
    quarterly = entries["BTCUSDT_261225"]
    assert (quarterly["contractType"], quarterly["pair"]) == ("CURRENT_QUARTER", "BTCUSDT")
    assert quarterly["deliveryDate"] != 4133404800000
    assert {e["status"] for e in entries.values()} >= {"TRADING", "SETTLING", "CLOSE"}
    assert entries["ETHUSDC"]["quoteAsset"] == entries["ETHUSDC"]["marginAsset"] == "USDC"


def test_custom_symbols_replace_the_tradeable_set(make_fake: Callable[..., FakeBinance]) -> None:
    fake = make_fake(symbols=["BTCUSDT", "NEWCOINUSDT"])
    assert fake.symbols == ["BTCUSDT", "NEWCOINUSDT"]
    with pytest.raises(KeyError):
        fake.set_mark_prices({"ETHUSDT": "1"})
    with pytest.raises(ValueError):
        fake.set_mark_prices({"BTCUSDT": "cheap"})
