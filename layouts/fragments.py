"""Small component trees the callbacks fill in: stat bodies, table rows, pinned details."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from dashboard import theme
from dashboard.heatmap import cluster_hover, strength_label
from dashboard.outage import Outage
from dashboard.summary import Stat
from dashboard.table import COLUMNS, cell_class, display_row
from heatmap_engine.models import Cluster


def stat_body(stat: Stat) -> list:
    """The value and the line under it; the tone colours the value; a hint is the line's
    tooltip (dotted underline)."""
    tone = f" tone-{stat.tone}" if stat.tone else ""
    sub = (
        html.Div(stat.sub, className="hm-stat-sub has-hint", title=stat.hint)
        if stat.hint
        else html.Div(stat.sub, className="hm-stat-sub")
    )
    return [html.Div(stat.value, className=f"hm-stat-value{tone}"), sub]


def feed_badge(stat: Stat) -> list:
    """The dot, the feed's state and the line beside it (red when it names a problem)."""
    bad = " tone-bad" if stat.tone == "bad" else ""
    return [
        html.Span(className=f"hm-dot tone-{stat.tone or 'warn'}"),
        html.Span(stat.value, className="hm-feed-state"),
        html.Span(stat.sub, className=f"hm-feed-sub{bad}", title=stat.sub),
    ]


def table_rows(clusters: Sequence[Cluster], empty_text: str) -> list:
    if not clusters:
        return [html.Tr(html.Td(empty_text, colSpan=len(COLUMNS), className="hm-table-empty"))]
    rows = []
    for cluster in clusters:
        cells = display_row(cluster)
        rows.append(
            html.Tr(
                [html.Td(cells[c.key], className=cell_class(c)) for c in COLUMNS],
                className=f"side-{cluster.side}",
            )
        )
    return rows


def outage_banner(down: Outage | None) -> list:
    """The page-wide notice while the feed is not live (empty, and hidden by CSS, while it is)."""
    if down is None:
        return []
    return [
        html.Span(className="hm-dot tone-bad"),
        html.Span([html.B(f"{down.headline}. "), down.detail], className="hm-outage-text"),
    ]


def ladder(clusters: Sequence[Cluster], price: float | None, empty_text: str) -> list:
    """The shown clusters from the highest price down, the current price in its place."""
    if not clusters:
        return [html.P(empty_text, className="hm-details-note")]
    rows: list = []
    price_row = html.Div(
        [html.Span(theme.fmt_price(price)), html.Span("price")], className="hm-ladder-price"
    )
    for cluster in sorted(clusters, key=lambda c: -c.price_level):
        if price is not None and price_row is not None and cluster.price_level < price:
            rows.append(price_row)
            price_row = None
        rows.append(
            html.Div(
                [
                    html.Span(theme.fmt_price(cluster.price_level), className="hm-ladder-level"),
                    html.Span(theme.fmt_usd(cluster.total_notional), className="hm-ladder-usd"),
                    html.Span(
                        html.Span(style={"width": f"{cluster.strength * 100:.0f}%"}),
                        className="hm-ladder-bar",
                        title=f"strength {strength_label(cluster)}",
                    ),
                ],
                className=f"hm-ladder-row side-{cluster.side}",
            )
        )
    if price is not None and price_row is not None:
        rows.append(price_row)
    return rows


def cluster_details(cluster: Cluster | None, price: float | None, note: str) -> list:
    """The pinned band's every field, or a note saying how to pin one / why it is gone."""
    if cluster is None:
        return [html.P(note, className="hm-details-note")]
    lines = cluster_hover(cluster, price).split("<br>")
    heading = lines[0].removeprefix("<b>").removesuffix("</b>")
    items = []
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        items += [html.Dt(name), html.Dd(value)]
    return [
        html.Div(heading, className=f"hm-details-title tone-{cluster.side}"),
        html.Div(
            html.Div(
                className=f"hm-strength-fill tone-{cluster.side}",
                style={"width": f"{cluster.strength * 100:.0f}%"},
            ),
            className="hm-strength-bar",
            title=f"strength {strength_label(cluster)}",
        ),
        html.Dl(items, className="hm-details-list"),
        html.P(
            f"Price {theme.fmt_price(price)}" if price is not None else "No current price",
            className="hm-details-note",
        ),
    ]
