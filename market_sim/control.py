"""Binance market-stream control messages (protocol reference §1.3), as one pure function.

Models the server's answers to SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY /
GET_PROPERTY, and its error frames:

* code 3 `Invalid JSON: expected value at line L column C` for text that is not JSON (the
  position comes from Python's parser, so it can differ from Binance's serde position);
* code 2 for request-shape errors: `request ID must be an unsigned integer` (string, negative,
  missing id), `unknown variant `X`, expected one of `SUBSCRIBE`, ... at line L column C`
  (the official docs put backticks around every variant), `missing field method ...`,
  `property name must be a string`, `too many parameters`;
* code 0 `Unknown property` (the only error frame that carries the request `id`, as in the
  spot docs' table), code 1 `Invalid value type: expected Boolean`.

Keys are checked in the order they appear, as a streaming JSON deserialiser would. Unknown
symbols and wrong routes are acked, never rejected. Not documented by Binance, chosen here: a
missing `params` on SUBSCRIBE/UNSUBSCRIBE means an empty list, and a SUBSCRIBE that would take
the connection past `max_streams` gets `{"code":2,"msg":"Invalid request: too many streams",
"id":N}` and then the server closes the connection (`ControlOutcome.close`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_VARIANTS = ", ".join(f"`{name}`" for name in METHODS)
_BAD_ID = "Invalid request: request ID must be an unsigned integer"
_METHOD_VALUE = re.compile(r'"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]*)')


@dataclass(frozen=True)
class ControlOutcome:
    """The reply frame plus the state change the connection must apply."""

    reply: dict[str, Any]
    streams: tuple[str, ...] | None = None  # the new subscription list, if it changed
    combined: bool | None = None  # the new `combined` property, if it was set
    close: bool = False  # close the connection after sending the reply
    method: str | None = None  # the method that succeeded, None for error replies


class _Reject(Exception):
    def __init__(self, code: int, msg: str, request_id: int | None = None) -> None:
        super().__init__(msg)
        reply: dict[str, Any] = {"code": code, "msg": msg}
        if request_id is not None:
            reply["id"] = request_id
        self.reply = reply


def _position(text: str, end: int) -> str:
    """serde-style `line L column C` of the last character before `end`."""
    line = text.count("\n", 0, end) + 1
    column = end - (text.rfind("\n", 0, end) + 1)
    return f"line {line} column {column}"


def _is_unsigned(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**64


def _kind(value: Any) -> str:
    names = {dict: "map", list: "sequence", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _parse(raw: str | bytes) -> tuple[str, dict[str, Any], int]:
    """Decode one client frame into (method, request object, id) or raise `_Reject`."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        request = json.loads(text)
    except UnicodeDecodeError:
        raise _Reject(3, "Invalid JSON: expected value at line 1 column 1") from None
    except json.JSONDecodeError as err:
        raise _Reject(
            3, f"Invalid JSON: expected value at line {err.lineno} column {err.colno}"
        ) from None
    if not isinstance(request, dict):
        where = _position(text, len(text.rstrip()))
        raise _Reject(2, f"Invalid request: invalid type: {_kind(request)}, expected struct "
                         f"Request at {where}")  # fmt: skip
    for key, value in request.items():
        if key == "method" and value not in METHODS:
            match = _METHOD_VALUE.search(text)
            where = _position(text, match.end() if match else len(text))
            shown = value if isinstance(value, str) else json.dumps(value)
            raise _Reject(2, f"Invalid request: unknown variant `{shown}`, expected one of "
                             f"{_VARIANTS} at {where}")  # fmt: skip
        if key == "id" and not _is_unsigned(value):
            raise _Reject(2, _BAD_ID)
    if "method" not in request:
        where = _position(text, len(text.rstrip()))
        raise _Reject(2, f"Invalid request: missing field `method` at {where}")
    if "id" not in request:
        raise _Reject(2, _BAD_ID)
    return request["method"], request, request["id"]


def _stream_list(request: dict[str, Any]) -> list[str]:
    params = request.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        kind = _kind(params) if not isinstance(params, list) else "non-string stream name"
        raise _Reject(2, f"Invalid request: invalid type: {kind}, expected a sequence of "
                         "strings")  # fmt: skip
    return params


def _property_name(request: dict[str, Any], request_id: int, max_params: int) -> list[Any]:
    params = request.get("params", [])
    if not isinstance(params, list):
        params = [params]
    if len(params) > max_params:
        raise _Reject(2, "Invalid request: too many parameters")
    if not params or not isinstance(params[0], str):
        raise _Reject(2, "Invalid request: property name must be a string")
    if params[0] != "combined":
        raise _Reject(0, "Unknown property", request_id)
    return params


def handle_control(
    raw: str | bytes, streams: Sequence[str], combined: bool, max_streams: int
) -> ControlOutcome:
    """Answer one client frame given the connection's subscriptions and `combined` flag."""
    try:
        method, request, request_id = _parse(raw)
        ack = {"result": None, "id": request_id}
        if method == "SUBSCRIBE":
            wanted = list(dict.fromkeys([*streams, *_stream_list(request)]))
            if len(wanted) > max_streams:
                reply = {"code": 2, "msg": "Invalid request: too many streams", "id": request_id}
                return ControlOutcome(reply, close=True)
            return ControlOutcome(ack, streams=tuple(wanted), method=method)
        if method == "UNSUBSCRIBE":
            dropped = set(_stream_list(request))
            kept = tuple(s for s in streams if s not in dropped)
            return ControlOutcome(ack, streams=kept, method=method)
        if method == "LIST_SUBSCRIPTIONS":
            if request.get("params"):
                raise _Reject(2, "Invalid request: too many parameters")
            return ControlOutcome({"result": list(streams), "id": request_id}, method=method)
        if method == "GET_PROPERTY":
            _property_name(request, request_id, max_params=1)
            return ControlOutcome({"result": combined, "id": request_id}, method=method)
        params = _property_name(request, request_id, max_params=2)
        if len(params) < 2 or not isinstance(params[1], bool):
            raise _Reject(1, "Invalid value type: expected Boolean")
        return ControlOutcome(ack, combined=params[1], method=method)
    except _Reject as rejection:
        return ControlOutcome(rejection.reply)
