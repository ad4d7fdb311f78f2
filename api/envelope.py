"""The one JSON envelope of everything under ``/api/`` and ``/docs`` (the handler that puts every
error into it is ``api.errors``).

Success: ``{"success": true, ...fields}``. Error: ``{"success": false, "error": "<what was wrong
and what is allowed>", ...extra}``. Bodies are serialised with orjson.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import Response

JSON_MIMETYPE = "application/json"
API_ROOTS = ("/api", "/docs")
_API_PREFIXES = tuple(root + "/" for root in API_ROOTS)
NO_STORE = "no-store"


class ApiError(Exception):
    """Raised by a route for a client error; becomes the error envelope with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def dumps(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def raw_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body, status=status, mimetype=JSON_MIMETYPE)
    if headers:
        response.headers.update(headers)
    return response


def success(fields: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    """200 with ``{"success": true, **fields}``."""
    return raw_response(dumps({"success": True, **fields}), 200, headers)


def error(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any):
    """The error envelope; never cached by clients or proxies."""
    body = dumps({"success": False, "error": message, **extra})
    return raw_response(body, status, {"Cache-Control": NO_STORE, **(headers or {})})


def is_api_path(path: str) -> bool:
    return path in API_ROOTS or path.startswith(_API_PREFIXES)
