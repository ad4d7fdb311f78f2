"""The opaque paging cursor of ``/api/liquidations``: the query it belongs to plus the keyset.

A cursor is JSON ``[version, symbol, start_ms, end_ms, side, min_notional, time_ms, id]``,
signed with the server's secret (``api.secret``) by itsdangerous (URL-safe, HMAC-SHA1 over the
payload), where ``(time_ms, id)`` is the last row of the page it follows (keyset paging: every
page costs the same however deep). It pins the query's resolved range, so following it later
never skips rows even when ``end`` defaulted to "now".

Nobody without the secret can make one, and an edited or truncated cursor is a clear 400 rather
than a different page. Whatever a correctly signed cursor carries is range-checked all the same,
as a parameter would be (a symbol's form, times inside 2000..9999 with start < end, the keyset
inside the range, a row id SQLite can hold, a known side, a finite notional >= 0), so no cursor
can reach the store with a value a plain query could not send.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from itsdangerous import BadData, URLSafeSerializer
from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from api.envelope import ApiError
from api.query import OWN_MESSAGE
from api.times import MAX_TIME_MS, MIN_TIME_MS, time_range
from heatmap_engine.models import LONG, SHORT

VERSION = 2
SALT = "heatmap-liquidations-cursor"
CURSOR_PATTERN = "^[A-Za-z0-9_.-]+$"
CURSOR_MAX_LENGTH = 512
MAX_ROW_ID = 2**63 - 1
_NOT_ISSUED = (
    "is not a cursor this server issued (corrupted or edited?); pass the next_cursor of the "
    "previous page unchanged, or start again without cursor"
)
_FORM = re.compile(CURSOR_PATTERN.strip("^$"))
PINNED = ("start", "end", "side", "min_notional")  # what a cursor fixes, by parameter name


def _cursor_form(raw: Any) -> Any:
    if not isinstance(raw, str) or len(raw) > CURSOR_MAX_LENGTH or not _FORM.fullmatch(raw):
        raise PydanticCustomError(OWN_MESSAGE, _NOT_ISSUED)
    return raw


Cursor = Annotated[
    str,
    BeforeValidator(_cursor_form),
    WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN, "maxLength": CURSOR_MAX_LENGTH}),
]
"""The cursor parameter's form (what the spec says); its signature is checked by the codec."""


@dataclass(frozen=True, slots=True)
class LiquidationQuery:
    """What a liquidations page is a page of: the resolved symbol, range and filters."""

    symbol: str
    start_ms: int
    end_ms: int
    side: str | None
    min_notional: float

    def pinned(self) -> dict[str, Any]:
        return dict(zip(PINNED, (self.start_ms, self.end_ms, self.side, self.min_notional),
                        strict=True))  # fmt: skip


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _checked(fields: Any) -> tuple[LiquidationQuery, tuple[int, int]] | None:
    """The query and keyset of a decoded cursor, or None when anything is out of range."""
    if not isinstance(fields, list) or len(fields) != 8 or fields[0] != VERSION:
        return None
    _, symbol, start, end, side, min_notional, time_ms, row_id = fields
    valid = (
        isinstance(symbol, str) and 0 < len(symbol) <= 40 and symbol.isascii()
        and symbol.isalnum()
        and _is_int(start, MIN_TIME_MS, MAX_TIME_MS) and _is_int(end, MIN_TIME_MS, MAX_TIME_MS)
        and start < end and _is_int(time_ms, start, end - 1) and _is_int(row_id, 0, MAX_ROW_ID)
        and side in (None, LONG, SHORT)
        and isinstance(min_notional, int | float) and not isinstance(min_notional, bool)
        and math.isfinite(min_notional) and min_notional >= 0
    )  # fmt: skip
    if not valid:
        return None
    query = LiquidationQuery(symbol, start, end, side, float(min_notional) + 0.0)
    return query, (time_ms, row_id)


class CursorCodec:
    """Signs and checks cursors with ``key()`` (read on first use)."""

    def __init__(self, key: Callable[[], bytes]):
        self._key = key
        self._serializer: URLSafeSerializer | None = None

    def _signer(self) -> URLSafeSerializer:
        if self._serializer is None:
            self._serializer = URLSafeSerializer(self._key(), salt=SALT)
        return self._serializer

    def encode(self, query: LiquidationQuery, after: tuple[int, int]) -> str:
        fields = [VERSION, query.symbol, query.start_ms, query.end_ms, query.side,
                  query.min_notional, after[0], after[1]]  # fmt: skip
        return self._signer().dumps(fields)

    def decode(self, raw: str) -> tuple[LiquidationQuery, tuple[int, int]]:
        """The query and keyset a cursor carries, or a 400."""
        try:
            decoded = _checked(self._signer().loads(raw))
        except (BadData, ValueError, TypeError, OverflowError):
            decoded = None
        if decoded is None:
            raise ApiError(400, f"cursor={raw[:80]!r} {_NOT_ISSUED}")
        return decoded


def liquidation_query(
    symbol: str, given: Mapping[str, Any], cursor: tuple[LiquidationQuery, tuple[int, int]] | None,
    now_ms: int,
) -> tuple[LiquidationQuery, tuple[int, int] | None]:  # fmt: skip
    """The query and keyset of a request: from its parameters (``given``: those the request
    named), or from its cursor, whose query any given parameter must match."""
    if cursor is None:
        span = time_range(given.get("start"), given.get("end"), now_ms)
        query = LiquidationQuery(symbol, span.start_ms, span.end_ms, given.get("side"),
                                 given.get("min_notional", 0.0))  # fmt: skip
        return query, None
    query, after = cursor
    pinned = query.pinned()
    differ = [name for name, value in given.items() if pinned[name] != value]
    if query.symbol != symbol:
        differ.insert(0, f"symbol (the cursor is for {query.symbol})")
    if differ:
        raise ApiError(
            400,
            f"cursor belongs to another query ({', '.join(differ)} differ); repeat the query "
            "the cursor came from, or leave start, end, side and min_notional out",
        )
    return query, after
