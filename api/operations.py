"""How a resource module declares its routes: each ``Operation`` is a rule, a view, its ``Query``
model and its documented replies; a ``Resource`` is one module's operations.

``build_blueprint`` mounts every operation (symbol resolved first, then the query validated,
then the view called with both) and ``api.spec`` documents the same declarations, so a route and
its documentation are one object. A new resource is one module with a ``RESOURCE`` and one line
in ``api.RESOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel

from api.context import ApiContext, current_context, resolve_symbol
from api.errors import handle_error
from api.query import Query, parse_query

API_BLUEPRINT = "api"


class NoQuery(Query):
    """A route without parameters (anything given is ignored, unless repeated)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented answer: a description, the JSON body's model (None: no body) and headers;
    ``csv`` describes a ``text/csv`` alternative body."""

    description: str
    model: type[BaseModel] | None = None
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    csv: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One GET route. ``view(ctx, query, **path)``; a ``<symbol>`` in the rule arrives resolved
    to its contract (an unknown one is a 404 before the query is read)."""

    rule: str
    view: Callable[..., Response]
    summary: str
    replies: Mapping[int, Reply]
    query: type[Query] = NoQuery
    rate_limited: bool = True
    documented: bool = True
    revalidates: bool = False  # documents If-None-Match (a 304 reply)

    @property
    def endpoint(self) -> str:
        return self.view.__name__


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    operations: tuple[Operation, ...]


def _mount(operation: Operation) -> Callable[..., Response]:
    view, model = operation.view, operation.query

    def endpoint(**path: str) -> Response:
        ctx: ApiContext = current_context()
        if "symbol" in path:
            path["symbol"] = resolve_symbol(ctx, path["symbol"])
        return view(ctx, parse_query(model, request.args), **path)

    endpoint.__name__ = operation.endpoint
    endpoint.__doc__ = view.__doc__
    return endpoint


def build_blueprint(resources: tuple[Resource, ...]) -> Blueprint:
    """A fresh blueprint of every operation (Flask forbids changing one after registering it)."""
    blueprint = Blueprint(API_BLUEPRINT, __name__)
    for resource in resources:
        for operation in resource.operations:
            blueprint.add_url_rule(
                operation.rule, endpoint=operation.endpoint, view_func=_mount(operation)
            )
    blueprint.register_error_handler(Exception, handle_error)
    return blueprint


def unlimited_endpoints(resources: tuple[Resource, ...]) -> tuple[str, ...]:
    return tuple(
        f"{API_BLUEPRINT}.{op.endpoint}"
        for resource in resources
        for op in resource.operations
        if not op.rate_limited
    )
