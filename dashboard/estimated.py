"""Heatmap (estimated): where the leveraged positions open now would be liquidated, over time
and price, as Coinglass draws it (pure: a ``LevelsResult`` in, a figure dict out).

A heatmap of the estimated standing notional per cell (dark to bright, ``Viridis``) on the
fixed, quantised colour scale of ``levels_grid``, the candles of the same columns on top, the
current price, and on request the realized layer over it: the liquidations that happened (the
dots of the realized time × price view) and the current realized clusters (bands). Hover: the
time, the price, the estimated long and short notional and the leverage tiers that reach the
cell. The chart says plainly that it is an estimate.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard import theme
from dashboard.levels_grid import (
    LEVELS,
    Cells,
    ColourScale,
    cell_levels,
    screen_cells,
    tier_names,
)
from dashboard.points import Points, at_most
from dashboard.timeline import MAX_MARKERS, band_shapes, marker_trace
from heatmap_engine.levels.results import LevelsResult
from heatmap_engine.models import Cluster

COLOURS = "Viridis"
CANDLE_LINE = "#e8edf3"
LEGEND_STEPS = 4  # colour-bar ticks: 0, 25, … 100 % of the fixed maximum
LEGEND_PAD = 6  # px between the colour legend and the figure's bottom edge
# px under the plot at least: Plotly widens it to hold the time axis' labels (automargin) and,
# above the figure's bottom edge, the colour legend with its title (a colour bar in container
# coordinates pushes the margin), so the two never meet, whatever the chart's height
BOTTOM_MARGIN = 40
NOTE_WIDTH = 56  # characters per line of a note on the chart (a phone is narrow)
ESTIMATE_NOTE = "Estimate from candles and open interest, not observed"
SCALE_NOTE = (
    "Estimated USD per cell · fixed scale<br>(kept until the symbol, range or preset change)"
)


@dataclass(frozen=True, slots=True)
class EstimatedOptions:
    """What the estimated view shows: the model's run and the overlays."""

    symbol: str
    range_name: str = "24h"
    preset: str = "all"
    threshold_pct: float = 5.0  # cells below this share of the scale's maximum are hidden
    show_dots: bool = False  # the realized liquidations
    show_bands: bool = False  # the realized clusters

    @property
    def scale_key(self) -> str:
        """What the colour scale is fixed for: it changes only when this does."""
        return f"{self.symbol}|{self.range_name}|{self.preset}"

    @property
    def uirevision(self) -> str:
        return f"estimated:{self.scale_key}"


def significant(values: np.ndarray, digits: int = 2) -> np.ndarray:
    """Whole dollars rounded to ``digits`` significant digits (what the hover shows), int64."""
    values = np.asarray(values, dtype=np.float64)
    safe = np.where(values > 0, values, 1.0)
    unit = np.maximum(10.0 ** (np.floor(np.log10(safe)) - (digits - 1)), 1.0)
    return np.where(values > 0, np.round(values / unit) * unit, 0).astype(np.int64)


def _hover(decimals: int) -> str:
    return (
        "<b>Estimated standing</b><br>%{x|%Y-%m-%d %H:%M} UTC · %{y:,."
        f"{decimals}f}}<br>Long %{{customdata[0]:$,.2~s}} · Short %{{customdata[1]:$,.2~s}}"
        "<br>Tiers: %{text}<extra>estimate</extra>"
    )


def hover_arrays(cells: Cells, levels: np.ndarray, tiers) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns, 2) int64 [long, short] and (rows, columns) tier names, 0 and "" for
    hidden cells (never hovered: ``hoverongaps`` is off). Numpy arrays, not lists: the JSON
    encoder writes them whole instead of walking 16,000 cells in Python."""
    hidden = np.isnan(levels)
    usd = np.stack([significant(cells.long_usd), significant(cells.short_usd)], axis=-1)
    usd[hidden] = 0
    names = tier_names(cells, tiers)
    names[hidden] = ""
    return np.ascontiguousarray(usd.transpose(1, 0, 2)), names.T


def short_usd(value: float) -> str:
    """$0, $500k, $2.5M, $10M: a legend tick (round by construction: the scale is 1, 2 or 5 ×
    10^k and its ticks a quarter of it)."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"${value / limit:.4g}{suffix}"
    return f"${value:.4g}"


