"""The heatmap: one horizontal band per cluster (pure: snapshot in, figure dict out).

Red bands are long liquidations, green bands short ones; a band sits at the cluster's price
level, its height is a share of the cluster's price cell and, like its opacity, grows with
strength. The blue line is the current price.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard import theme
from heatmap_engine.models import Cluster, Snapshot

MIN_HEIGHT_SHARE = 0.25  # band height at strength 0, as a share of the full height (strength 1)
MIN_OPACITY = 0.25  # opacity at strength 0 (1.0 at strength 1)
MAX_BAND_SHARE = 0.06  # a band is at most this share of the visible price range tall


def band_height(cluster: Cluster, visible_span: float) -> float:
    """Price units: the cluster's cell, or 6 % of the visible range if that is less, scaled by
    ``0.25 + 0.75 × strength``."""
    full = min(cluster.price_high - cluster.price_low, visible_span * MAX_BAND_SHARE)
    return full * (MIN_HEIGHT_SHARE + (1 - MIN_HEIGHT_SHARE) * cluster.strength)


def band_opacity(cluster: Cluster) -> float:
    return MIN_OPACITY + (1 - MIN_OPACITY) * cluster.strength


def cluster_hover(cluster: Cluster, price: float | None) -> str:
    """Every cluster field, formatted for the hover label and the pinned panel."""
    decimals = theme.price_decimals(cluster.price_level)
    where = ""
    if cluster.distance_from_price is not None and price is not None:
        where = " below" if cluster.price_level < price else " above"
    rows = [
        f"<b>{theme.SIDE_LABEL[cluster.side]} liquidations</b>",
        f"Price level: {theme.fmt_price(cluster.price_level, decimals)}",
        f"Cell: {theme.fmt_price(cluster.price_low, decimals)} – "
        f"{theme.fmt_price(cluster.price_high, decimals)}",
        f"Liquidations: {cluster.liquidation_count}",
        f"Notional: {theme.fmt_usd(cluster.total_notional)}",
        f"Weighted notional: {theme.fmt_usd(cluster.weighted_notional)}",
        f"Strength: {strength_label(cluster)}",
        f"Distance: {theme.fmt_pct(cluster.distance_from_price)}{where}",
        f"Last update: {theme.fmt_time(cluster.last_updated_ms)}",
        f"Cluster id: {cluster.cluster_id}",
    ]
    return "<br>".join(rows)


def strength_label(cluster: Cluster) -> str:
    """Strength with the USD it stands for: ``1.00 · $51.2k`` (strength is relative to the
    symbol's strongest cluster, so 1.00 alone says nothing about size)."""
    return f"{cluster.strength:.2f} · {theme.fmt_usd(cluster.total_notional)}"


def band_label(cluster: Cluster) -> str:
    """The text inside a band (hidden by Plotly when the band is too thin for it)."""
    return (
        f"{theme.fmt_usd(cluster.total_notional)} · {cluster.liquidation_count} liq · "
        f"strength {cluster.strength:.2f}"
    )


def _band_trace(
    side: str, clusters: Sequence[Cluster], price: float | None, span: float
) -> dict[str, Any]:
    color = theme.SIDE_COLOR[side]
    return {
        "type": "bar",
        "orientation": "h",
        "name": f"{theme.SIDE_LABEL[side]} liquidations",
        "y": [c.price_level for c in clusters],
        "x": [1.0] * len(clusters),
        "base": [0.0] * len(clusters),
        "width": [band_height(c, span) for c in clusters],
        "marker": {
            "color": color,
            "opacity": [round(band_opacity(c), 3) for c in clusters],
            "line": {"width": 0},
        },
        "text": [band_label(c) for c in clusters],
        "textposition": "inside",
        "insidetextanchor": "start",
        "textfont": {"color": "#f5f7fa", "size": 11},
        "customdata": [c.cluster_id for c in clusters],
        "hovertext": [cluster_hover(c, price) for c in clusters],
        "hovertemplate": "%{hovertext}<extra></extra>",
    }


def price_range(clusters: Sequence[Cluster], price: float | None) -> list[float] | None:
    """The price range to show: every cluster's level and the price, padded, at least 1 % of
    the price tall; None when there is neither."""
    values = [c.price_level for c in clusters] + ([price] if price is not None else [])
    if not values:
        return None
    low, high = min(values), max(values)
    reference = abs(price if price is not None else (low + high) / 2)
    span = max(high - low, reference * 0.01)
    centre = (low + high) / 2
    low, high = min(low, centre - span / 2), max(high, centre + span / 2)
    pad = span * 0.12
    return [low - pad, high + pad]


def empty_reason(
    snapshot: Snapshot | None,
    symbol: str,
    shown: int,
    min_strength: float,
    max_distance: float,
    outage: str | None = None,
) -> str | None:
    """Why no band is drawn, in words; None when bands are drawn. While the feed is not live
    (``outage``) an empty window says that, never that the market was quiet."""
    if shown:
        return None
    if outage and (snapshot is None or not snapshot.clusters):
        return outage
    if snapshot is None:
        return f"Waiting for the first refresh of {symbol}…"
    window = f"{snapshot.window_minutes:g} min"
    need = f"clusters need at least {snapshot.min_cluster_size} liquidations of one side"
    if snapshot.clusters:
        hidden = len(snapshot.clusters)
        return (
            f"{hidden} cluster{'s' if hidden != 1 else ''} of {symbol} hidden by the filters<br>"
            f"(strength ≥ {min_strength:g}, within {max_distance:g} % of the price)"
        )
    if snapshot.events_in_window == 0:
        return f"No liquidations for {symbol} in the last {window}<br>{need} in one price cell"
    return (
        f"{snapshot.events_in_window} liquidation{'s' if snapshot.events_in_window != 1 else ''}"
        f" of {symbol} in the last {window}, no cluster yet<br>{need} in one price cell"
        "<br>The time × price view and the liquidation map show them"
    )


def heatmap_figure(
    snapshot: Snapshot | None,
    symbol: str,
    min_strength: float,
    max_distance: float,
    outage: str | None = None,
) -> dict[str, Any]:
    """Bands of the clusters that pass the filters, the price line, or the empty state."""
    clusters = snapshot.filtered(min_strength, max_distance) if snapshot else []
    price = snapshot.current_price if snapshot else None
    layout = theme.base_layout(f"heatmap:{symbol}")
    layout.update(barmode="overlay", bargap=0, showlegend=True)
    layout["uniformtext"] = {"mode": "hide", "minsize": 9}
    layout["margin"] = {"l": 8, "r": 8, "t": 24, "b": 8}
    layout["xaxis"].update(range=[0, 1], visible=False, fixedrange=True)
    layout["yaxis"].update(
        side="right", tickformat=",", ticks="outside", ticklen=3, automargin=True
    )
    y_range = price_range(clusters, price)
    if y_range is None:
        layout["yaxis"]["visible"] = False
    else:  # a lone bar would stretch autorange by ±0.5 price units: a coin at $1 needs a clip
        layout["yaxis"]["autorangeoptions"] = {"clipmin": y_range[0], "clipmax": y_range[1]}
    span = (y_range[1] - y_range[0]) if y_range else 0.0
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    if price is not None:
        line, tag = theme.price_tag(price)
        shapes.append(line)
        annotations.append(tag)
    reason = empty_reason(snapshot, symbol, len(clusters), min_strength, max_distance, outage)
    if reason:
        annotations.append(theme.message(reason))
    layout.update(shapes=shapes, annotations=annotations)
    data = [
        _band_trace(side, [c for c in clusters if c.side == side], price, span)
        for side in ("long", "short")
    ]
    if y_range is not None:
        data.append(theme.extent_trace([0.5, 0.5], y_range))
    return {"data": data, "layout": layout}
