"""What the page shows, as one value: parsed from and written to the URL's query string (pure).

``?symbol=ETHUSDT&min_strength=0.4`` is enough to share a view; every other parameter has a
default and is written only when it differs from it, so URLs stay short.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from heatmap_engine.best import DEFAULT_MAX_DISTANCE_PCT, DEFAULT_MIN_STRENGTH
from heatmap_engine.levels.settings import PRESETS
from heatmap_engine.symbols import base_and_quote, split_multiplier

# the first is the default; "Realized" names the views of observed liquidations
VIEWS: dict[str, str] = {
    "estimated": "Heatmap (estimated)",
    "heatmap": "Realized clusters",
    "timeline": "Realized time × price",
    "map": "Liquidation map",
    "table": "Table",
}
# which layer each view shows, in one line (the page shows the line of the current view)
LAYERS: dict[str, str] = {
    "estimated": "Estimated layer: where the leveraged positions open now would be liquidated, "
    "modelled from candles and open interest. Not observed.",
    "heatmap": "Realized layer: clusters of the liquidations Binance reported (observed; a "
    "lower bound).",
    "timeline": "Realized layer: each liquidation Binance reported, where and when it happened "
    "(observed; a lower bound).",
    "map": "Both layers: the estimated standing book by leverage tier, with the realized "
    "liquidations of the range over it.",
    "table": "Realized layer: the clusters of observed liquidations, as a table.",
}
# the estimated view's ranges: Coinglass's five, then those the store's 1h candles reach (its
# open interest reaches 30 days back where Binance's does; the chart says what is covered)
LEVELS_RANGES = ("12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y")
OVERLAYS = {"dots": "Realized liquidations", "bands": "Realized clusters"}
THRESHOLD_BOUNDS = (0.0, 50.0, 1.0)  # % of the colour scale's maximum
# range -> (milliseconds, candle interval)
RANGES: dict[str, tuple[int, str]] = {
    "1h": (3_600_000, "1m"),
    "4h": (14_400_000, "3m"),
    "12h": (43_200_000, "5m"),
    "24h": (86_400_000, "15m"),
    "7d": (604_800_000, "1h"),
}
HISTORY_ONLY_RANGES = ("7d",)  # offered only while history is kept
STRENGTH_BOUNDS = (0.0, 1.0, 0.05)  # min, max, step
DISTANCE_BOUNDS = (0.5, 30.0, 0.5)
REFRESH_BOUNDS = (1, 300)  # seconds
DEFAULT_SYMBOL = "BTCUSDT"


@dataclass(frozen=True, slots=True)
class ViewState:
    symbol: str
    min_strength: float = DEFAULT_MIN_STRENGTH
    max_distance: float = DEFAULT_MAX_DISTANCE_PCT
    view: str = "estimated"
    range: str = "1h"
    refresh: int = 5  # seconds between auto-refresh ticks
    levels_range: str = "24h"  # the estimated view's range
    preset: str = "all"
    threshold: float = 5.0  # estimated cells below this % of the colour scale are hidden
    overlay: str = ""  # realized layers over the estimated view: "", "dots", "bands", "dots,bands"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ViewState:
        return cls(**{k: data[k] for k in cls.__slots__ if k in data})

    @property
    def overlays(self) -> list[str]:
        return [o for o in self.overlay.split(",") if o]

    @property
    def range_ms(self) -> int:
        return RANGES[self.range][0]

    @property
    def interval(self) -> str:
        return RANGES[self.range][1]


def default_symbol(symbols: Iterable[str]) -> str:
    symbols = tuple(symbols)
    return DEFAULT_SYMBOL if DEFAULT_SYMBOL in symbols or not symbols else symbols[0]


def _number(raw: str | None, bounds: tuple[float, float, float], default: float) -> float:
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        return default
    if not math.isfinite(value):
        return default
    low, high, step = bounds
    value = min(high, max(low, value))
    return round(round(value / step) * step, 4)


def parse_query(
    search: str | None, resolve: Callable[[str], str | None], fallback_symbol: str
) -> tuple[ViewState, str | None]:
    """The state a query string asks for, and a notice when part of it could not be honoured
    (an unknown symbol). Out-of-range numbers are clamped, unknown views and ranges ignored."""
    args = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    notice = None
    symbol = fallback_symbol
    if args.get("symbol"):
        resolved = resolve(args["symbol"])
        if resolved is None:
            notice = f"“{args['symbol'][:40]}” is not a tracked contract; showing {symbol}"
        else:
            symbol = resolved
    defaults = ViewState(symbol)
    refresh = int(_number(args.get("refresh"), (*REFRESH_BOUNDS, 1), defaults.refresh))
    state = ViewState(
        symbol=symbol,
        min_strength=_number(args.get("min_strength"), STRENGTH_BOUNDS, defaults.min_strength),
        max_distance=_number(args.get("max_distance"), DISTANCE_BOUNDS, defaults.max_distance),
        view=args["view"] if args.get("view") in VIEWS else defaults.view,
        range=args["range"] if args.get("range") in RANGES else defaults.range,
        refresh=refresh,
        levels_range=_choice(args.get("levels_range"), LEVELS_RANGES, defaults.levels_range),
        preset=_choice(args.get("preset"), PRESETS, defaults.preset),
        threshold=_number(args.get("threshold"), THRESHOLD_BOUNDS, defaults.threshold),
        overlay=overlay_value((args.get("overlay") or "").split(",")),
    )
    return state, notice


def _choice(raw: str | None, allowed: Iterable[str], default: str) -> str:
    return raw if raw in tuple(allowed) else default


def overlay_value(chosen: Iterable[str] | None) -> str:
    """The known overlays among ``chosen``, in their own order, as the state holds them."""
    picked = set(chosen or ())
    return ",".join(o for o in OVERLAYS if o in picked)


def to_query(state: ViewState) -> str:
    """``?symbol=...`` plus every parameter that differs from its default."""
    defaults = ViewState(state.symbol)
    params: dict[str, Any] = {"symbol": state.symbol}
    names = ("min_strength", "max_distance", "view", "range", "refresh", "levels_range",
             "preset", "threshold", "overlay")  # fmt: skip
    for name in names:
        value = getattr(state, name)
        if value != getattr(defaults, name):
            params[name] = f"{value:g}" if isinstance(value, float) else value
    return "?" + urlencode(params)


def with_controls(
    state: ViewState,
    symbol: str | None,
    min_strength: float | None,
    max_distance: float | None,
    view: str | None,
    range_: str | None,
    levels_range: str | None = None,
    preset: str | None = None,
    threshold: float | None = None,
    overlays: list[str] | None = None,
) -> ViewState:
    """The state after the user moved a control (a cleared or unknown value keeps the old one)."""
    state = replace(
        state,
        levels_range=_choice(levels_range, LEVELS_RANGES, state.levels_range),
        preset=_choice(preset, PRESETS, state.preset),
        threshold=state.threshold
        if threshold is None
        else _number(str(threshold), THRESHOLD_BOUNDS, state.threshold),
        overlay=state.overlay if overlays is None else overlay_value(overlays),
    )
    return replace(
        state,
        symbol=symbol or state.symbol,
        min_strength=state.min_strength
        if min_strength is None
        else _number(str(min_strength), STRENGTH_BOUNDS, state.min_strength),
        max_distance=state.max_distance
        if max_distance is None
        else _number(str(max_distance), DISTANCE_BOUNDS, state.max_distance),
        view=view if view in VIEWS else state.view,
        range=range_ if range_ in RANGES else state.range,
    )


def symbol_aliases(contract: str) -> str:
    """What a person may type for ``contract`` (the resolver's rules, for the dropdown's own
    search): ``1000PEPEUSDT`` -> ``1000PEPEUSDT 1000PEPE PEPE PEPEUSDT PEPE/USDT``."""
    base, quote = base_and_quote(contract)
    _, coin = split_multiplier(base)
    words = [contract, base, coin, coin + quote, f"{coin}/{quote}", f"{base}/{quote}"]
    return " ".join(dict.fromkeys(w for w in words if w))


def symbol_options(symbols: Iterable[str]) -> list[dict[str, str]]:
    return [{"label": s, "value": s, "search": symbol_aliases(s)} for s in symbols]
