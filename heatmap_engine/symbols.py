"""The tracked contract universe and the resolver from what a person types to a contract.

Binance lists low-priced coins under multiplied contracts: ``1000PEPEUSDT`` (price of 1000 PEPE),
``1000000MOGUSDT``, ``1MBABYDOGEUSDT``. ``CATUSDT`` is an unrelated TradFi perpetual (Caterpillar),
not the memecoin ``1000CATUSDT``; the resolver only ever maps to contracts that exist in the
universe it was given, and an exact contract name always wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_SYMBOLS: tuple[str, ...] = (
    # majors and large caps
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT",
    "LINKUSDT", "DOTUSDT", "LTCUSDT", "TRXUSDT", "SUIUSDT", "NEARUSDT", "APTUSDT", "ARBUSDT",
    "OPUSDT", "TONUSDT",
    # memecoins, under their real (multiplied) contract names
    "1000SHIBUSDT", "1000PEPEUSDT", "1000BONKUSDT", "1000FLOKIUSDT", "1000000MOGUSDT",
    "1000CATUSDT", "WIFUSDT", "1000SATSUSDT", "1MBABYDOGEUSDT", "BOMEUSDT",
)  # fmt: skip

# Longest first, so "1000000MOG" is not read as "1000" + "000MOG".
MULTIPLIER_PREFIXES: tuple[str, ...] = ("1000000", "100000", "10000", "1000", "100", "1M")
QUOTES: tuple[str, ...] = ("USDT", "USDC")
_SEPARATORS = re.compile(r"[\s/_\-:.]+")


def split_multiplier(base: str) -> tuple[int, str]:
    """``1000PEPE`` -> (1000, ``PEPE``); ``1MBABYDOGE`` -> (1_000_000, ``BABYDOGE``)."""
    for prefix in MULTIPLIER_PREFIXES:
        rest = base[len(prefix) :]
        if base.startswith(prefix) and rest and rest[0].isalpha():
            return (1_000_000 if prefix == "1M" else int(prefix)), rest
    return 1, base


def base_and_quote(contract: str) -> tuple[str, str]:
    for quote in QUOTES:
        if contract.endswith(quote) and len(contract) > len(quote):
            return contract[: -len(quote)], quote
    return contract, ""


def perpetuals_from_exchange_info(info: Mapping[str, Any]) -> tuple[str, ...]:
    """Every trading USDⓈ-M USDT perpetual in a ``/fapi/v1/exchangeInfo`` body.

    TradFi perpetuals (``contractType`` ``TRADIFI_PERPETUAL``), delivery contracts, USDC-quoted
    contracts and symbols not in ``TRADING`` status are left out.
    """
    out = []
    for entry in info.get("symbols", ()):
        if (
            entry.get("contractType") == "PERPETUAL"
            and entry.get("status") == "TRADING"
            and entry.get("quoteAsset", "USDT") == "USDT"
        ):
            out.append(str(entry["symbol"]).upper())
    return tuple(sorted(set(out)))


class SymbolResolver:
    """Maps ``pepe``, ``PEPEUSDT``, ``1000pepeusdt``, ``pepe/usdt`` to ``1000PEPEUSDT``."""

    def __init__(self, contracts: Iterable[str]):
        self.contracts: tuple[str, ...] = tuple(dict.fromkeys(c.upper() for c in contracts))
        self._exact = set(self.contracts)
        self._by_coin: dict[tuple[str, str], list[str]] = {}
        for contract in self.contracts:
            base, quote = base_and_quote(contract)
            _, coin = split_multiplier(base)
            self._by_coin.setdefault((coin, quote), []).append(contract)
        for candidates in self._by_coin.values():
            # Unmultiplied first, then by multiplier: deterministic, and "CAT" prefers CATUSDT
            # only if that contract is in the universe at all.
            candidates.sort(key=lambda c: (split_multiplier(base_and_quote(c)[0])[0], c))

    def resolve(self, text: str) -> str | None:
        """The contract for what a person typed, or None if nothing in the universe matches."""
        if not isinstance(text, str) or not text.isascii():
            # ASCII only, before upper(): Unicode case mapping turns "ſ" (long s) into "S" and
            # "ﬀ" into "FF", so "ETHUſDT" would otherwise name ETHUSDT
            return None
        cleaned = _SEPARATORS.sub("", text).upper()
        if cleaned.endswith("PERP"):
            cleaned = cleaned[:-4]
        if not cleaned or len(cleaned) > 40 or not cleaned.isalnum():
            return None
        if cleaned in self._exact:
            return cleaned
        base, quote = base_and_quote(cleaned)
        quotes = (quote,) if quote else QUOTES
        _, coin = split_multiplier(base)
        for q in quotes:
            if base + q in self._exact:
                return base + q
            candidates = self._by_coin.get((coin, q))
            if candidates:
                return candidates[0]
        return None

    def __contains__(self, contract: object) -> bool:
        return contract in self._exact

    def __len__(self) -> int:
        return len(self.contracts)
