"""The cluster table: columns, sorting and the CSV of what is shown (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dashboard import theme
from heatmap_engine.models import Cluster, iso_utc


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the API's field name; the CSV header
    label: str
    numeric: bool = True
    on_phone: bool = False  # shown at phone width (the CSV and wider screens have every column)


COLUMNS: tuple[Column, ...] = (
    Column("side", "Side", numeric=False, on_phone=True),
    Column("price_level", "Price level", on_phone=True),
    Column("distance_from_price", "Distance %", on_phone=True),
    Column("liquidation_count", "Liquidations"),
    Column("total_notional", "Notional", on_phone=True),
    Column("weighted_notional", "Weighted"),
    Column("strength", "Strength", on_phone=True),
    Column("price_low", "Cell low"),
    Column("price_high", "Cell high"),
    Column("last_updated", "Last update", numeric=False),
    Column("cluster_id", "Id"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
PHONE_COLUMNS = tuple(c.key for c in COLUMNS if c.on_phone)


def cell_class(column: Column) -> str | None:
    """Class names of a column's cells: numbers align right; phone-hidden columns say so."""
    names = [name for name, on in (("num", column.numeric), ("wide-only", not column.on_phone))
             if on]  # fmt: skip
    return " ".join(names) or None


DEFAULT_SORT = {"column": "price_level", "descending": True}


def table_caption(count: int, symbol: str, sort: dict[str, Any]) -> str:
    """``1 cluster of BTCUSDT · sorted by Price level ↓``."""
    label = {c.key: c.label for c in COLUMNS}.get(sort.get("column"), "")
    arrow = "↓" if sort.get("descending") else "↑"
    return f"{theme.plural(count, 'cluster')} of {symbol} · sorted by {label} {arrow}"


def sort_clusters(clusters: Sequence[Cluster], column: str, descending: bool) -> list[Cluster]:
    """Sorted by one column; unknown distances always last; ties by cluster id."""
    if column not in COLUMN_KEYS:
        column = DEFAULT_SORT["column"]
    attribute = "last_updated_ms" if column == "last_updated" else column
    known = [c for c in clusters if getattr(c, attribute) is not None]
    unknown = [c for c in clusters if getattr(c, attribute) is None]
    known.sort(key=lambda c: (getattr(c, attribute), c.cluster_id), reverse=descending)
    return known + sorted(unknown, key=lambda c: c.cluster_id)


def next_sort(current: dict[str, Any] | None, clicked: str) -> dict[str, Any]:
    """Clicking the sorted column flips its direction; another column starts descending
    (the side starts ascending: long first)."""
    current = current or DEFAULT_SORT
    if current.get("column") == clicked:
        return {"column": clicked, "descending": not current.get("descending", True)}
    return {"column": clicked, "descending": clicked != "side"}


def header_classes(sort: dict[str, Any]) -> list[str]:
    """Class names of the header buttons, in column order: the sorted one shows its direction."""
    direction = "desc" if sort.get("descending") else "asc"
    return [
        f"hm-sort sorted-{direction}" if key == sort.get("column") else "hm-sort"
        for key in COLUMN_KEYS
    ]


def display_row(cluster: Cluster) -> dict[str, str]:
    """Formatted cells, keyed by column."""
    decimals = theme.price_decimals(cluster.price_level)
    return {
        "side": theme.SIDE_LABEL[cluster.side],
        "price_level": theme.fmt_price(cluster.price_level, decimals),
        "distance_from_price": "—"
        if cluster.distance_from_price is None
        else f"{cluster.distance_from_price:.2f}",
        "liquidation_count": str(cluster.liquidation_count),
        "total_notional": theme.fmt_usd(cluster.total_notional),
        "weighted_notional": theme.fmt_usd(cluster.weighted_notional),
        "strength": f"{cluster.strength:.2f}",
        "price_low": theme.fmt_price(cluster.price_low, decimals),
        "price_high": theme.fmt_price(cluster.price_high, decimals),
        "last_updated": theme.fmt_clock(cluster.last_updated_ms),
        "cluster_id": str(cluster.cluster_id),
    }


def clusters_csv(symbol: str, clusters: Sequence[Cluster]) -> str:
    """The rows as shown (same order), unformatted, in the API's field names, plus the symbol."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["symbol", *COLUMN_KEYS])
    for c in clusters:
        record = {k: iso_utc(c.last_updated_ms) if k == "last_updated" else getattr(c, k)
                  for k in COLUMN_KEYS}  # fmt: skip
        writer.writerow([symbol, *("" if record[k] is None else record[k] for k in COLUMN_KEYS)])
    return out.getvalue()
