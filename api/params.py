"""Query parameters: defined once, used both to validate requests and to write the OpenAPI spec.

A parameter's default, bounds and description live only here, so the documentation cannot
promise a range the server does not enforce (and the reverse).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.envelope import ApiError

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
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": (
                f"{self.description} Allowed: {self.allowed()}; default {self.default:g}."
            ),
            "schema": schema,
        }


MIN_STRENGTH = NumberParam(
    "min_strength",
    0.0,
    "Keep clusters whose strength (0-1; the symbol's strongest cluster is 1) is at least this.",
    minimum=0.0,
    maximum=1.0,
)
BEST_MIN_STRENGTH = NumberParam(
    "min_strength",
    0.6,
    "Only clusters at least this strong can be the best one.",
    minimum=0.0,
    maximum=1.0,
)
MAX_DISTANCE = NumberParam(
    "max_distance",
    10.0,
    "Keep clusters within this distance of the current price, in percent. While no price is "
    "known a cluster's distance is unknown and this filter keeps it.",
    minimum=0.0,
    exclusive_minimum=True,
)
BEST_MAX_DISTANCE = NumberParam(
    "max_distance",
    10.0,
    "Only clusters within this distance of the current price, in percent, can be the best one.",
    minimum=0.0,
    exclusive_minimum=True,
)

HEATMAP_PARAMS: tuple[NumberParam, ...] = (MIN_STRENGTH, MAX_DISTANCE)
BEST_PARAMS: tuple[NumberParam, ...] = (BEST_MIN_STRENGTH, BEST_MAX_DISTANCE)


def parse_all(params: tuple[NumberParam, ...], args: Mapping[str, str]) -> dict[str, float]:
    return {p.name: p.parse(args) for p in params}
