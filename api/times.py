"""Time parameters and ranges: ISO 8601 (UTC when no offset is given) or epoch milliseconds.

``TIME_PATTERN`` is exactly what the server accepts, and it is the ``pattern`` in the spec: a
value matches it if and only if it is read as a time (so a client, or a fuzzer, that follows the
spec is never refused for the form of a time):

* epoch milliseconds: digits (no leading zero) between 946684800000 (2000-01-01T00:00:00Z) and
  253402300799999 (9999-12-31T23:59:59.999Z);
* ISO 8601: a date that exists, ``YYYY-MM-DD`` with a year from 2000 to 9999 (February 29 only
  in leap years), optionally followed by ``T`` (or a space) and ``HH:MM``, ``HH:MM:SS`` or
  ``HH:MM:SS.fff`` (up to 9 fraction digits, kept to the millisecond), optionally followed by
  ``Z`` or an offset ``+HH:MM`` / ``-HH:MM`` (up to 23:59). Without an offset the time is UTC.
  An offset that takes a time past either end of that window reads as the window's end.

The lower bound also catches the usual mistake of passing epoch *seconds* where milliseconds are
expected, which would otherwise read as a time in January 1970 and silently return nothing; the
error says so. Ranges are half-open, ``[start, end)``; ``end`` defaults to now, ``start`` to
``end`` - 24 h.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from api.envelope import ApiError
from api.query import OWN_MESSAGE
from heatmap_engine.models import iso_utc

MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
DEFAULT_SPAN_MS = 86_400_000  # start defaults to end - 24 h


def _same_length(low: str, high: str) -> str:
    """A regex for the decimal strings of ``len(low)`` digits from ``low`` to ``high``."""
    if low == high:
        return low
    if len(low) == 1:
        return f"[{low}-{high}]"
    if low[0] == high[0]:
        return low[0] + "(?:" + _same_length(low[1:], high[1:]) + ")"
    rest = len(low) - 1
    low_whole, high_whole = low[1:] == "0" * rest, high[1:] == "9" * rest
    first, last = int(low[0]) + (not low_whole), int(high[0]) - (not high_whole)
    parts = [] if low_whole else [low[0] + "(?:" + _same_length(low[1:], "9" * rest) + ")"]
    if first <= last:
        parts.append((str(first) if first == last else f"[{first}-{last}]") + f"[0-9]{{{rest}}}")
    if not high_whole:
        parts.append(high[0] + "(?:" + _same_length("0" * rest, high[1:]) + ")")
    return "|".join(parts)


def integer_pattern(low: int, high: int) -> str:
    """A regex matching exactly the integers in ``[low, high]`` (``0 < low``), no leading zero."""
    parts = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        a = str(low) if digits == len(str(low)) else "1" + "0" * (digits - 1)
        b = str(high) if digits == len(str(high)) else "9" * digits
        parts.append(_same_length(a, b))
    return "|".join(f"(?:{p})" for p in parts)


_MONTH_DAY = (r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
              r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))")  # fmt: skip
_LEAP_YEAR = r"(?:[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_DATE = rf"(?:[2-9][0-9]{{3}}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
_GRAMMAR = rf"{integer_pattern(MIN_TIME_MS, MAX_TIME_MS)}|{_DATE}(?:[Tt ]{_CLOCK}{_OFFSET}?)?"
TIME_PATTERN = f"^(?:{_GRAMMAR})$"
_TIME = re.compile(_GRAMMAR)
# Only to read the parts of a time, and to say why a near miss was refused (the 30th of February,
# hour 24, the year 1999): what is accepted is decided by _TIME alone.
_DIGITS = re.compile(r"[0-9]{1,16}")
_PARTS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?)?([Zz]|([+-])([0-9]{2}):?([0-9]{2}))?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
TIME_ALLOWED = (
    "an ISO 8601 time like 2026-01-28T12:00:00Z or 2026-01-28T13:00:00%2B01:00 (no offset "
    "means UTC; a date alone means its midnight), or epoch milliseconds like 1769601600000, "
    "between 2000-01-01 and 9999-12-31"
)


def _moment(parts: re.Match[str]) -> datetime:
    """Raises ValueError for a date or clock that does not exist (2026-02-30, 25:00, +24:00)."""
    year, month, day, hour, minute, second, fraction = (parts.group(i) for i in range(1, 8))
    zone = UTC
    if parts.group(9) is not None:
        delta = timedelta(hours=int(parts.group(10)), minutes=int(parts.group(11)))
        zone = timezone(-delta if parts.group(9) == "-" else delta)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                    int(second or 0), micros, tzinfo=zone)  # fmt: skip


def _refusal(raw: str) -> str:
    """Why ``raw`` (which does not match the grammar) is not a time, after ``name=value``."""
    if _DIGITS.fullmatch(raw) and not raw.startswith("0"):
        seconds = " (epoch seconds? this API takes milliseconds)" if int(raw) < MIN_TIME_MS else ""
        return f"is out of range{seconds}; allowed: {TIME_ALLOWED}"
    parts = _PARTS.fullmatch(raw)
    if parts is not None:
        try:
            _moment(parts)
        except ValueError:
            return f"is not a real date and time; allowed: {TIME_ALLOWED}"
        return f"is out of range; allowed: {TIME_ALLOWED}"
    hint = " (a '+' in a URL must be written %2B)" if " " in raw and "+" not in raw else ""
    return f"is not a time{hint}; allowed: {TIME_ALLOWED}"


def read_time(raw: str) -> int:
    """``raw`` as epoch milliseconds; PydanticCustomError (``OWN_MESSAGE``) when it is not one."""
    if not isinstance(raw, str) or not _TIME.fullmatch(raw):
        raise PydanticCustomError(OWN_MESSAGE, _refusal(str(raw)))
    if raw.isdigit():
        return int(raw)
    ms = (_moment(_PARTS.fullmatch(raw)) - _EPOCH) // _MS
    return min(max(ms, MIN_TIME_MS), MAX_TIME_MS)


def parse_time(name: str, raw: str) -> int:
    """``raw`` as epoch milliseconds, or a 400 saying what is allowed."""
    try:
        return read_time(raw)
    except PydanticCustomError as exc:
        raise ApiError(400, f"{name}={raw!r} {exc.message()}") from None


def _time_schema(example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": TIME_PATTERN, "example": example})


Time = Annotated[int, BeforeValidator(read_time), _time_schema("2026-01-28T12:00:00Z")]
"""A time parameter: epoch milliseconds once validated; in the spec, a string of TIME_PATTERN."""
StartTime = Annotated[int, BeforeValidator(read_time), _time_schema("2026-01-27T12:00:00Z")]


def time_doc(description: str, default: str) -> str:
    return f"{description} Allowed: {TIME_ALLOWED}; default: {default}."


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int

    def fields(self) -> dict[str, Any]:
        """The range as a page body gives it back (resolved, ISO 8601)."""
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
