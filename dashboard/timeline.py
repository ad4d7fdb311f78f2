"""Time × price: candles, realized liquidations where and when they happened, cluster bands
behind them and the price line (pure: candles, liquidations and a snapshot in, figure out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dashboard import theme
from dashboard.points import Points, at_most
from dashboard.state import ViewState
from heatmap_engine.candle_book import candle_row, rows_table
from heatmap_engine.candles import INTERVAL_MS, aggregate_table
from heatmap_engine.models import Candle, Cluster, Snapshot

MAX_MARKERS = 1500  # above this, liquidations are merged per candle, side and price step
MIN_MARKER, MAX_MARKER = 5.0, 30.0


def marker_sizes(notionals: np.ndarray | Sequence[float], largest: float) -> list[float]:
    """Dot area grows with notional: ``largest`` (the view's biggest) is ``MAX_MARKER`` px."""
    values = np.maximum(np.asarray(notionals, dtype=np.float64), 0.0)
    if largest <= 0:
        return [MIN_MARKER] * len(values)
    sizes = MIN_MARKER + (MAX_MARKER - MIN_MARKER) * np.sqrt(values / largest)
    return np.round(sizes, 1).tolist()


def _hover(side: str, merged: bool, decimals: int) -> str:
    who = f"<b>{theme.SIDE_LABEL[side]}s liquidated</b>"
    count = " ×%{customdata[2]}" if merged else ""
    when = "%{x|%Y-%m-%d %H:%M}" if merged else "%{x|%Y-%m-%d %H:%M:%S}"
    return (
        f"{who}{count}<br>%{{customdata[0]:$,.3s}} · %{{customdata[1]:,.4~g}} @ "
        f"%{{y:,.{decimals}f}}<br>{when} UTC<extra></extra>"
    )


def marker_trace(side: str, points: Points, largest: float, merged: bool, decimals: int):
    color = theme.SIDE_COLOR[side]
    custom = np.column_stack(
        [np.round(points.notionals), np.round(points.quantities, 6), points.counts]
    )
    return {
        "type": "scatter",
        "mode": "markers",
        "name": f"{theme.SIDE_LABEL[side]}s liquidated",
        "x": points.times.tolist(),
        "y": np.round(points.prices, decimals + 1).tolist(),
        "marker": {
            "color": theme.rgba(color, 0.7),
            "size": marker_sizes(points.notionals, largest),
            "line": {"color": color, "width": 1},
        },
        "customdata": custom.tolist(),
        "hovertemplate": _hover(side, merged, decimals),
    }


def _candle_trace(candles: np.ndarray) -> dict[str, Any]:
    return {
        "type": "candlestick",
        "name": "Price",
        "x": candles["open_time_ms"].tolist(),
        "open": candles["open"].tolist(),
        "high": candles["high"].tolist(),
        "low": candles["low"].tolist(),
        "close": candles["close"].tolist(),
        "increasing": {"line": {"color": theme.CANDLE, "width": 1}, "fillcolor": theme.PANEL},
        "decreasing": {"line": {"color": theme.CANDLE, "width": 1}, "fillcolor": theme.CANDLE},
        "whiskerwidth": 0,
        "showlegend": False,
    }


def band_shapes(clusters: Sequence[Cluster], window_minutes: float) -> list[dict[str, Any]]:
    """Current clusters as horizontal lines behind the candles: thicker and more opaque with
    strength (pixels, so a 2 % price cell never swamps an hour of candles)."""
    shapes = []
    for side in ("long", "short"):
        for i, c in enumerate(cl for cl in clusters if cl.side == side):
            shapes.append({
                "type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                "y0": c.price_level, "y1": c.price_level, "layer": "below",
                "line": {"color": theme.SIDE_COLOR[side], "width": round(2 + 10 * c.strength, 1)},
                "opacity": round(0.2 + 0.45 * c.strength, 3),
                "name": f"{theme.SIDE_LABEL[side]} clusters · {window_minutes:g} min",
                "showlegend": i == 0, "legendgroup": f"bands-{side}",
            })  # fmt: skip
    return shapes


def price_extent(candles: np.ndarray, points: Points, price: float | None):
    """(low, high) of the candles (a ``CANDLE_DTYPE`` table), the dots and the price; None when
    there is nothing."""
    values = []
    if len(candles):
        values += [float(np.min(candles[k])) for k in ("low", "high")]
        values += [float(np.max(candles[k])) for k in ("low", "high")]
    if len(points):
        values += [float(points.prices.min()), float(points.prices.max())]
    if price is not None:
        values.append(price)
    return (min(values), max(values)) if values else None


def nearby(clusters: Sequence[Cluster], extent: tuple[float, float] | None) -> list[Cluster]:
    """The clusters within the chart's price range (a 10 % margin around it): a band far away
    would otherwise stretch the price axis (Plotly's autorange takes shapes in)."""
    if extent is None:
        return []
    low, high = extent
    margin = max(high - low, abs(high) * 0.002) * 0.1
    return [c for c in clusters if low - margin <= c.price_level <= high + margin]


def _notes(
    symbol: str, candles, points: Points, history: bool, range_label: str, outage=None
) -> list[str]:
    """The chart's note, if any: history off, the feed not live (``outage``) when there is
    nothing to show, or what is missing."""
    off = "History is off (HEATMAP_HISTORY=0): realized liquidations are not kept"
    if len(points):
        return []
    if outage:
        return [f"{off}<br><br>{outage}" if not history else outage]
    if not history:
        return [off]
    if not len(candles):
        return [
            f"No candles or liquidations for {symbol} in the last {range_label} yet<br>"
            "Candles come from the kline stream and the REST backfill"
        ]
    return [f"No liquidations of {symbol} in the last {range_label}"]


def _layout(view: ViewState, start_ms: int, end_ms: int) -> dict[str, Any]:
    """The x axis ends one candle after now (autorange would pad 5 % into the future: 1 h 12 min
    at 24 h); clipping the autorange, not fixing a range, keeps a user's zoom over refreshes."""
    layout = theme.base_layout(f"timeline:{view.symbol}:{view.range}")
    layout["margin"] = {"l": 8, "r": 8, "t": 24, "b": 28}
    step = INTERVAL_MS[view.interval]
    layout["xaxis"].update(
        type="date",
        rangeslider={"visible": False},
        automargin=True,
        autorangeoptions={"clipmin": start_ms - step, "clipmax": end_ms + step},
    )
    layout["yaxis"].update(
        side="right", tickformat=",", ticks="outside", ticklen=3, automargin=True
    )
    return layout


def timeline_figure(
    candles_1m: np.ndarray | Sequence[Candle],
    liquidations: Points,
    snapshot: Snapshot | None,
    view: ViewState,
    start_ms: int,
    end_ms: int,
    history: bool = True,
    outage: str | None = None,
) -> dict[str, Any]:
    """Candles of ``view.interval`` (from 1-minute ones, a ``CANDLE_DTYPE`` table or
    ``Candle`` objects), liquidation dots (merged beyond ``MAX_MARKERS``) and the current
    cluster bands; ``outage`` (the feed not live) replaces the "nothing here" notes."""
    step = INTERVAL_MS[view.interval]
    if not isinstance(candles_1m, np.ndarray):
        candles_1m = rows_table([candle_row(c) for c in candles_1m])
    candles = aggregate_table(candles_1m, view.interval)
    points = at_most(liquidations, MAX_MARKERS, step)
    merged = points is not liquidations
    price = snapshot.current_price if snapshot else None
    decimals = theme.price_decimals(price or (float(candles["close"][-1]) if len(candles) else 0.0))
    largest = float(points.notionals.max()) if len(points) else 0.0
    data: list[dict[str, Any]] = [_candle_trace(candles)]
    data += [
        marker_trace(side, points.of_side(side), largest, merged, decimals)
        for side in ("long", "short")
    ]
    extent = price_extent(candles, points, price)
    middle = (extent[0] + extent[1]) / 2 if extent else 0.0
    data.append(theme.extent_trace([start_ms, end_ms], [middle, middle]))  # the whole range
    layout = _layout(view, start_ms, end_ms)
    layout["yaxis"]["visible"] = extent is not None
    clusters = snapshot.filtered(view.min_strength, view.max_distance) if snapshot else []
    shapes = band_shapes(nearby(clusters, extent), snapshot.window_minutes if snapshot else 60)
    annotations = []
    if price is not None:
        line, tag = theme.price_tag(price)
        shapes.append(line)
        annotations.append(tag)
    notes = _notes(view.symbol, candles, points, history, view.range, outage)
    annotations += [theme.message(n, y=0.9 if len(candles) else 0.5) for n in notes]
    layout.update(shapes=shapes, annotations=annotations, showlegend=True)
    return {"data": data, "layout": layout}
