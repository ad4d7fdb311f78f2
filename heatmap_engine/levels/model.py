"""One symbol's model under given settings: its layout (tiers through the formula on the grid)
and the assumptions block that travels with every result."""

from __future__ import annotations

from heatmap_engine.levels import rules
from heatmap_engine.levels.brackets import BracketTable
from heatmap_engine.levels.formula import Cohort, cohorts
from heatmap_engine.levels.layout import Layout
from heatmap_engine.levels.results import Assumptions, TierInfo
from heatmap_engine.levels.series import Bars, Readings
from heatmap_engine.levels.settings import LevelsSettings

RULES = (
    ("open_interest_spread", rules.SPREAD_RULE),
    ("side_split", rules.SIDE_RULE),
    (
        "liquidation_price",
        "Binance isolated margin, LP = (WB + cum - s*Q*EP) / (Q*MMR - s*Q) "
        "with WB = N/L and the maintenance rate and amount of the bracket of N (re-chosen at the "
        "liquidation price); see the tiers",
    ),
    ("closing", rules.CLOSING_RULE),
    ("consumption", rules.SWEEP_RULE),
    ("decay", rules.DECAY_RULE),
    ("calibration", rules.CALIBRATION_RULE),
)
NAIVE_RULE = "naive: LP = entry x (1 - 1/L) for longs, entry x (1 + 1/L) for shorts, no margin"
UNIFORM_RULE = (
    "uniform baseline: each bar's opened notional is spread evenly between the "
    "farthest and the nearest tier's liquidation price, on each side"
)


def symbol_layout(
    settings: LevelsSettings, symbol: str | None, table: BracketTable
) -> tuple[Layout, bool]:
    """(layout, whether the bracket table lists the symbol)."""
    brackets, listed = table.for_symbol(symbol)
    tiers = cohorts(
        settings.tiers(), brackets, settings.levels_position_usd, settings.levels_formula
    )
    uniform = settings.levels_placement == "uniform"
    layout = Layout.build(tiers, settings.levels_bucket_pct, settings.half_life_ms, uniform)
    return layout, listed


def tier_label(leverage: float) -> str:
    return f"{leverage:g}x"


def tier_labels(layout: Layout) -> tuple[str, ...]:
    """The profile's tier names: one per leverage tier, or "uniform" for the baseline."""
    return ("uniform",) if layout.uniform else tuple(tier_label(c.leverage) for c in layout.cohorts)


def _tier_info(c: Cohort) -> TierInfo:
    return TierInfo(
        tier_label(c.leverage),
        c.leverage,
        c.effective_leverage,
        c.weight,
        c.long_bracket.mmr,
        c.long_bracket.cum_usd,
        c.short_bracket.mmr,
        c.short_bracket.cum_usd,
        (c.long_factor - 1) * 100,
        (c.short_factor - 1) * 100,
    )


def assumptions(
    settings: LevelsSettings,
    symbol: str | None,
    layout: Layout,
    table: BracketTable,
    listed: bool,
    bars: Bars | None = None,
    readings: Readings | None = None,
    row_buckets: int = 1,
) -> Assumptions:
    """Every assumption of a run as data."""
    tiers = tuple(_tier_info(c) for c in layout.cohorts)
    stated = list(RULES)
    if settings.levels_formula == "naive":
        stated[2] = ("liquidation_price", NAIVE_RULE)
    if layout.uniform:
        stated.append(("placement", UNIFORM_RULE))
    volume = bars is not None and len(bars) > 0 and bool((bars.volume == bars.volume).all())
    taker = (
        bars is not None
        and len(bars) > 0
        and bool((bars.taker_buy_volume == bars.taker_buy_volume).all())
    )
    return Assumptions(
        symbol,
        settings.levels_preset,
        tiers,
        settings.levels_formula,
        settings.levels_placement,
        settings.levels_position_usd,
        settings.levels_half_life_hours,
        settings.levels_bucket_pct,
        row_buckets,
        settings.levels_oi_gap_minutes,
        settings.levels_warmup_hours,
        table.source,
        table.as_of,
        listed,
        tuple(stated),
        bars.interval_ms if bars is not None else 0,
        len(bars) if bars is not None else 0,
        len(readings) if readings is not None else 0,
        readings.cadence_ms() if readings is not None else None,
        volume,
        taker,
    )
