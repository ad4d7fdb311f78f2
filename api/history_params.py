"""The parameters of the history routes: defined once, for validation and for the spec.

Ranges are half-open, ``[start, end)``, by trade time (liquidations), open time (candles) or
sample time (open interest). Defaults: ``end`` = now, ``start`` = ``end`` - 24 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api.envelope import ApiError
from api.params import ChoiceParam, IntParam, NumberParam
from api.time_params import TimeParam
from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.models import LONG, SHORT, iso_utc

DEFAULT_SPAN_MS = 86_400_000  # start defaults to end - 24 h
OI_PERIODS = ("5m",)  # what the backfill stores (Binance openInterestHist, period 5m)
FORMATS = ("json", "csv")
CURSOR_MAX_LENGTH = 512

START = TimeParam(
    "start", "Start of the range (inclusive).", "end - 24 hours", example="2026-01-27T12:00:00Z"
)
END = TimeParam("end", "End of the range (exclusive).", "now")
AT = TimeParam(
    "at",
    "Show the clusters as they stood at this past time, computed from the history store "
    "(the decay window before it, weighed at that instant, against the last stored mark price "
    "at or before it). Without it: the live heatmap.",
    "the live heatmap",
    example="2026-01-28T12:00:00Z",
)
SIDE_FILTER = ChoiceParam(
    "side",
    (LONG, SHORT),
    None,
    "Only liquidations of longs (the exchange's order sold) or of shorts; both when absent.",
)
MIN_NOTIONAL = NumberParam(
    "min_notional", 0.0, "Only liquidations of at least this USD notional.", minimum=0.0
)
LIQUIDATION_LIMIT = IntParam("limit", 1000, "Liquidations per page.", 1, 5000)
FORMAT = ChoiceParam(
    "format",
    FORMATS,
    None,
    "Response format. Without it, an Accept header preferring text/csv gets CSV, anything "
    "else JSON.",
)
CANDLE_INTERVAL = ChoiceParam(
    "interval",
    tuple(INTERVAL_MS),
    "1m",
    "Candle length. 1m candles are stored; longer ones are aggregated from them, aligned to "
    "UTC midnight (epoch).",
)
CANDLE_LIMIT = IntParam("limit", 1500, "Candles per page.", 1, 5000)
OI_PERIOD = ChoiceParam("period", OI_PERIODS, "5m", "Sampling period of the stored series.")
OI_LIMIT = IntParam("limit", 1500, "Samples per page.", 1, 5000)
LIQUIDATION_PARAMS = (START, END, SIDE_FILTER, MIN_NOTIONAL, LIQUIDATION_LIMIT, FORMAT)
CANDLE_PARAMS = (CANDLE_INTERVAL, START, END, CANDLE_LIMIT)
OI_PARAMS = (OI_PERIOD, START, END, OI_LIMIT)


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int

    def to_dict(self) -> dict[str, str | None]:
        return {"start": iso_utc(self.start_ms), "end": iso_utc(self.end_ms)}


def time_range(start_ms: int | None, end_ms: int | None, now_ms: int) -> TimeRange:
    """``[start, end)`` with the defaults filled in; a 400 unless start < end."""
    end = now_ms if end_ms is None else end_ms
    start = end - DEFAULT_SPAN_MS if start_ms is None else start_ms
    if start >= end:
        raise ApiError(
            400,
            f"start ({iso_utc(start)}) must be before end ({iso_utc(end)}); the range is "
            "[start, end), end defaults to now and start to end - 24 hours",
        )
    return TimeRange(start, end)


def range_from(args: Mapping[str, str], now_ms: int) -> TimeRange:
    return time_range(START.parse(args), END.parse(args), now_ms)


def wants_csv(args: Mapping[str, str], accept_csv_first: bool) -> bool:
    """``format`` decides; without it, the Accept header does."""
    chosen = FORMAT.parse(args)
    return chosen == "csv" if chosen is not None else accept_csv_first
