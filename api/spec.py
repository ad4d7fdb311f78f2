"""The OpenAPI 3.0 document, built by apispec from the operations and pydantic models the server
itself uses, served at ``/api/openapi.json``; Swagger UI at ``/docs``.

pydantic writes JSON Schema 2020-12; ``openapi30`` rewrites the few keywords OpenAPI 3.0 spells
differently (``anyOf [X, null]`` -> ``nullable``, ``const`` -> ``enum``, numeric
``exclusiveMinimum`` -> ``minimum`` + ``true``, ``examples`` -> ``example``) and drops titles.
A query model becomes one parameter per field, its description ending with what is allowed and
the default (``api.query.allowed``: the words of the error messages).

``/docs`` is Swagger UI from the ``flask-swagger-ui`` package, which ships the Swagger UI
distribution inside the wheel: every asset is served by this server, no CDN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from flask import Flask
from flask_swagger_ui import get_swaggerui_blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.operations import Operation, Reply, Resource
from api.query import Query, allowed
from api.schemas import SIZE_REPLIES
from heatmap_engine.best import BEST_DEFINITION

SPEC_PATH = "/api/openapi.json"
DOCS_PATH = "/docs"
DOCS_BLUEPRINT = "api_docs"
OPENAPI_VERSION = "3.0.3"
# ASCII: the page title is shown in fonts that lack "Ⓢ" (the description keeps the proper name)
TITLE = "Liquidation heatmap API (Binance USDS-M futures)"
REF = "#/components/schemas/{model}"
_NULL = {"type": "null"}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier response; 304 if it is still current.",
    "schema": {"type": "string"},
}
DESCRIPTION = f"""Realized-liquidation clusters of Binance USDⓈ-M perpetual futures.

Every body is JSON with `success`; errors are `{{"success": false, "error": "..."}}`.
Times are ISO 8601 in UTC with an explicit offset. Heatmap bodies carry `ETag` and
`Cache-Control`; send `If-None-Match` to get `304 Not Modified` while nothing changed.
A parameter given twice is a 400.

**Best cluster.** {BEST_DEFINITION}

**History.** Liquidations, 1-minute candles (longer ones aggregated from them) and open interest
are kept in the server's store; `/api/heatmap/{{symbol}}?at=` recomputes the heatmap of a past
time from it. Times are ISO 8601 (no offset = UTC) or epoch milliseconds; ranges are
`[start, end)`, `end` defaulting to now and `start` to `end` - 24 hours. Pages are bounded by
`limit`: liquidations continue with `cursor`, candles and open interest with `start=next_start`.
While the server keeps no history (HEATMAP_HISTORY=0) these answer 503.
"""
SYMBOL = {
    "name": "symbol",
    "in": "path",
    "required": True,
    "description": "A tracked contract or a coin as a person types it: BTCUSDT, btcusdt, btc, "
    "pepe (-> 1000PEPEUSDT), PEPE/USDT.",
    "schema": {"type": "string", "minLength": 1},
    "example": "BTCUSDT",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.pop("anyOf")
    (other,) = [s for s in options if s != _NULL]
    inner = {"allOf": [other]} if "$ref" in other else other
    return {**inner, **schema, "nullable": True}


def openapi30(schema: Any, keep_defaults: bool = False) -> Any:
    """A pydantic JSON Schema (nested) in the OpenAPI 3.0 dialect."""
    if isinstance(schema, list):
        return [openapi30(item, keep_defaults) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "title" and (keep_defaults or k != "default")}
    if _NULL in out.get("anyOf", ()):
        out = _nullable(out) if len(out["anyOf"]) == 2 else out
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if not isinstance(out.get(bound, True), bool):
            out[limit], out[bound] = out[bound], True
    if "examples" in out:
        out["example"] = out.pop("examples")[0]
    for key in ("properties", "$defs"):
        if key in out:
            out[key] = {name: openapi30(s, keep_defaults) for name, s in out[key].items()}
    for key, value in out.items():
        if key not in ("properties", "$defs", "enum", "example", "default"):
            out[key] = openapi30(value, keep_defaults)
    return out


def _default(value: Any) -> str:
    if value is None:
        return ""
    return f"; default {value:g}" if isinstance(value, float) else f"; default {value}"


def query_parameters(model: type[Query]) -> list[dict[str, Any]]:
    """One OpenAPI query parameter per field of ``model`` (all optional)."""
    properties = openapi30(model.model_json_schema(), keep_defaults=True).get("properties", {})
    parameters = []
    for name, schema in properties.items():
        field = model.model_fields[name]
        description = schema.pop("description", "")
        if "Allowed:" not in description and "pattern" not in schema:
            description = f"{description} Allowed: {allowed(field)}{_default(field.default)}."
        schema.pop("nullable", None)  # an absent parameter is not a null one
        if schema.get("default", 0) is None:
            del schema["default"]
        parameter = {"name": name, "in": "query", "required": False,
                     "description": description, "schema": schema}  # fmt: skip
        if "example" in schema:
            parameter["example"] = schema.pop("example")
        parameters.append(parameter)
    return parameters


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.model is not None:
        ref = {"$ref": REF.format(model=reply.model.__name__)}
        out["content"] = {"application/json": {"schema": ref}}
    if reply.csv is not None:
        out["content"]["text/csv"] = {"schema": {"type": "string", "description": reply.csv}}
    if reply.headers:
        out["headers"] = {name: dict(header) for name, header in reply.headers.items()}
    return out


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [SYMBOL] if "<symbol>" in operation.rule else []
    parameters += query_parameters(operation.query)
    if operation.revalidates:
        parameters.append(IF_NONE_MATCH)
    documented = sorted({**SIZE_REPLIES, **operation.replies}.items())
    replies = {str(status): _reply(reply) for status, reply in documented}
    out: dict[str, Any] = {"summary": operation.summary, "responses": replies}
    return {**out, "parameters": parameters} if parameters else out


def _models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    found = {r.model for op in operations for r in op.replies.values() if r.model is not None}
    return sorted(found, key=lambda m: m.__name__)


def build_spec(resources: tuple[Resource, ...]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``resources``' documented operations; deterministic."""
    operations = [op for r in resources for op in r.operations if op.documented]
    spec = APISpec(TITLE, "1.0.0", OPENAPI_VERSION, info={"description": DESCRIPTION})
    _, schemas = models_json_schema(
        [(m, "serialization") for m in _models(operations)], ref_template=REF
    )
    for name, schema in sorted(schemas.get("$defs", {}).items()):
        spec.components.schema(name, openapi30(schema))
    for operation in operations:
        path = operation.rule.replace("<", "{").replace(">", "}")
        spec.path(path=path, operations={"get": _operation(operation)})
    return spec.to_dict()


def register_docs(server: Flask) -> None:
    """Swagger UI at ``/docs/``, reading ``/api/openapi.json``."""
    ui = get_swaggerui_blueprint(
        DOCS_PATH, SPEC_PATH, config={"app_name": TITLE}, blueprint_name=DOCS_BLUEPRINT
    )
    server.register_blueprint(ui)
