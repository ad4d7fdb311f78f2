"""Colours, the dark figure layout shared by every chart, and number formatting (all pure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

# Same values as the CSS variables in assets/dashboard.css.
BACKGROUND = "#0d1117"
PANEL = "#121821"
GRID = "#1d2530"
AXIS_LINE = "#2a3340"
TEXT = "#c9d1dc"
MUTED = "#8691a2"
LONG = "#ef5350"  # longs liquidated (red)
SHORT = "#26b38a"  # shorts liquidated (green)
PRICE = "#3d8bfd"  # the current price (blue)
CANDLE = "#7d8796"
FONT = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, system-ui, sans-serif"

SIDE_COLOR = {"long": LONG, "short": SHORT}
SIDE_LABEL = {"long": "Long", "short": "Short"}


def rgba(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` and an opacity -> ``rgba(r,g,b,a)``."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def base_layout(uirevision: str) -> dict[str, Any]:
    """The dark, dense layout every figure starts from; ``uirevision`` keeps zoom and pan."""
    axis = {
        "gridcolor": GRID,
        "linecolor": AXIS_LINE,
        "zeroline": False,
        "tickfont": {"color": MUTED, "size": 11},
        "title": {"font": {"color": MUTED, "size": 11}},
        "showspikes": False,
    }
    return {
        "uirevision": uirevision,
        "paper_bgcolor": PANEL,
        "plot_bgcolor": PANEL,
        "font": {"family": FONT, "color": TEXT, "size": 12},
        "margin": {"l": 12, "r": 12, "t": 8, "b": 28},
        "hoverlabel": {
            "bgcolor": "#1b222d",
            "bordercolor": AXIS_LINE,
            "font": {"family": FONT, "color": TEXT, "size": 12},
            "align": "left",
        },
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"color": MUTED, "size": 11},
            "bgcolor": "rgba(0,0,0,0)",
        },
        "xaxis": dict(axis),
        "yaxis": dict(axis),
        "dragmode": "zoom",
        "hovermode": "closest",
        "modebar": {"bgcolor": "rgba(0,0,0,0)", "color": MUTED, "activecolor": TEXT},
    }


def extent_trace(x: list, y: list) -> dict[str, Any]:
    """Invisible points the axes' autorange must take in. Figures set no explicit axis range,
    which Plotly would re-apply on every refresh: with autorange and ``uirevision`` a user's
    zoom and pan survive refreshes."""
    return {
        "type": "scatter",
        "mode": "markers",
        "name": "extent",
        "x": x,
        "y": y,
        "marker": {"opacity": 0, "size": 1},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def placeholder_figure(text: str, uirevision: str = "placeholder") -> dict[str, Any]:
    """What a chart shows before its first data: the dark frame and a note, never white."""
    layout = base_layout(uirevision)
    layout["xaxis"]["visible"] = False
    layout["yaxis"]["visible"] = False
    layout["annotations"] = [message(text)]
    return {"data": [], "layout": layout}


def message(text: str, y: float = 0.5) -> dict[str, Any]:
    """A centred explanatory note (the empty state): never a blank plot."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": y,
        "showarrow": False,
        "align": "center",
        "font": {"color": MUTED, "size": 13},
        "bgcolor": "rgba(13,17,23,0.85)",
        "bordercolor": AXIS_LINE,
        "borderpad": 10,
    }


def price_tag(price: float, axis_ref: str = "y") -> tuple[dict[str, Any], dict[str, Any]]:
    """The blue current-price line across the plot and its label on the right edge."""
    line = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": axis_ref,
        "y0": price,
        "y1": price,
        "line": {"color": PRICE, "width": 1.5},
        "layer": "above",
    }
    tag = {
        "xref": "paper",
        "yref": axis_ref,
        "x": 1,
        "xanchor": "right",
        "y": price,
        "text": f"<b>{fmt_price(price)}</b>",
        "showarrow": False,
        "font": {"color": "#ffffff", "size": 11},
        "bgcolor": PRICE,
        "borderpad": 2,
    }
    return line, tag


def price_decimals(price: float) -> int:
    """About six significant digits: 90,000.0 / 3,000.00 / 0.0118000."""
    if not price or not math.isfinite(price) or price <= 0:
        return 2
    return max(1, min(8, 5 - math.floor(math.log10(price))))


def fmt_price(price: float | None, decimals: int | None = None) -> str:
    if price is None:
        return "—"
    places = price_decimals(price) if decimals is None else decimals
    return f"{price:,.{places}f}"


def fmt_usd(value: float | None) -> str:
    """$1.25M, $310.4k, $950."""
    if value is None:
        return "—"
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return (
                f"${value / limit:,.2f}{suffix}"
                if size < 10 * limit
                else (f"${value / limit:,.1f}{suffix}")
            )
    return f"${value:,.0f}"


def plural(count: int, noun: str) -> str:
    """``1 cluster``, ``2 clusters``, ``0 clusters``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def fmt_pct(value: float | None, places: int = 2) -> str:
    return "—" if value is None else f"{value:.{places}f} %"


def fmt_time(ms: int | None, seconds: bool = True) -> str:
    """Epoch ms -> ``2026-01-28 12:00:05 UTC``."""
    if ms is None:
        return "—"
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def fmt_clock(ms: int | None) -> str:
    """Epoch ms -> ``12:00:05 UTC``."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S UTC")


def fmt_age(seconds: float | None) -> str:
    """How long ago, compactly: 0.4 s, 12 s, 3 min, 2 h."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