def colour_bar(scale: ColourScale) -> dict[str, Any]:
    """The fixed USD legend under the chart, saying that it is fixed. It stands on the
    figure's bottom edge (``yref`` container, in pixels), under the time axis' labels: placed
    at a share of the plot's height below it (Plotly's paper reference), its title met the
    axis' date line on a phone's shorter chart."""
    ticks = [LEVELS * i // LEGEND_STEPS for i in range(LEGEND_STEPS + 1)]
    text = [short_usd(scale.zmax * t / LEVELS) for t in ticks]
    text[-1] = f"≥ {text[-1]}"
    return {
        "orientation": "h", "x": 0.0, "xanchor": "left", "y": 0.0, "yref": "container",
        "yanchor": "bottom", "ypad": LEGEND_PAD,
        "len": 1.0, "lenmode": "fraction", "thickness": 8, "outlinewidth": 0,
        "tickvals": ticks, "ticktext": text, "tickfont": {"color": theme.MUTED, "size": 10},
        "title": {"text": SCALE_NOTE, "side": "bottom", "font": {"color": theme.MUTED, "size": 10}},
    }  # fmt: skip


def heatmap_trace(cells: Cells, levels: np.ndarray, scale: ColourScale, tiers, decimals: int):
    customdata, names = hover_arrays(cells, levels, tiers)
    return {
        "type": "heatmap",
        "name": "Estimated levels",
        "x": cells.middle_ms,
        "y": [float(f"{p:.8g}") for p in cells.price_mid.tolist()],
        "z": np.ascontiguousarray(levels.T, dtype=np.float32),  # NaN (hidden) is null
        "zmin": 0,
        "zmax": LEVELS,
        "zauto": False,
        "colorscale": COLOURS,
        "colorbar": colour_bar(scale),
        "hoverongaps": False,
        "customdata": customdata,
        "text": names,
        "hovertemplate": _hover(decimals),
        "showlegend": False,
    }


def candle_trace(cells: Cells) -> dict[str, Any]:
    return {
        "type": "candlestick",
        "name": "Price",
        "x": cells.middle_ms.tolist(),
        "open": cells.open.tolist(),
        "high": cells.high.tolist(),
        "low": cells.low.tolist(),
        "close": cells.close.tolist(),
        "increasing": {"line": {"color": CANDLE_LINE, "width": 1}, "fillcolor": theme.BACKGROUND},
        "decreasing": {"line": {"color": CANDLE_LINE, "width": 1}, "fillcolor": CANDLE_LINE},
        "whiskerwidth": 0,
        "showlegend": False,
        "hoverinfo": "skip",
    }


def _realized(points: Points, cells: Cells, decimals: int) -> list[dict[str, Any]]:
    """The realized dots from the grid's first column on (also those after the model's last
    bar: they happened, the estimate is just not there yet)."""
    inside = points.between(int(cells.time_ms[0]), int(points.times.max()) if len(points) else 0)
    merged = at_most(inside, MAX_MARKERS, cells.column_ms)
    largest = float(merged.notionals.max()) if len(merged) else 0.0
    return [
        marker_trace(side, merged.of_side(side), largest, merged is not inside, decimals)
        for side in ("long", "short")
    ]


def _layout(options: EstimatedOptions, cells: Cells | None = None) -> dict[str, Any]:
    """The x axis ends half a column after the last cell (autorange would pad the dots'
    markers into the future); clipping the autorange keeps a user's zoom over refreshes."""
    layout = theme.base_layout(options.uirevision)
    layout["margin"] = {"l": 8, "r": 8, "t": 24, "b": BOTTOM_MARGIN}
    layout["xaxis"].update(type="date", rangeslider={"visible": False}, automargin=True)
    if cells is not None:
        first, last = int(cells.time_ms[0]), int(cells.time_ms[-1])
        step = cells.column_ms
        layout["xaxis"]["autorangeoptions"] = {"clipmin": first, "clipmax": last + step * 1.5}
    layout["yaxis"].update(
        side="right", tickformat=",", ticks="outside", ticklen=3, automargin=True
    )
    layout["plot_bgcolor"] = theme.BACKGROUND
    layout["showlegend"] = True
    return layout


def _corner(text: str, y: float = 1.0, anchor: str = "top", size: int = 11) -> dict[str, Any]:
    return {
        "text": text, "xref": "paper", "yref": "paper", "x": 0.005, "y": y, "xanchor": "left",
        "yanchor": anchor, "showarrow": False, "align": "left",
        "font": {"color": theme.TEXT, "size": size}, "bgcolor": "rgba(13,17,23,0.75)",
        "borderpad": 3,
    }  # fmt: skip


def estimated_figure(
    result: LevelsResult,
    options: EstimatedOptions,
    scale: ColourScale,
    price: float | None = None,
    realized: Points | None = None,
    clusters: Sequence[Cluster] = (),
    window_minutes: float = 60.0,
    cells: Cells | None = None,
    updating: bool = False,
) -> dict[str, Any]:
    """The estimated heatmap of ``result`` on ``scale`` (see the module docstring);
    ``updating``: the result is the previous one, shown while the new one is computed (the
    corner note says which bar it ends at)."""
    cells = cells or screen_cells(result.grid)
    price = result.profile.price if price is None else price
    decimals = theme.price_decimals(price)
    levels = cell_levels(cells.total_usd, scale.zmax, options.threshold_pct)
    data = [heatmap_trace(cells, levels, scale, result.assumptions.tiers, decimals)]
    data.append(candle_trace(cells))
    if options.show_dots and realized is not None:
        data += _realized(realized, cells, decimals)
    layout = _layout(options, cells)
    shapes = band_shapes(clusters, window_minutes) if options.show_bands else []
    line, tag = theme.price_tag(price)
    shapes.append(line)
    words = f"{ESTIMATE_NOTE}<br>preset {options.preset}"
    if options.threshold_pct > 0:
        words += f" · cells under {options.threshold_pct:g} % of the scale hidden"
    if updating:
        words += f"<br><span style='color:{theme.MUTED}'>{updating_note(result.at_ms)}</span>"
    annotations = [tag, _corner(words)]
    notes = list(result.quality.notes)
    if notes:
        lines = textwrap.wrap("Data: " + "; ".join(notes), NOTE_WIDTH)
        annotations.append(_corner("<br>".join(lines), y=0.01, anchor="bottom", size=10))
    layout.update(shapes=shapes, annotations=annotations)
    return {"data": data, "layout": layout}


def updating_note(at_ms: int) -> str:
    """What the corner says while the previous result stands in for the new one."""
    return f"updating · shown up to {theme.fmt_clock(at_ms)}"


def estimated_message(options: EstimatedOptions, text: str) -> dict[str, Any]:
    """The view without a result: why (the feed, missing data), never a quiet-market text."""
    layout = _layout(options)
    layout["xaxis"]["visible"] = False
    layout["yaxis"]["visible"] = False
    layout["annotations"] = [theme.message(text)]
    layout["shapes"] = []
    return {"data": [], "layout": layout}
