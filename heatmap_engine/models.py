"""Normalised, immutable types that flow through the engine.

Times are UTC epoch milliseconds (integers) everywhere inside the engine; they become ISO 8601
strings with an explicit offset only in the API layer (``api.resources``), which owns every JSON
field name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from heatmap_engine import precision

Side = Literal["long", "short"]
LONG: Side = "long"
SHORT: Side = "short"


def iso_utc(ms: int | None) -> str | None:
    """Epoch milliseconds -> ISO 8601 with an explicit UTC offset (millisecond precision)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One forced order, normalised across venues.

    ``liquidated_side`` names whose position was closed: ``long`` when the exchange's liquidation
    order sold (Binance ``S=SELL``), ``short`` when it bought.
    """

    exchange: str
    symbol: str
    liquidated_side: Side
    price: float
    quantity: float
    notional_usd: float
    event_time_ms: int
    received_at_ms: int
    order_status: str = "FILLED"

    @property
    def dedupe_key(self) -> tuple[Any, ...]:
        """Identity of the order: the same forced order seen twice has the same key."""
        return (
            self.exchange,
            self.symbol,
            self.event_time_ms,
            self.liquidated_side,
            self.quantity,
            self.price,
        )


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """A mark-price update for one symbol."""

    exchange: str
    symbol: str
    mark_price: float
    event_time_ms: int
    source: str = "stream"


class MarkPriceColumns(Sequence):
    """A mark-price array as columns: an immutable sequence of ``MarkPrice`` (all from the
    stream, all checked by the parser) that makes the objects only when someone iterates it.
    The engine reads the columns directly (one object per frame, not per entry)."""

    __slots__ = ("_events", "exchange", "prices", "symbols", "times")

    def __init__(
        self, exchange: str, symbols: Sequence[str], prices: Sequence[float], times: Sequence[int]
    ):
        self.exchange = exchange
        self.symbols, self.prices, self.times = tuple(symbols), tuple(prices), tuple(times)
        self._events: tuple[MarkPrice, ...] | None = None

    def events(self) -> tuple[MarkPrice, ...]:
        if self._events is None:
            ex = self.exchange
            self._events = tuple(
                MarkPrice(ex, s, p, t)
                for s, p, t in zip(self.symbols, self.prices, self.times, strict=True)
            )
        return self._events

    def __len__(self) -> int:
        return len(self.symbols)

    def __getitem__(self, index):  # type: ignore[override]
        return self.events()[index]

    def __iter__(self):
        return iter(self.events())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, MarkPriceColumns)):
            return self.events() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.events())

    def __add__(self, other: Sequence) -> tuple:
        return self.events() + tuple(other)

    def __radd__(self, other: Sequence) -> tuple:
        return tuple(other) + self.events()

    def __repr__(self) -> str:
        return f"MarkPriceColumns({self.events()!r})"


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline. ``taker_buy_volume`` is the taker-buy base volume; sells are ``volume - it``."""

    exchange: str
    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    taker_buy_volume: float
    trades: int
    closed: bool = True


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """Open interest of one symbol at one time, in base units (and USD when the venue gives it)."""

    exchange: str
    symbol: str
    time_ms: int
    open_interest: float
    open_interest_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A well-formed event the engine does not cluster, kept for counting (never silent)."""

    exchange: str
    reason: str
    symbol: str
    notional_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Cluster:
    """A realized-liquidation cluster: one price cell of one side of one symbol.

    See ``heatmap_engine.clusters`` and the README section "How clusters are made" for the exact
    definition of every field.
    """

    cluster_id: int
    side: Side
    price_level: float
    liquidation_count: int
    total_notional: float
    weighted_notional: float
    strength: float
    distance_from_price: float | None
    last_updated_ms: int
    price_low: float
    price_high: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a reader needs about one symbol at one refresh; never mutated after creation.

    ``version`` increases by one each time the published content of this symbol changes, so a
    reader that already holds version N can skip work. Building one applies the published
    precision (``heatmap_engine.precision``) to the price and the clusters.
    """

    symbol: str
    version: int
    computed_at_ms: int
    current_price: float | None
    price_time_ms: int | None
    clusters: tuple[Cluster, ...] = field(default_factory=tuple)
    events_in_window: int = 0
    notional_in_window: float = 0.0
    window_minutes: float = 60.0
    min_cluster_size: int = 5

    def __post_init__(self) -> None:
        current = precision.price(self.current_price)
        object.__setattr__(self, "current_price", current)
        clusters = tuple(precision.published_cluster(c, current) for c in self.clusters)
        object.__setattr__(self, "clusters", clusters)

    def same_content(self, other: Snapshot) -> bool:
        """True when a reader would receive the same figures (versions and times aside)."""
        return (
            self.clusters == other.clusters
            and self.current_price == other.current_price
            and self.events_in_window == other.events_in_window
            and self.notional_in_window == other.notional_in_window
        )

    @property
    def long_clusters(self) -> int:
        return sum(1 for c in self.clusters if c.side == LONG)

    @property
    def short_clusters(self) -> int:
        return sum(1 for c in self.clusters if c.side == SHORT)

    def filtered(
        self, min_strength: float = 0.0, max_distance: float | None = None
    ) -> list[Cluster]:
        """Clusters at or above ``min_strength`` and within ``max_distance`` percent of price.

        With no current price a cluster's distance is unknown, so a distance filter keeps it.
        """
        return [
            c
            for c in self.clusters
            if c.strength >= min_strength
            and (
                max_distance is None
                or c.distance_from_price is None
                or c.distance_from_price <= max_distance
            )
        ]
