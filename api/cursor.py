"""The opaque paging cursor of ``/api/liquidations``: the query it belongs to plus the keyset.

A cursor is URL-safe base64 of ``checksum + JSON [version, symbol, start_ms, end_ms, side,
min_notional, time_ms, id]``, where ``(time_ms, id)`` is the last row of the page it follows
(keyset paging: every page costs the same however deep). It pins the query's resolved range,
so following it later never skips rows even when ``end`` defaulted to "now".

The checksum (keyed BLAKE2b) makes an edited or truncated cursor a clear 400 rather than a
silently different page. It is integrity, not secrecy: a forged cursor could only ask for what
a plain query can ask for anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from api.envelope import ApiError
from api.history_params import (
    CURSOR_MAX_LENGTH,
    END,
    MIN_NOTIONAL,
    SIDE_FILTER,
    START,
    time_range,
)
from api.params import query_param
from heatmap_engine.models import LONG, SHORT

VERSION = 1
_KEY = b"heatmap-api-liquidations-cursor"
_DIGEST_SIZE = 8
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_INVALID = (
    "cursor={raw!r} is not a cursor this server issued (corrupted or edited?); pass the "
    "next_cursor of the previous page unchanged, or start again without cursor"
)


@dataclass(frozen=True, slots=True)
class LiquidationQuery:
    """What a liquidations page is a page of: the resolved symbol, range and filters."""

    symbol: str
    start_ms: int
    end_ms: int
    side: str | None
    min_notional: float


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE, key=_KEY).digest()


def encode_cursor(query: LiquidationQuery, after: tuple[int, int]) -> str:
    fields = [VERSION, query.symbol, query.start_ms, query.end_ms, query.side,
              query.min_notional, after[0], after[1]]  # fmt: skip
    payload = orjson.dumps(fields)
    return base64.urlsafe_b64encode(_digest(payload) + payload).rstrip(b"=").decode("ascii")


def _fields_are_valid(fields: Any) -> bool:
    if not isinstance(fields, list) or len(fields) != 8 or fields[0] != VERSION:
        return False
    _, symbol, start, end, side, min_notional, time_ms, row_id = fields
    ints = (start, end, time_ms, row_id)
    return (
        isinstance(symbol, str)
        and all(isinstance(i, int) and not isinstance(i, bool) for i in ints)
        and side in (None, LONG, SHORT)
        and isinstance(min_notional, float | int)
        and not isinstance(min_notional, bool)
        and min_notional >= 0
    )


def decode_cursor(raw: str) -> tuple[LiquidationQuery, tuple[int, int]]:
    """The query and keyset a cursor carries, or a 400."""
    invalid = ApiError(400, _INVALID.format(raw=raw[:80]))
    if len(raw) > CURSOR_MAX_LENGTH or not _ALPHABET.fullmatch(raw):
        raise invalid
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    digest, payload = blob[:_DIGEST_SIZE], blob[_DIGEST_SIZE:]
    if not hmac.compare_digest(digest, _digest(payload)):
        raise invalid
    try:
        fields = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise invalid from None
    if not _fields_are_valid(fields):
        raise invalid
    _, symbol, start, end, side, min_notional, time_ms, row_id = fields
    return LiquidationQuery(symbol, start, end, side, float(min_notional)), (time_ms, row_id)


@dataclass(frozen=True, slots=True)
class CursorParam:
    name: str
    description: str

    def parse(self, args: Mapping[str, str]) -> tuple[LiquidationQuery, tuple[int, int]] | None:
        raw = args.get(self.name)
        return None if raw is None else decode_cursor(raw)

    def openapi(self) -> dict[str, Any]:
        schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": CURSOR_MAX_LENGTH}
        return query_param(self.name, self.description, schema)


CURSOR = CursorParam(
    "cursor",
    "The next_cursor of the previous page (in the JSON body, or the X-Next-Cursor header of "
    "CSV). It carries the query it belongs to: start, end, side and min_notional may then be "
    "left out, and any that are given must equal the cursor's.",
)


_PINNED = {START.name: "start_ms", END.name: "end_ms", SIDE_FILTER.name: "side",
           MIN_NOTIONAL.name: "min_notional"}  # fmt: skip


def liquidation_query(
    symbol: str, args: Mapping[str, str], now_ms: int
) -> tuple[LiquidationQuery, tuple[int, int] | None]:
    """The query and keyset of a request: from its parameters, or from its cursor (whose query
    any given parameter must match)."""
    params = (START, END, SIDE_FILTER, MIN_NOTIONAL)
    given = {p.name: p.parse(args) for p in params if p.name in args}
    cursor = CURSOR.parse(args)
    if cursor is None:
        span = time_range(given.get(START.name), given.get(END.name), now_ms)
        side, min_notional = given.get(SIDE_FILTER.name), given.get(MIN_NOTIONAL.name, 0.0)
        return LiquidationQuery(symbol, span.start_ms, span.end_ms, side, min_notional), None
    query, after = cursor
    differ = [name for name, value in given.items() if getattr(query, _PINNED[name]) != value]
    if query.symbol != symbol:
        differ.insert(0, f"symbol (the cursor is for {query.symbol})")
    if differ:
        raise ApiError(
            400,
            f"cursor belongs to another query ({', '.join(differ)} differ); repeat the query "
            "the cursor came from, or leave start, end, side and min_notional out",
        )
    return query, after
