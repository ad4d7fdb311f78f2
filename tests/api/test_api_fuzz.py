"""Schemathesis fuzzes the whole API against its own OpenAPI spec with every check it has: no
server error, every response (status, headers, body) as documented, invalid input rejected and
valid input accepted (no ST202: the spec's patterns say exactly what the server takes)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
)

from api.envelope import ApiError
from api.spec import SPEC_PATH
from api.times import parse_time

api_schema = schemathesis.pytest.from_fixture("fuzz_schema")
# The app's own size limits (documented 414 and 431 on every operation) refuse a request whose
# target or headers are too large, whether its parameters are valid or not: both are a correct
# answer to a valid request and to an invalid one. Every other expected status is schemathesis'
# default; every check stays on.
_SIZE_LIMITS = ["414", "431"]
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, *_SIZE_LIMITS]
            },
            "positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, *_SIZE_LIMITS]
            },
        }
    }
)


def _ms(value: object) -> int | None:
    try:
        return parse_time("t", str(value))
    except ApiError:
        return None


def keep_cross_field_rules(query: dict, now_ms: int, cursor: str) -> dict:
    """What no schema can state, made true of a schema-valid query (a fuzzer's "valid" query must
    be one a correct client could send): start before end (end defaults to now), ``at`` not in
    the future, and a cursor this server issued, alone with the parameters it does not pin.
    Without this, valid data is rightly refused (400) and schemathesis reports ST202."""
    query = dict(query)
    if "cursor" in query:
        return {k: v for k, v in {**query, "cursor": cursor}.items()
                if k in ("cursor", "limit", "format")}  # fmt: skip
    start, end = _ms(query.get("start")), _ms(query.get("end"))
    if start is not None and start >= (now_ms if end is None else end):
        if end is not None and end != start:
            query["start"], query["end"] = query["end"], query["start"]
        else:
            del query["start"]
    at = _ms(query.get("at"))
    if at is not None and at > now_ms:
        query["at"] = str(now_ms)
    return query


@pytest.fixture
def fuzz_schema(make_client, history_service, stored):
    """The recorded market behind a live-looking feed, so /api/health answers 200 (its 503 is
    pinned by the route tests), and a filled history store, so the history routes answer with
    data (their 503 while history is off is pinned by the route tests too): here every 5xx is a
    failure."""
    client = make_client(svc=history_service)
    first = client.get(f"/api/liquidations/BTCUSDT?limit=1&start={stored.past_ms - 3_600_000}")
    cursor = first.get_json()["next_cursor"]
    assert cursor is not None
    schema = schemathesis.openapi.from_wsgi(SPEC_PATH, client.application, config=FUZZ_CONFIG)

    @schema.hook("map_case")
    def valid_means_valid(ctx, case):
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or not case.query:
            return case
        case.query = keep_cross_field_rules(case.query, stored.now_ms, cursor)
        if "cursor" in case.query:
            case.path_parameters = {**(case.path_parameters or {}), "symbol": "BTCUSDT"}
        return case

    return schema


@api_schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_matches_its_spec_under_fuzzing(case):
    case.call_and_validate()  # every check, none excluded
