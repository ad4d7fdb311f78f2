"""Time parameters: ISO 8601 (UTC when no offset is given) or epoch milliseconds.

One grammar, ``TIME_PATTERN``, is both what the server accepts and the ``pattern`` in the spec:

* epoch milliseconds: digits only (``1769601600000``);
* ISO 8601: ``YYYY-MM-DD`` optionally followed by ``T`` (or a space) and ``HH:MM``, ``HH:MM:SS``
  or ``HH:MM:SS.fff`` (up to 9 fraction digits, kept to the millisecond), optionally followed by
  ``Z`` or an offset ``+HH:MM`` / ``-HH:MM``. Without an offset the time is UTC.

Times must lie between 2000-01-01 and 9999-12-31 (UTC). That lower bound also catches the usual
mistake of passing epoch *seconds* where milliseconds are expected, which would otherwise read
as a time in January 1970 and silently return nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from api.envelope import ApiError
from api.params import query_param

_FRACTION = r"(?:\.([0-9]{1,9}))?"
_CLOCK = r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})" + _FRACTION + r")?"
_OFFSET = r"([Zz]|([+-])([0-9]{2}):?([0-9]{2}))?"
_ISO = r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]" + _CLOCK + _OFFSET + r")?"
_SYNTAX = r"[0-9]{1,16}|" + _ISO
TIME_PATTERN = "^(?:" + _SYNTAX + ")$"
_TIME = re.compile(_SYNTAX)

MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
TIME_ALLOWED = (
    "an ISO 8601 time like 2026-01-28T12:00:00Z or 2026-01-28T13:00:00%2B01:00 (no offset "
    "means UTC; a date alone means its midnight), or epoch milliseconds like 1769601600000, "
    "between 2000-01-01 and 9999-12-31"
)


def _offset(match: re.Match[str]) -> timezone:
    sign, hours, minutes = match.group(9), match.group(10), match.group(11)
    if sign is None:
        return UTC
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _iso_to_ms(match: re.Match[str]) -> int:
    """Raises ValueError for a date or clock that does not exist (2026-02-30, 25:00, +24:00)."""
    year, month, day, hour, minute, second, fraction = (match.group(i) for i in range(1, 8))
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
        micros, tzinfo=_offset(match),
    )  # fmt: skip
    return (moment - _EPOCH) // _MS


def parse_time(name: str, raw: str) -> int:
    """``raw`` as epoch milliseconds, or a 400 saying what is allowed."""
    match = _TIME.fullmatch(raw)
    hint = " (a '+' in a URL must be written %2B)" if " " in raw and "+" not in raw else ""
    if match is None:
        raise ApiError(400, f"{name}={raw!r} is not a time{hint}; allowed: {TIME_ALLOWED}")
    try:
        ms = int(raw) if match.group(1) is None else _iso_to_ms(match)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name}={raw!r} is not a real date and time; allowed: "
                       f"{TIME_ALLOWED}") from None  # fmt: skip
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        seconds = " (epoch seconds? this API takes milliseconds)" if match.group(1) is None else ""
        raise ApiError(400, f"{name}={raw!r} is out of range{seconds}; allowed: {TIME_ALLOWED}")
    return ms


@dataclass(frozen=True, slots=True)
class TimeParam:
    """A time; ``parse`` gives None when absent (the default depends on other parameters)."""

    name: str
    description: str
    default: str  # what an absent value means, for the docs only
    example: str = "2026-01-28T12:00:00Z"

    def parse(self, args: Mapping[str, str]) -> int | None:
        raw = args.get(self.name)
        return None if raw is None else parse_time(self.name, raw)

    def openapi(self) -> dict[str, Any]:
        description = f"{self.description} Allowed: {TIME_ALLOWED}; default: {self.default}."
        param = query_param(self.name, description, {"type": "string", "pattern": TIME_PATTERN})
        param["example"] = self.example
        return param
