"""Every error under ``/api/`` and ``/docs`` as the JSON envelope; every other path untouched.

* ``ApiError`` from a view, and HTTP errors (404, 405, the limiter's 429) become the envelope;
  anything else is a bug: logged with its traceback, answered ``500`` with a fixed message.
* The app's own size limits, checked before routing so that the envelope answers them wherever
  the WSGI server lets a request through: a request target (path and query) longer than
  ``MAX_TARGET_BYTES`` is a 414; a header longer than ``MAX_HEADER_BYTES``, or headers longer
  than ``MAX_HEADERS_BYTES`` together, a 431. (Larger requests are refused by the WSGI server
  itself, in its own words: gunicorn above a 4094-byte request line or an 8190-byte header.)
* A redirect (``/docs`` -> ``/docs/``) carries a JSON body too.
* Dash routes every unmatched GET to its page; under ``/api/`` and ``/docs`` only our routes
  answer, so ``/api/typo`` is a JSON 404, not the dashboard's HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from api.envelope import ApiError, dumps, error, is_api_path, raw_response

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error; the server log has the details"
MAX_TARGET_BYTES = 2048
MAX_HEADER_BYTES = 4096
MAX_HEADERS_BYTES = 16384


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


def _too_large(environ: dict) -> Response | None:
    """Read from the WSGI environ directly: this runs on every API request."""
    target = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) + 1
    if target > MAX_TARGET_BYTES:
        return error(414, f"request target is {target} bytes; at most {MAX_TARGET_BYTES} are "
                     "read (a cursor is at most 512; see /docs)")  # fmt: skip
    largest = total = 0
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            size = len(key) - 3 + len(value)  # "Name: value" less the prefix
            total += size
            largest = size if size > largest else largest
    if largest > MAX_HEADER_BYTES or total > MAX_HEADERS_BYTES:
        return error(431, f"request headers are too large ({largest} bytes in one, {total} in "
                     f"all); at most {MAX_HEADER_BYTES} in one and {MAX_HEADERS_BYTES} in all "
                     "are read")  # fmt: skip
    return None


def _redirect(exc: RequestRedirect) -> Response:
    body = dumps({"success": True, "redirect": exc.new_url})
    return raw_response(body, exc.code, {"Location": exc.new_url})


def install_guards(server: Flask, blueprints: Iterable[str]) -> None:
    """The ``before_request`` checks of API paths (size limits, redirects, foreign routes)."""
    ours = frozenset(blueprints)

    def guard() -> Response | None:
        if not is_api_path(request.path):
            return None
        too_large = _too_large(request.environ)
        if too_large is not None:
            return too_large
        routing = request.routing_exception
        if isinstance(routing, RequestRedirect):
            return _redirect(routing)
        if routing is None and request.blueprint not in ours:
            raise NotFound()
        return None

    server.before_request(guard)
    server.register_error_handler(HTTPException, handle_error)
