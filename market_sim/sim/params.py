"""Per-symbol parameters of the simulated market, and the knobs of the whole simulation.

What each symbol's profile models:

* price and exchange filters: the fake's `exchangeInfo` values (`market_sim.universe`), so the
  simulated prices, quantities and the REST contract list agree (tick = PRICE_FILTER.tickSize,
  step = LOT_SIZE.stepSize);
* margin: the maintenance margin rate (MMR) and maximum leverage of Binance's *first* leverage
  bracket (protocol reference §4.3: the 2026-09-16 snapshot for the symbols it names, the
  2024-10 snapshot for XRP/ADA/LINK, the rule of thumb for every other symbol: large caps
  0.65 %, mid/low caps 1-2.5 % drawn with the 2024 distribution of first-bracket rates);
* volatility (annualised, turned into a per-second sigma), the loading on a common market
  factor, the target size of the leveraged-position book, a size scale for position notionals
  and the background taker turnover, all by tier (majors, large caps, memecoins, other alts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from market_sim.universe import NAMED_SYMBOLS, default_mark_price, step_size, tick_size, unit_hash

SECONDS_PER_YEAR = 365 * 86_400

# §4.3 first brackets: symbol -> (maintenance margin rate, max leverage).
FIRST_BRACKETS: dict[str, tuple[float, int]] = {
    "BTCUSDT": (0.004, 150), "ETHUSDT": (0.004, 150), "SOLUSDT": (0.005, 100),
    "BNBUSDT": (0.005, 75), "DOGEUSDT": (0.0065, 75), "1000PEPEUSDT": (0.0065, 75),
    "1000SHIBUSDT": (0.0065, 75), "1000BONKUSDT": (0.01, 75), "1000FLOKIUSDT": (0.01, 75),
    "WIFUSDT": (0.01, 75), "1000000MOGUSDT": (0.015, 50), "1MBABYDOGEUSDT": (0.015, 50),
    "1000SATSUSDT": (0.02, 25), "1000CHEEMSUSDT": (0.02, 25), "1000CATUSDT": (0.025, 20),
    # the 2024-10 snapshot (freqtrade) for large caps the 2026 one does not name
    "XRPUSDT": (0.005, 75), "ADAUSDT": (0.005, 75), "LINKUSDT": (0.005, 75),
}  # fmt: skip
LARGE_CAP_BRACKET = (0.0065, 75)  # rule of thumb: large caps 0.5-0.65 %
# Rule of thumb for mid/low caps, weighted like the 2024 first-bracket MMR distribution.
SMALL_CAP_BRACKETS = ((0.01, 75, 110), (0.015, 50, 107), (0.02, 25, 54), (0.025, 20, 6))

MEMECOINS = frozenset(NAMED_SYMBOLS[18:])
MAJORS = frozenset({"BTCUSDT", "ETHUSDT"})


@dataclass(frozen=True)
class Tier:
    """What differs between kinds of contract (volatility, book size, liquidity)."""

    annual_vol: float  # annualised volatility of the mark price
    factor_correlation: float  # correlation of 1 s returns with the market factor
    book_size: int  # target number of open leveraged positions in the simulated book
    size_scale: float  # multiplies the position-notional distribution
    turnover_usd: float  # background taker turnover per second (trades outside the book)


TIERS = {
    "BTCUSDT": Tier(0.50, 0.95, 5000, 4.0, 250_000.0),
    "ETHUSDT": Tier(0.65, 0.80, 3500, 2.5, 120_000.0),
    "large": Tier(0.85, 0.65, 1600, 1.0, 15_000.0),
    "meme": Tier(1.30, 0.55, 1400, 0.6, 10_000.0),
    "alt": Tier(1.00, 0.55, 500, 0.4, 2_500.0),
}


@dataclass(frozen=True)
class SymbolProfile:
    """One simulated USDⓈ-M perpetual."""

    symbol: str
    initial_price: float
    tick: Decimal
    step: Decimal
    mmr: float
    max_leverage: int
    sigma: float  # per-second volatility of log mark price
    factor_correlation: float
    book_size: int
    size_scale: float
    turnover_usd: float
    price_decimals: int  # digits after the point of a price on the tick grid
    qty_decimals: int  # digits after the point of a quantity in lots


def first_bracket(symbol: str) -> tuple[float, int]:
    """(MMR, max leverage) of the first bracket: table first, rule of thumb otherwise."""
    if symbol in FIRST_BRACKETS:
        return FIRST_BRACKETS[symbol]
    if symbol in NAMED_SYMBOLS and symbol not in MEMECOINS:
        return LARGE_CAP_BRACKET
    draw = unit_hash(symbol + "|mmr") * sum(weight for *_, weight in SMALL_CAP_BRACKETS)
    for mmr, leverage, weight in SMALL_CAP_BRACKETS:
        if draw < weight:
            return mmr, leverage
        draw -= weight
    return SMALL_CAP_BRACKETS[-1][:2]


def tier_of(symbol: str) -> Tier:
    if symbol in MAJORS:
        return TIERS[symbol]
    if symbol in MEMECOINS:
        return TIERS["meme"]
    return TIERS["large"] if symbol in NAMED_SYMBOLS else TIERS["alt"]


def build_profile(symbol: str, vol_scale: float = 1.0) -> SymbolProfile:
    """The profile of one symbol (deterministic: depends on the name only)."""
    price = Decimal(default_mark_price(symbol))
    tier = tier_of(symbol)
    mmr, max_leverage = first_bracket(symbol)
    tick, step = tick_size(price), step_size(price)
    spread = 1.0 if symbol in NAMED_SYMBOLS else 0.7 + 0.6 * unit_hash(symbol + "|vol")
    sigma = tier.annual_vol * spread * vol_scale / math.sqrt(SECONDS_PER_YEAR)
    return SymbolProfile(
        symbol=symbol, initial_price=float(price), tick=tick, step=step,
        mmr=mmr, max_leverage=max_leverage, sigma=sigma,
        factor_correlation=tier.factor_correlation, book_size=tier.book_size,
        size_scale=tier.size_scale, turnover_usd=tier.turnover_usd,
        price_decimals=max(0, -tick.adjusted()), qty_decimals=max(0, -step.adjusted()),
    )  # fmt: skip


@dataclass(frozen=True)
class SimConfig:
    """Knobs of one simulation run; the same config and seed give the same market."""

    symbols: tuple[str, ...] = NAMED_SYMBOLS
    seed: int = 7
    start_ms: int = 0  # sim time of the first tick's start (floored to a whole second)
    vol_scale: float = 1.0  # multiplies every symbol's volatility
    book_scale: float = 1.0  # multiplies every symbol's target book size
    impact: float = 0.5  # Y of the square-root impact law of liquidation orders
    max_cascade_rounds: int = 6  # liquidation rounds (each may move the price) per second
    max_cascade_move: float = 0.02  # cap on the liquidation-driven move of one second (log)
    coin_margined_per_hour: float = 12.0  # rate of COIN-M (BTCUSD_PERP) forceOrder events
    partial_fill_share: float = 0.15  # share of liquidation orders filled in pieces (l != z)
    # days of older history before `start_ms` on a cheaper path (no book; see sim/older.py);
    # needs `start_ms` on a 5-minute boundary
    older_days: float = 0.0

    def profiles(self) -> list[SymbolProfile]:
        if not self.symbols:
            raise ValueError("a simulated market needs at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols must be unique")
        return [build_profile(symbol, self.vol_scale) for symbol in self.symbols]


def profile_arrays(profiles: Sequence[SymbolProfile]) -> dict[str, list[float]]:
    """Column lists of the numeric profile fields (the simulation turns them into arrays)."""
    names = ("initial_price", "mmr", "max_leverage", "sigma", "factor_correlation",
             "book_size", "size_scale", "turnover_usd")  # fmt: skip
    return {name: [float(getattr(p, name)) for p in profiles] for name in names}
