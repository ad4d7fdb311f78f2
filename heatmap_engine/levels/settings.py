"""The estimated-levels model's settings: ``HEATMAP_LEVELS_*`` variables, validated, failing fast.

Read with ``heatmap_engine.config.read_env`` like every other setting; the README lists them all
with their defaults. A *preset* picks which leverage tiers a run assumes (their weights are
renormalised to 1 within the preset), in the spirit of Coinglass's models:

* ``all``: every tier of ``levels_tiers``;
* ``high``: only tiers at or above ``levels_high_leverage_min`` (high leverage only);
* ``low``: only tiers below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from heatmap_engine.config import PREFIX, ConfigError, _float, _int, _str, read_env

PRESETS = ("all", "high", "low")
FORMULAS = ("binance", "naive")
PLACEMENTS = ("leverage", "uniform")
DEFAULT_TIERS: tuple[tuple[float, float], ...] = (
    (5.0, 0.20),
    (10.0, 0.30),
    (25.0, 0.25),
    (50.0, 0.15),
    (100.0, 0.10),
)


def _tiers(name: str, raw: str) -> tuple[tuple[float, float], ...]:
    """``"5:0.2,10:0.3,25:0.25"``: leverage:weight pairs (weights need not sum to 1)."""
    tiers: dict[float, float] = {}
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        lev, sep, weight = item.partition(":")
        try:
            leverage, share = float(lev), float(weight) if sep else float("nan")
        except ValueError:
            leverage = share = float("nan")
        if not (1.0 <= leverage <= 1000.0 and 0.0 < share < float("inf")):
            raise ConfigError(
                f"{PREFIX}{name.upper()}: {item!r} is not leverage:weight; use e.g. "
                "'5:0.2,10:0.3,25:0.25,50:0.15,100:0.1' (leverage 1-1000, weight > 0)"
            )
        tiers[leverage] = share
    if not tiers:
        raise ConfigError(f"{PREFIX}{name.upper()} is empty; give at least one leverage:weight")
    return tuple(sorted(tiers.items()))


def _choice(*allowed: str):
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ConfigError(
                f"{PREFIX}{name.upper()}={raw!r} is not allowed; use one of {', '.join(allowed)}"
            )
        return value

    return parse


@dataclass(frozen=True, slots=True)
class LevelsSettings:
    """Every assumption of the estimated-levels model. Field ``x`` is read from ``HEATMAP_X``."""

    levels_tiers: tuple[tuple[float, float], ...] = DEFAULT_TIERS
    levels_preset: str = "all"
    levels_high_leverage_min: float = 25.0
    levels_half_life_hours: float = 24.0  # 0 = levels never decay
    levels_bucket_pct: float = 0.1  # width of the model's price buckets (logarithmic)
    levels_position_usd: float = 2_000.0  # the notional that picks a cohort's bracket
    levels_brackets_file: str = ""  # override of the shipped bracket table
    levels_oi_gap_minutes: float = 360.0  # a longer wait between OI readings is a gap
    levels_warmup_hours: float = 48.0  # data before the range used to build the book
    levels_grid_rows: int = 400  # at most this many price rows in the grid
    levels_grid_columns: int = 720  # at most this many time columns in the grid
    levels_grid_margin_pct: float = 10.0  # grid price range: candles' range widened by this
    levels_formula: str = "binance"  # "naive" = entry × (1 ∓ 1/L), for comparison only
    levels_placement: str = "leverage"  # "uniform" = the baseline of `make score`

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LevelsSettings:
        values = read_env(cls, _PARSERS, env)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name, parser in _PARSERS.items():
            if parser is _str:
                continue
            value = getattr(self, name)
            text = ",".join(f"{lev}:{w}" for lev, w in value) if name == "levels_tiers" else value
            parser(name, str(text))
        self.tiers()  # the preset must keep at least one tier

    def with_preset(self, preset: str) -> LevelsSettings:
        """The same settings with another preset (validated)."""
        chosen = replace(self, levels_preset=_choice(*PRESETS)("levels_preset", preset))
        chosen.tiers()
        return chosen

    def tiers(self) -> tuple[tuple[float, float], ...]:
        """(leverage, weight) of the preset's tiers, weights summing to 1, by leverage."""
        cut = self.levels_high_leverage_min
        keep = {
            "all": lambda lev: True,
            "high": lambda lev: lev >= cut,
            "low": lambda lev: lev < cut,
        }[self.levels_preset]
        chosen = [(lev, w) for lev, w in self.levels_tiers if keep(lev)]
        if not chosen:
            raise ConfigError(
                f"{PREFIX}LEVELS_PRESET={self.levels_preset!r} keeps no tier of "
                f"{PREFIX}LEVELS_TIERS (high/low split at {cut:g}x)"
            )
        total = sum(w for _, w in chosen)
        return tuple((lev, w / total) for lev, w in chosen)

    @property
    def half_life_ms(self) -> float:
        """Half-life in milliseconds; infinity when decay is off."""
        hours = self.levels_half_life_hours
        return float("inf") if hours == 0 else hours * 3_600_000.0


_PARSERS = {
    "levels_tiers": _tiers,
    "levels_preset": _choice(*PRESETS),
    "levels_high_leverage_min": _float(1.0, 1000.0),
    "levels_half_life_hours": _float(0.0, 24 * 365.0),
    "levels_bucket_pct": _float(0.01, 5.0),
    "levels_position_usd": _float(1.0, 1e9),
    "levels_brackets_file": _str,
    "levels_oi_gap_minutes": _float(1.0, 30 * 1440.0),
    "levels_warmup_hours": _float(0.0, 24 * 365.0),
    "levels_grid_rows": _int(10, 5000),
    "levels_grid_columns": _int(10, 100_000),
    "levels_grid_margin_pct": _float(0.0, 100.0),
    "levels_formula": _choice(*FORMULAS),
    "levels_placement": _choice(*PLACEMENTS),
}
