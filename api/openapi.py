"""The OpenAPI 3 spec (built from the same parameter and schema objects the server uses) and /docs.

Drift is prevented three ways: parameters come from ``api.params`` (the validators' own
definitions), the test suite validates real responses of every route and error path against
``components.schemas``, and schemathesis fuzzes the running app against this spec.

``/docs`` is Swagger UI from the ``flask-swagger-ui`` package, which ships the Swagger UI
distribution inside the wheel: every asset is served by this server, no CDN.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response
from flask_swagger_ui import get_swaggerui_blueprint

from api.envelope import dumps, raw_response
from api.params import BEST_PARAMS, HEATMAP_PARAMS, NumberParam
from api.payloads import BEST_DEFINITION
from api.schemas import COMPONENTS

SPEC_PATH = "/api/openapi.json"
DOCS_PATH = "/docs"
TITLE = "Liquidation heatmap API"
DOCS_BLUEPRINT = "api_docs"

DESCRIPTION = f"""Realized-liquidation clusters of Binance USDⓈ-M perpetual futures.

Every body is JSON with `success`; errors are `{{"success": false, "error": "..."}}`.
Times are ISO 8601 in UTC with an explicit offset. Heatmap bodies carry `ETag` and
`Cache-Control`; send `If-None-Match` to get `304 Not Modified` while nothing changed.

**Best cluster.** {BEST_DEFINITION}
"""


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str, headers: dict | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


_STRING = {"schema": {"type": "string"}}
CACHE_HEADERS = {
    "ETag": {"description": "Hash of the body.", "required": True, **_STRING},
    "Cache-Control": {"description": "public, max-age=HEATMAP_API_MAX_AGE.", **_STRING},
}
NOT_MODIFIED = {"description": "Not modified: the If-None-Match ETag is current.",
                "headers": CACHE_HEADERS}  # fmt: skip
RATE_LIMITED = _json(
    "Rate limit exceeded (only when HEATMAP_RATE_LIMIT is set).",
    "Error",
    {"Retry-After": {"description": "Seconds to wait.", "required": True, **_STRING}},
)
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier response; 304 if it is still current.",
    "schema": {"type": "string"},
}
SYMBOL = {
    "name": "symbol",
    "in": "path",
    "required": True,
    "description": "A tracked contract or a coin as a person types it: BTCUSDT, btcusdt, btc, "
    "pepe (-> 1000PEPEUSDT), PEPE/USDT.",
    "schema": {"type": "string", "minLength": 1},
    "example": "BTCUSDT",
}


def _heatmap_operation(summary: str, schema: str, params: tuple[NumberParam, ...]) -> dict:
    return {
        "summary": summary,
        "parameters": [SYMBOL, *(p.openapi() for p in params), IF_NONE_MATCH],
        "responses": {
            "200": _json(summary, schema, CACHE_HEADERS),
            "304": NOT_MODIFIED,
            "400": _json("A parameter is invalid; the error says what is allowed.", "Error"),
            "404": _json("Unknown symbol.", "Error"),
            "429": RATE_LIMITED,
        },
    }


def _paths() -> dict[str, Any]:
    return {
        "/api/symbols": {"get": {
            "summary": "Tracked contracts",
            "parameters": [IF_NONE_MATCH],
            "responses": {"200": _json("Tracked contracts.", "Symbols", CACHE_HEADERS),
                          "304": NOT_MODIFIED, "429": RATE_LIMITED},
        }},
        "/api/heatmap/{symbol}": {"get": _heatmap_operation(
            "Liquidation clusters of a symbol", "Heatmap", HEATMAP_PARAMS)},
        "/api/heatmap/{symbol}/best": {"get": _heatmap_operation(
            "The best cluster for trading", "Best", BEST_PARAMS)},
        "/api/stats": {"get": {
            "summary": "Overall statistics",
            "responses": {"200": _json("Feed, engine and cluster statistics.", "Stats"),
                          "429": RATE_LIMITED},
        }},
        "/api/health": {"get": {
            "summary": "Health for load balancers and watchdogs (never rate limited)",
            "responses": {"200": _json("The feed is live and recent.", "Health"),
                          "503": _json("The feed is not live, or silent; error says why.",
                                       "HealthError")},
        }},
    }  # fmt: skip


@cache
def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.0 document; deterministic, built once per process."""
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1.0.0", "description": DESCRIPTION},
        "paths": _paths(),
        "components": {"schemas": COMPONENTS},
    }


@cache
def _spec_body() -> bytes:
    return dumps(build_spec())


def openapi_json() -> Response:
    return raw_response(_spec_body(), 200, {"Cache-Control": "public, max-age=300"})


def register_docs(server: Flask, api: Blueprint) -> None:
    """``/api/openapi.json`` on the API blueprint; Swagger UI at ``/docs/``."""
    api.add_url_rule(SPEC_PATH, view_func=openapi_json)
    ui = get_swaggerui_blueprint(
        DOCS_PATH, SPEC_PATH, config={"app_name": TITLE}, blueprint_name=DOCS_BLUEPRINT
    )
    server.register_blueprint(ui)
