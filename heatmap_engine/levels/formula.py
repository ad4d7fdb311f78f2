"""The liquidation price of a cohort: Binance's isolated-margin formula (protocol reference §4).

A cohort is the positions of one side opened at one entry price ``EP`` with one leverage tier
``L``. Each is taken to hold the notional ``N`` (``levels_position_usd``), so its quantity is
``Q = N / EP`` and it posts exactly its initial margin ``WB = N / L`` (no fees, no added margin).
Binance liquidates when the mark reaches

    LP = (WB + cum − s·Q·EP) / (Q·MMR − s·Q)        (§4.1; s = +1 long, −1 short)

with the maintenance-margin rate ``MMR`` and amount ``cum`` of the position's bracket. With
``WB = N/L`` this is the closed form of §4.2:

    long:  LP = EP · (1 − 1/L − cum/N) / (1 − MMR)
    short: LP = EP · (1 + 1/L + cum/N) / (1 + MMR)

so ``LP / EP`` is one factor per side and tier. The bracket is chosen by the entry notional
``N``, then again by the notional at the liquidation price ``Q·LP`` until it no longer changes
(Binance recomputes with the bracket at the liquidation price). A tier above the bracket's
maximum leverage is taken at that maximum: the exchange would not allow more.

``naive`` is the form most heatmaps use, ``LP = EP · (1 ∓ 1/L)``: it ignores the maintenance
margin, so it puts every level too far from the entry, by about ``MMR`` of the price (0.4 % for
BTC; a 100x long liquidates 0.6 % below its entry, not 1 %).
"""

from __future__ import annotations

from dataclasses import dataclass

from heatmap_engine.levels.brackets import Bracket, bracket_of

LONG, SHORT = 1, -1
_MAX_ROUNDS = 8


def isolated_liquidation_price(
    side: int, quantity: float, entry: float, wallet: float, mmr: float, cum: float = 0.0
) -> float:
    """§4.1: ``LP = (WB + cum − s·Q·EP) / (Q·MMR − s·Q)``."""
    return (wallet + cum - side * quantity * entry) / (quantity * mmr - side * quantity)


def naive_liquidation_price(side: int, entry: float, leverage: float) -> float:
    """``EP · (1 ∓ 1/L)``: the form without maintenance margin (for comparison only)."""
    return entry * (1.0 - side / leverage)


def effective_leverage(leverage: float, brackets: tuple[Bracket, ...], notional: float) -> float:
    """The tier's leverage, capped at the maximum of the bracket holding ``notional``."""
    return min(leverage, bracket_of(brackets, notional).max_leverage)


def cohort_liquidation_price(
    side: int, entry: float, leverage: float, notional: float, brackets: tuple[Bracket, ...]
) -> tuple[float, Bracket]:
    """(liquidation price, bracket used) of a cohort; see the module docstring."""
    leverage = effective_leverage(leverage, brackets, notional)
    quantity = notional / entry
    bracket = bracket_of(brackets, notional)
    for _ in range(_MAX_ROUNDS):
        price = isolated_liquidation_price(
            side, quantity, entry, notional / leverage, bracket.mmr, bracket.cum_usd
        )
        at_price = bracket_of(brackets, quantity * price)
        if at_price == bracket:
            break
        bracket = at_price
    return price, bracket


@dataclass(frozen=True, slots=True)
class Cohort:
    """One leverage tier of one symbol: where its levels lie relative to the entry."""

    leverage: float  # as configured
    effective_leverage: float  # capped by the bracket
    weight: float  # share of the opened notional
    long_factor: float  # long LP / EP
    short_factor: float  # short LP / EP
    long_bracket: Bracket
    short_bracket: Bracket


def cohorts(
    tiers: tuple[tuple[float, float], ...],
    brackets: tuple[Bracket, ...],
    notional: float,
    formula: str = "binance",
) -> tuple[Cohort, ...]:
    """Every tier's liquidation factors (``formula`` "binance" or "naive")."""
    out = []
    for leverage, weight in tiers:
        effective = effective_leverage(leverage, brackets, notional)
        long_lp, long_bracket = cohort_liquidation_price(LONG, 1.0, leverage, notional, brackets)
        short_lp, short_bracket = cohort_liquidation_price(SHORT, 1.0, leverage, notional, brackets)
        if formula == "naive":
            long_lp = naive_liquidation_price(LONG, 1.0, effective)
            short_lp = naive_liquidation_price(SHORT, 1.0, effective)
        if not 0.0 < long_lp < 1.0 < short_lp:
            raise ValueError(f"{leverage:g}x is liquidated at entry (1/L <= MMR)")
        out.append(
            Cohort(leverage, effective, weight, long_lp, short_lp, long_bracket, short_bracket)
        )
    return tuple(out)
