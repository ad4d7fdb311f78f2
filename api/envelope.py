"""The one JSON envelope and the one error handler of everything under ``/api/`` and ``/docs``.

Success: ``{"success": true, ...fields}``. Error: ``{"success": false, "error": "<what was wrong
and what is allowed>", ...extra}``. Bodies are serialised with orjson.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

JSON_MIMETYPE = "application/json"
API_ROOTS = ("/api", "/docs")
NO_STORE = "no-store"
INTERNAL_ERROR = "internal error; the server log has the details"


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
    return path in API_ROOTS or path.startswith(tuple(root + "/" for root in API_ROOTS))


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"no such endpoint: {request.path}; see /docs for the API"
    if exc.code == 500:
        return INTERNAL_ERROR
    if exc.code == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
        return f"method {request.method} not allowed on {request.path}; allowed: {allowed}"
    return exc.description or exc.name


def handle_error(exc: Exception) -> Response | HTTPException:
    """The error handler: API paths get the envelope, every other path keeps Flask's default."""
    if not is_api_path(request.path):
        if isinstance(exc, HTTPException):
            return exc
        raise exc
    if isinstance(exc, ApiError):
        return error(exc.status, exc.message, **exc.extra)
    if isinstance(exc, HTTPException):
        if exc.response is not None:  # pre-built (the rate limiter's 429 envelope)
            return exc.response
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        return error(exc.code or 500, _http_message(exc), headers)
    # The request-handler boundary: log the traceback once, answer with the envelope.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error(500, INTERNAL_ERROR)


def register_error_handler(app: Flask, blueprint: Blueprint) -> None:
    """Wire ``handle_error``: every exception in API views, HTTP errors app-wide (path-checked).

    The app-wide part is what turns an unrouted ``/api/...`` 404 or a 405 into the envelope;
    for any other path it hands the exception back, so Dash's pages and errors are untouched.
    """
    blueprint.register_error_handler(Exception, handle_error)
    app.register_error_handler(HTTPException, handle_error)
