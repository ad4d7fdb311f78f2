"""What every venue adapter provides to the generic feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from heatmap_engine.models import Liquidation, MarkPrice, Skipped

Event = Liquidation | MarkPrice | Skipped


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of parsing one raw frame.

    ``events`` are the normalised events it carried; ``errors`` one reason per part that could not
    be used (a frame may carry good and bad parts: a mark-price array with one broken entry);
    ``control`` is True for subscription acknowledgements and similar non-data frames.
    """

    events: tuple[Event, ...] = ()
    errors: tuple[str, ...] = ()
    control: bool = False


EMPTY_CONTROL = ParseResult(control=True)


def failed(reason: str) -> ParseResult:
    return ParseResult(errors=(reason,))


@dataclass(frozen=True, slots=True)
class VenueAdapter:
    """Everything the generic feed needs to know about one venue's market-data socket."""

    name: str
    connect_url: Callable[[str], str]
    # (first request id, streams) -> the subscription messages to send after connecting
    subscribe_messages: Callable[[int, tuple[str, ...]], list[str]]
    parse: Callable[[str | bytes, int], ParseResult]
    streams: tuple[str, ...] = field(default_factory=tuple)  # the always-on streams
    max_streams_per_connection: int = 200
