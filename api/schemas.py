"""What the replies of every resource share: the error model, field types, cache headers and the
replies for 304, 400, 404, 429 and 503. Each resource's own models live in its module.

Response models list the fields a client may rely on (required ones are the contract); extra
fields are allowed, so a body may grow without breaking the spec. The test suite validates real
responses against them, and schemathesis fuzzes the API against the spec made from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from api.operations import Reply

IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""A time as the API writes it: ISO 8601 with an explicit UTC offset."""
Side = Annotated[
    Literal["long", "short"],
    Field(description="Whose positions were liquidated: long (sell orders) or short (buy "
          "orders)."),
]  # fmt: skip
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class Error(BaseModel):
    """The error envelope."""

    success: Literal[False]
    error: str = Field(description="What was wrong and what is allowed.")


def _string(description: str, required: bool = False) -> dict[str, Any]:
    header: dict[str, Any] = {"description": description, "schema": {"type": "string"}}
    return {**header, "required": True} if required else header


ETAG = _string("Hash of the body.", required=True)
CACHE_HEADERS = {
    "ETag": ETAG,
    "Cache-Control": _string(
        "public, max-age=HEATMAP_API_MAX_AGE (no-cache for a past heatmap, requested with at)."
    ),
}
HISTORY_CACHE_HEADERS = {
    "ETag": ETAG,
    "Cache-Control": _string("no-cache: revalidate with If-None-Match."),
}
NOT_MODIFIED = "Not modified: the If-None-Match ETag is current."
RATE_LIMITED = Reply(
    "Rate limit exceeded (only when HEATMAP_RATE_LIMIT is set).",
    Error,
    {"Retry-After": _string("Seconds to wait.", required=True)},
)
BAD_PARAMETER = Reply("A parameter is invalid; the error says what is allowed.", Error)
UNKNOWN_SYMBOL = Reply("Unknown symbol.", Error)
HISTORY_OFF = Reply("The server keeps no history (HEATMAP_HISTORY=0).", Error)
# The app's own size limits (api.errors) answer every route before it is routed.
SIZE_REPLIES = {
    414: Reply("The request target (path and query) is longer than the server reads.", Error),
    431: Reply("A request header, or all of them together, is larger than the server reads.",
               Error),
}  # fmt: skip


def snapshot_replies(ok: Reply, history: bool = False) -> dict[int, Reply]:
    """The replies of a route answered from the live snapshot (cached, revalidated)."""
    replies = {200: ok, 304: Reply(NOT_MODIFIED, headers=CACHE_HEADERS), 400: BAD_PARAMETER,
               404: UNKNOWN_SYMBOL, 429: RATE_LIMITED}  # fmt: skip
    if history:
        replies[503] = HISTORY_OFF  # a past heatmap (at) reads the history store
    return replies


def history_replies(ok: Reply) -> dict[int, Reply]:
    """The replies of a read of the history store: 503 while history is off."""
    return {200: ok, 304: Reply(NOT_MODIFIED, headers=HISTORY_CACHE_HEADERS),
            400: BAD_PARAMETER, 404: UNKNOWN_SYMBOL, 429: RATE_LIMITED,
            503: HISTORY_OFF}  # fmt: skip
