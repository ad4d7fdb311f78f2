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

from api.cursor import CURSOR
from api.envelope import dumps, raw_response
from api.history_params import AT, CANDLE_PARAMS, LIQUIDATION_PARAMS, OI_PARAMS
from api.history_schemas import HISTORY_COMPONENTS
from api.params import BEST_PARAMS, HEATMAP_PARAMS, Param
from api.schemas import COMPONENTS
from heatmap_engine.best import BEST_DEFINITION

SPEC_PATH = "/api/openapi.json"
DOCS_PATH = "/docs"
TITLE = "Liquidation heatmap API"
DOCS_BLUEPRINT = "api_docs"

DESCRIPTION = f"""Realized-liquidation clusters of Binance USDⓈ-M perpetual futures.

Every body is JSON with `success`; errors are `{{"success": false, "error": "..."}}`.
Times are ISO 8601 in UTC with an explicit offset. Heatmap bodies carry `ETag` and
`Cache-Control`; send `If-None-Match` to get `304 Not Modified` while nothing changed.

**Best cluster.** {BEST_DEFINITION}

**History.** Liquidations, 1-minute candles (longer ones aggregated from them) and open interest
are kept in the server's store; `/api/heatmap/{{symbol}}?at=` recomputes the heatmap of a past
time from it. Times are ISO 8601 (no offset = UTC) or epoch milliseconds; ranges are
`[start, end)`, `end` defaulting to now and `start` to `end` - 24 hours. Pages are bounded by
`limit`: liquidations continue with `cursor`, candles and open interest with `start=next_start`.
While the server keeps no history (HEATMAP_HISTORY=0) these answer 503.
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
    "Cache-Control": {
        "description": "public, max-age=HEATMAP_API_MAX_AGE (no-cache for a "
        "past heatmap, requested with at).",
        **_STRING,
    },
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


BAD_PARAMETER = _json("A parameter is invalid; the error says what is allowed.", "Error")
UNKNOWN_SYMBOL = _json("Unknown symbol.", "Error")
HISTORY_OFF_RESPONSE = _json("The server keeps no history (HEATMAP_HISTORY=0).", "Error")
HISTORY_CACHE_HEADERS = {
    "ETag": {"description": "Hash of the body.", "required": True, **_STRING},
    "Cache-Control": {"description": "no-cache: revalidate with If-None-Match.", **_STRING},
}


def _heatmap_operation(
    summary: str, schema: str, params: tuple[Param, ...], history: bool = False
) -> dict:
    at = [AT.openapi()] if history else []
    responses = {
        "200": _json(summary, schema, CACHE_HEADERS),
        "304": NOT_MODIFIED,
        "400": BAD_PARAMETER,
        "404": UNKNOWN_SYMBOL,
        "429": RATE_LIMITED,
    }
    if history:
        responses["503"] = HISTORY_OFF_RESPONSE  # only with at
    return {
        "summary": summary,
        "parameters": [SYMBOL, *(p.openapi() for p in params), *at, IF_NONE_MATCH],
        "responses": responses,
    }


def _history_operation(
    summary: str, params: tuple[Param, ...], ok: dict[str, Any], extra: tuple = ()
) -> dict:
    """A read of the store: 200, 304, 400, 404, 429 and 503 while history is off."""
    return {"get": {
        "summary": summary,
        "parameters": [SYMBOL, *(p.openapi() for p in params), *extra, IF_NONE_MATCH],
        "responses": {"200": ok, "304": {**NOT_MODIFIED, "headers": HISTORY_CACHE_HEADERS},
                      "400": BAD_PARAMETER, "404": UNKNOWN_SYMBOL, "429": RATE_LIMITED,
                      "503": HISTORY_OFF_RESPONSE},
    }}  # fmt: skip


def _liquidations_ok() -> dict[str, Any]:
    ok = _json("A page of stored liquidations, oldest first.", "LiquidationPage",
               {**HISTORY_CACHE_HEADERS, "X-Next-Cursor": {
                   "description": "CSV only: the next page's cursor; absent on the last page.",
                   **_STRING}})  # fmt: skip
    ok["content"]["text/csv"] = {
        "schema": {"type": "string", "description": "A header row, then one row per "
                   "liquidation with the JSON records' fields in the same order."},
    }  # fmt: skip
    return ok


def _history_paths() -> dict[str, Any]:
    return {
        "/api/liquidations/{symbol}": _history_operation(
            "Stored liquidations of a symbol (JSON or CSV), paged",
            LIQUIDATION_PARAMS, _liquidations_ok(), (CURSOR.openapi(),)),
        "/api/candles/{symbol}": _history_operation(
            "Stored candles of a symbol, paged",
            CANDLE_PARAMS, _json("Candles, oldest first.", "Candles", HISTORY_CACHE_HEADERS)),
        "/api/open-interest/{symbol}": _history_operation(
            "Stored open interest of a symbol, paged",
            OI_PARAMS, _json("Samples, oldest first.", "OpenInterest", HISTORY_CACHE_HEADERS)),
    }  # fmt: skip


def _paths() -> dict[str, Any]:
    return {
        "/api/symbols": {"get": {
            "summary": "Tracked contracts",
            "parameters": [IF_NONE_MATCH],
            "responses": {"200": _json("Tracked contracts.", "Symbols", CACHE_HEADERS),
                          "304": NOT_MODIFIED, "429": RATE_LIMITED},
        }},
        "/api/heatmap/{symbol}": {"get": _heatmap_operation(
            "Liquidation clusters of a symbol, live or at a past time", "Heatmap",
            HEATMAP_PARAMS, history=True)},
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
        **_history_paths(),
    }  # fmt: skip


@cache
def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.0 document; deterministic, built once per process."""
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1.0.0", "description": DESCRIPTION},
        "paths": _paths(),
        "components": {"schemas": {**COMPONENTS, **HISTORY_COMPONENTS}},
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
