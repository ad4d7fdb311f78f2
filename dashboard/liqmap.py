"""The liquidation map: realized notional per price bucket, with cumulative curves (pure).

Bars: the USD notional liquidated in each price bucket over the selected range, longs red and
shorts green (stacked where both happened). Curves, on the right axis: from the current price
outward, the running total of long notional in the buckets below it and of short notional in the
buckets above it — how much was liquidated within each distance of the price. Longs liquidated
above the price (it fell further after them) and shorts below it are not on the curves; a note on
the chart says how much that is.

With the estimated profile (``dashboard.profile``) the map leads with it: the standing book per
bucket stacked by leverage tier (left axis) and its cumulative curves (right axis); the realized
bars are then an outlined overlay on their own, unlabelled scale (they are far smaller than
what stands; the hover gives their USD), and their curves are left to the realized-only map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard import theme
from dashboard.points import Points
from dashboard.profile import ProfileBars, curve_traces, tier_traces

TARGET_BUCKETS = 60


@dataclass(frozen=True, slots=True)
class Bucket:
    low: float
    high: float
    long_usd: float
    short_usd: float
    long_count: int
    short_count: int

    @property
    def centre(self) -> float:
        return (self.low + self.high) / 2


def nice_step(span: float, target: int = TARGET_BUCKETS) -> float:
    """A round bucket width (1, 2, 2.5 or 5 × 10^k) giving about ``target`` buckets."""
    raw = span / target if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def buckets(points: Points, price: float | None) -> list[Bucket]:
    """Liquidations summed into round-width price buckets, ascending; empty buckets left out."""
    if not len(points):
        return []
    low, high = float(points.prices.min()), float(points.prices.max())
    if price:
        low, high = min(low, price), max(high, price)
    step = nice_step(high - low or abs(high) * 0.01 or 1.0)
    keys = np.floor(points.prices / step).astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    is_long = points.sides == 0
    sums = [
        np.bincount(inverse, weights=np.where(mask, column, 0), minlength=len(unique))
        for mask in (is_long, ~is_long)
        for column in (points.notionals, points.counts)
    ]
    return [
        Bucket(k * step, (k + 1) * step, float(sums[0][i]), float(sums[2][i]),
               int(sums[1][i]), int(sums[3][i]))
        for i, k in enumerate(unique.tolist())
    ]  # fmt: skip


def cumulative(rows: Sequence[Bucket], price: float) -> tuple[list, list]:
    """(x, y) of the long curve (price downward) and the short curve (price upward)."""
    below = sorted((b for b in rows if b.centre <= price), key=lambda b: -b.centre)
    above = sorted((b for b in rows if b.centre > price), key=lambda b: b.centre)
    long_x, long_y, total = [price], [0.0], 0.0
    for b in below:
        total += b.long_usd
        long_x.append(b.centre)
        long_y.append(total)
    short_x, short_y, total = [price], [0.0], 0.0
    for b in above:
        total += b.short_usd
        short_x.append(b.centre)
        short_y.append(total)
    return (long_x, long_y), (short_x, short_y)


def off_side(rows: Sequence[Bucket], price: float) -> tuple[float, float]:
    """USD of longs liquidated above ``price`` and of shorts below it: what the curves leave out."""
    longs = sum(b.long_usd for b in rows if b.centre > price)
    shorts = sum(b.short_usd for b in rows if b.centre <= price)
    return longs, shorts


def off_side_note(rows: Sequence[Bucket], price: float) -> dict[str, Any] | None:
    """The top-left note naming the liquidations the cumulative curves do not count."""
    longs, shorts = off_side(rows, price)
    parts = [f"{theme.fmt_usd(longs)} of longs above the price"] if longs > 0 else []
    parts += [f"{theme.fmt_usd(shorts)} of shorts below it"] if shorts > 0 else []
    if not parts:
        return None
    text = (f"Not on the curves: {' and '.join(parts)}<br>"
            "(each curve adds up from the price outward, on its own side)")  # fmt: skip
    return {
        "text": text, "xref": "paper", "yref": "paper", "x": 0.005, "y": 0.99, "xanchor": "left",
        "yanchor": "top", "showarrow": False, "align": "left",
        "font": {"color": theme.MUTED, "size": 11}, "bgcolor": "rgba(13,17,23,0.75)",
        "borderpad": 4,
    }  # fmt: skip


def _bar(side: str, rows: Sequence[Bucket], decimals: int, overlay: bool = False) -> dict:
    usd = [b.long_usd if side == "long" else b.short_usd for b in rows]
    counts = [b.long_count if side == "long" else b.short_count for b in rows]
    label = f"{theme.SIDE_LABEL[side]}s liquidated"
    colour = theme.SIDE_COLOR[side]
    overlaid = {
        "name": f"Realized {side}", "yaxis": "y3",
        "marker": {"color": theme.rgba(colour, 0.15), "line": {"width": 1.5, "color": colour}},
    } if overlay else {}  # fmt: skip
    return {
        "type": "bar",
        "name": label,
        "x": [b.centre for b in rows],
        "y": usd,
        "width": [(b.high - b.low) * 0.92 for b in rows],
        "marker": {"color": theme.rgba(theme.SIDE_COLOR[side], 0.85), "line": {"width": 0}},
        "hovertext": [
            f"<b>{label}</b><br>{theme.fmt_price(b.low, decimals)} – "
            f"{theme.fmt_price(b.high, decimals)}<br>{theme.fmt_usd(v)} in {n}"
            for b, v, n in zip(rows, usd, counts, strict=True)
        ],
        "hovertemplate": "%{hovertext}<extra></extra>",
        **overlaid,
    }


def _curve(side: str, xy: tuple[list, list]) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": f"Cumulative {side}",
        "x": xy[0],
        "y": xy[1],
        "yaxis": "y2",
        "line": {"color": theme.SIDE_COLOR[side], "width": 2, "shape": "hv"},
        "text": [theme.fmt_usd(y) if y == y and y is not None else "" for y in xy[1]],  # B, not G
        "hovertemplate": f"Cumulative {side}: %{{text}}<extra></extra>",
    }


def _layout(uirevision: str) -> dict[str, Any]:
    layout = theme.base_layout(uirevision)
    layout.update(barmode="stack", bargap=0, showlegend=True)
    layout["legend"]["traceorder"] = "normal"
    layout["margin"] = {"l": 8, "r": 8, "t": 24, "b": 28}
    layout["xaxis"].update(tickformat=",", automargin=True)
    layout["yaxis"].update(
        side="left", tickprefix="$", exponentformat="B", rangemode="tozero", automargin=True
    )
    # An overlaying axis defaults to ticks synced with the left one's grid ($9.88k, $19.8k, ...):
    # its own round ticks instead.
    layout["yaxis2"] = {**layout["yaxis"], "overlaying": "y", "side": "right", "showgrid": False,
                        "tickmode": "auto"}  # fmt: skip
    return layout


def _corner_note(text: str, x: float, anchor: str, y: float = 0.99) -> dict[str, Any]:
    return {
        "text": text, "xref": "paper", "yref": "paper", "x": x, "y": y, "xanchor": anchor,
        "yanchor": "top", "showarrow": False, "align": "left",
        "font": {"color": theme.MUTED, "size": 11}, "bgcolor": "rgba(13,17,23,0.75)",
        "borderpad": 4,
    }  # fmt: skip


def _price_marks(price: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """A vertical blue line at the current price and its label at the top."""
    line = {
        "type": "line", "xref": "x", "x0": price, "x1": price, "yref": "paper", "y0": 0,
        "y1": 1, "line": {"color": theme.PRICE, "width": 1.5},
    }  # fmt: skip
    tag = {
        "xref": "x", "x": price, "yref": "paper", "y": 1, "yanchor": "top",
        "text": f"<b>{theme.fmt_price(price)}</b>", "showarrow": False,
        "font": {"color": "#ffffff", "size": 11}, "bgcolor": theme.PRICE, "borderpad": 2,
    }  # fmt: skip
    return line, tag


def _estimated(bars: ProfileBars, rows, layout: dict, decimals: int) -> list[dict[str, Any]]:
    """The tier stacks and their curves first, the realized bars over them (own axis)."""
    data = tier_traces(bars, decimals) + curve_traces(bars)
    data += [_bar("long", rows, decimals, True), _bar("short", rows, decimals, True)]
    layout["yaxis3"] = {"overlaying": "y", "visible": False, "rangemode": "tozero",
                        "fixedrange": True}  # fmt: skip
    layout["yaxis"]["title"] = {"text": "Estimated standing USD", "font": {"size": 11}}
    layout["margin"]["t"] = 64  # two rows of legend above the plot (tiers, curves, realized)
    return data


def liquidation_map_figure(
    points: Points,
    price: float | None,
    symbol: str,
    source_label: str,
    uirevision: str,
    outage: str | None = None,
    estimated: ProfileBars | None = None,
    estimated_note: str | None = None,
) -> dict[str, Any]:
    """Bars per bucket, the cumulative curves and the price line; an explained empty state
    (``outage``, when the feed is not live, in place of "no liquidations"). With ``estimated``
    the estimated profile leads (module docstring); ``estimated_note`` says why it is missing
    or what it leaves out."""
    rows = buckets(points, price)
    decimals = theme.price_decimals(price or (rows[0].centre if rows else 0.0))
    layout = _layout(uirevision)
    shapes, annotations = [], []
    if estimated is not None:
        price = estimated.price if price is None else price
        data = _estimated(estimated, rows, layout, decimals)
        if rows:
            own = "Realized bars (outlined) on their own scale: hover for USD"
            estimated_note = f"{estimated_note}<br>{own}" if estimated_note else own
    else:
        data = [_bar("long", rows, decimals), _bar("short", rows, decimals)]
    if estimated_note:
        annotations.append(_corner_note(estimated_note, 0.005, "left", y=0.92))
    if price is not None:
        if estimated is None:
            curves = cumulative(rows, price)
            data += [_curve(side, xy) for side, xy in zip(("long", "short"), curves, strict=True)]
        line, tag = _price_marks(price)
        shapes.append(line)
        annotations.append(tag)
        note = off_side_note(rows, price) if estimated is None else None
        if note is not None:
            annotations.append(note)
    if not rows and estimated is None:
        annotations.append(theme.message(outage or f"No liquidations of {symbol} {source_label}"))
        layout["xaxis"]["visible"] = price is not None
        layout["yaxis"]["visible"] = False
    layout.update(shapes=shapes, annotations=annotations)
    return {"data": data, "layout": layout}
