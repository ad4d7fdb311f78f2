"""What every venue adapter provides to the generic feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from heatmap_engine.models import Liquidation, MarkPrice, Skipped

Event = Liquidation | MarkPrice | Skipped

# Reasons that say a frame carried no market data at all: a refusal from the server, bytes that
# are not JSON, a message of no kind we subscribed to. Every other reason is a broken part of a
# data message (a bad number, a time out of range ...), which still proves the route delivers.
NOT_DATA = frozenset({"error_frame", "not_json", "unexpected_frame"})


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

    @property
    def carries_data(self) -> bool:
        """True when the frame was market data (even partly broken): only such frames mark a
        connection live, feed the silence watchdog and end a gap."""
        if self.control:
            return False
        return bool(self.events) or any(reason not in NOT_DATA for reason in self.errors)

    @property
    def rejected(self) -> bool:
        """The server refused something (an error frame)."""
        return "error_frame" in self.errors


EMPTY_CONTROL = ParseResult(control=True)


def failed(reason: str) -> ParseResult:
    return ParseResult(errors=(reason,))


HOUR_MS = 3_600_000
# Absolute bounds for any exchange time: 2017-01-01 .. 2100-01-01 UTC (epoch ms). Outside them a
# value is garbage (seconds for milliseconds, a counter, 2**64), whatever the clocks say.
EARLIEST_MS = 1_483_228_800_000
LATEST_MS = 4_102_444_800_000


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Which event times a frame may carry, relative to when it was received.

    A time more than ``max_age_ms`` before receipt is ``time_too_old``; more than ``max_ahead_ms``
    after it ``time_in_future``; either way the part is counted and skipped, so it never reaches
    the engine (decay, the duplicate memory, the store). With ``relative`` False only the absolute
    bounds apply: for a simulated exchange whose clock runs faster than this machine's. So does a
    receive time of 0, which means "unknown" (a frame parsed outside any feed).
    """

    max_age_ms: int = 24 * HOUR_MS
    max_ahead_ms: int = 5 * 60_000
    relative: bool = True

    def verdict(self, time_ms: int, received_at_ms: int) -> str | None:
        """None when ``time_ms`` is acceptable, else the reason."""
        if time_ms < EARLIEST_MS:
            return "time_too_old"
        if time_ms > LATEST_MS:
            return "time_in_future"
        if not self.relative or received_at_ms <= 0:
            return None
        if time_ms < received_at_ms - self.max_age_ms:
            return "time_too_old"
        if time_ms > received_at_ms + self.max_ahead_ms:
            return "time_in_future"
        return None


DEFAULT_WINDOW = TimeWindow()


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
