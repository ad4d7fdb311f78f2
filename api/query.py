"""Query parameters declared once, as pydantic models: validation here, the spec in ``api.spec``.

A route's parameters are one ``Query`` subclass. Each field states its kind by its type, its
bounds by ``Field(ge=, le=, gt=)`` and its default, and pydantic enforces exactly that; the spec
is generated from the same model, so it cannot promise a range the server does not enforce (and
the reverse). ``parse_query`` turns a failed validation into the one error message per kind:

* ``Number`` (a plain ASCII decimal, finite): ``min_strength='2' is out of range; allowed: a
  number >= 0 and <= 1``; ``WholeNumber`` (ASCII digits); a ``Literal`` choice (exact spelling):
  ``side='both' is not allowed; allowed: one of long, short``;
* kinds with their own grammar (``api.times.Time``, the liquidations cursor) raise
  ``PydanticCustomError`` with the message after ``name=value``.

A parameter given twice is a 400 naming it (never "the first one wins"); parameters a route does
not know are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import MultiDict

from api.envelope import ApiError

# ASCII only: Python's float() and int() also take other scripts' digits, "inf", "1_0", spaces.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]{1,10}")
NOT_OF_KIND = "not_of_kind"  # the error type of a value that is not a number / whole number
OWN_MESSAGE = "own_message"  # the error type of kinds that say themselves what was wrong
_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _decimal(raw: Any) -> Any:
    if isinstance(raw, str):
        value = float(raw) if _DECIMAL.fullmatch(raw) else math.nan
        if not math.isfinite(value):
            raise PydanticCustomError(NOT_OF_KIND, "not a finite decimal number")
        return value
    return raw


def _whole(raw: Any) -> Any:
    if isinstance(raw, str):
        if not _DIGITS.fullmatch(raw):
            raise PydanticCustomError(NOT_OF_KIND, "not ASCII digits")
        return int(raw)
    return raw


Number = Annotated[float, BeforeValidator(_decimal), AfterValidator(lambda v: v + 0.0)]
"""A plain decimal number (``-0`` reads as ``0``, so equal filters share one cache entry)."""
WholeNumber = Annotated[int, BeforeValidator(_whole)]


class Query(BaseModel):
    """Base of every route's parameters: immutable, unknown parameters ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Q = TypeVar("Q", bound=Query)


_BOUND_WORDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _bounds(field: FieldInfo) -> str:
    parts = []
    for bound in field.metadata:
        for attribute, word in _BOUND_WORDS:
            if isinstance(getattr(bound, attribute, None), int | float):
                parts.append(f"{word} {getattr(bound, attribute):g}")
    return " and ".join(parts)


def allowed(field: FieldInfo) -> str:
    """What a field takes, in the words of the error messages and the parameter docs."""
    choices = _choices(field.annotation)
    if choices:
        return "one of " + ", ".join(choices)
    kind = "a whole number" if _is_int(field.annotation) else "a number"
    bounds = _bounds(field)
    return f"{kind} {bounds}" if bounds else kind


def _choices(annotation: Any) -> tuple[str, ...]:
    """The words of a ``Literal[...]`` field (also inside ``Literal[...] | None``)."""
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) is Literal:
            return get_args(arg)
    return ()


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in get_args(annotation)


def _message(model: type[Query], error: Mapping[str, Any], args: Mapping[str, str]) -> str:
    name = str(error["loc"][0])
    field = model.model_fields[name]
    raw = args.get(name, "")
    shown = raw if len(raw) <= 80 else raw[:80] + "..."
    head = f"{name}={shown!r}"
    kind = error["type"]
    if kind in _BOUNDS:
        return f"{head} is out of range; allowed: {allowed(field)}"
    if kind == "literal_error":
        return f"{head} is not allowed; allowed: {allowed(field)}"
    if kind == OWN_MESSAGE:
        return f"{head} {error['msg']}"
    return f"{head} is not {allowed(field)}"


def repeated_parameter(model: type[Query], args: MultiDict[str, str]) -> str | None:
    """The first of ``model``'s parameters given more than once, or None."""
    for name, values in args.lists():
        if len(values) > 1 and name in model.model_fields:
            return name
    return None


def parse_query(model: type[Q], args: MultiDict[str, str]) -> Q:
    """The validated parameters of a request, or a 400 saying what was wrong and what is allowed."""
    name = repeated_parameter(model, args)
    if name is not None:
        raise ApiError(
            400,
            f"parameter {name!r} is given {len(args.getlist(name))} times; give it once",
        )
    values = args.to_dict()
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ApiError(400, _message(model, first, values)) from None
