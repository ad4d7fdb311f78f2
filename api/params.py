"""Query parameters: defined once, used both to validate requests and to write the OpenAPI spec.

A parameter's default, bounds and description live only here, so the documentation cannot
promise a range the server does not enforce (and the reverse). The kinds: ``NumberParam``,
``IntParam``, ``ChoiceParam`` and ``TimeParam`` (in ``api.time_params``); the history routes'
parameters are defined in ``api.history_params``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from api.envelope import ApiError
from heatmap_engine.best import (
    BEST_DEFAULT_MIN_STRENGTH,
    DEFAULT_MAX_DISTANCE_PCT,
    DEFAULT_MIN_STRENGTH,
)


class Param(Protocol):
    name: str

    def parse(self, args: Mapping[str, str]) -> Any: ...
    def openapi(self) -> dict[str, Any]: ...


def query_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI query-parameter object (every parameter of this API is optional)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


# A plain decimal number: Python's float() would also take "inf", "nan", "1_0" and spaces.
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class NumberParam:
    name: str
    default: float
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    def allowed(self) -> str:
        low_op = ">" if self.exclusive_minimum else ">="
        low = "" if self.minimum is None else f"{low_op} {self.minimum:g}"
        high = "" if self.maximum is None else f"<= {self.maximum:g}"
        return "a number " + " and ".join(p for p in (low, high) if p)

    def parse(self, args: Mapping[str, str]) -> float:
        raw = args.get(self.name)
        if raw is None:
            return self.default
        value = float(raw) if _DECIMAL.match(raw) else math.nan
        if not math.isfinite(value):
            raise ApiError(400, f"{self.name}={raw!r} is not {self.allowed()}")
        too_low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            raise ApiError(400, f"{self.name}={raw!r} is out of range; allowed: {self.allowed()}")
        return value + 0.0  # -0.0 -> 0.0, so equal filters share one cache entry

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number", "default": self.default}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
            if self.exclusive_minimum:
                schema["exclusiveMinimum"] = True
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        description = f"{self.description} Allowed: {self.allowed()}; default {self.default:g}."
        return query_param(self.name, description, schema)


_INTEGER = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class IntParam:
    """A whole number in [minimum, maximum], written as plain digits."""

    name: str
    default: int
    description: str
    minimum: int
    maximum: int

    def allowed(self) -> str:
        return f"a whole number >= {self.minimum} and <= {self.maximum}"

    def parse(self, args: Mapping[str, str]) -> int:
        raw = args.get(self.name)
        if raw is None:
            return self.default
        if not _INTEGER.fullmatch(raw):
            raise ApiError(400, f"{self.name}={raw!r} is not {self.allowed()}")
        value = int(raw)
        if not self.minimum <= value <= self.maximum:
            raise ApiError(400, f"{self.name}={raw!r} is out of range; allowed: {self.allowed()}")
        return value

    def openapi(self) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum,
                  "default": self.default}  # fmt: skip
        description = f"{self.description} Allowed: {self.allowed()}; default {self.default}."
        return query_param(self.name, description, schema)


@dataclass(frozen=True, slots=True)
class ChoiceParam:
    """One of a fixed set of words (exact spelling); ``default`` None means "not given"."""

    name: str
    choices: Sequence[str]
    default: str | None
    description: str

    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def parse(self, args: Mapping[str, str]) -> str | None:
        raw = args.get(self.name)
        if raw is None:
            return self.default
        if raw not in self.choices:
            raise ApiError(400, f"{self.name}={raw!r} is not allowed; allowed: {self.allowed()}")
        return raw

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "enum": list(self.choices)}
        description = f"{self.description} Allowed: {self.allowed()}"
        if self.default is not None:
            schema["default"] = self.default
            description += f"; default {self.default}"
        return query_param(self.name, description + ".", schema)


MIN_STRENGTH = NumberParam(
    "min_strength",
    DEFAULT_MIN_STRENGTH,
    "Keep clusters whose strength (0-1; the symbol's strongest cluster is 1) is at least this.",
    minimum=0.0,
    maximum=1.0,
)
BEST_MIN_STRENGTH = NumberParam(
    "min_strength",
    BEST_DEFAULT_MIN_STRENGTH,
    "Only clusters at least this strong can be the best one.",
    minimum=0.0,
    maximum=1.0,
)
MAX_DISTANCE = NumberParam(
    "max_distance",
    DEFAULT_MAX_DISTANCE_PCT,
    "Keep clusters within this distance of the current price, in percent. While no price is "
    "known a cluster's distance is unknown and this filter keeps it.",
    minimum=0.0,
    exclusive_minimum=True,
)
BEST_MAX_DISTANCE = NumberParam(
    "max_distance",
    DEFAULT_MAX_DISTANCE_PCT,
    "Only clusters within this distance of the current price, in percent, can be the best one.",
    minimum=0.0,
    exclusive_minimum=True,
)

HEATMAP_PARAMS: tuple[NumberParam, ...] = (MIN_STRENGTH, MAX_DISTANCE)
BEST_PARAMS: tuple[NumberParam, ...] = (BEST_MIN_STRENGTH, BEST_MAX_DISTANCE)


def parse_all(params: Sequence[Param], args: Mapping[str, str]) -> dict[str, Any]:
    return {p.name: p.parse(args) for p in params}
