"""Schemathesis fuzzes the whole API against its own OpenAPI spec: no server error, every
response (status, headers, body) as documented, invalid input rejected."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from api.spec import SPEC_PATH

api_schema = schemathesis.pytest.from_fixture("fuzz_schema")

# Constraints no schema can state: start before end, at not in the future, a date that exists
# (2026-02-30 matches the pattern), a cursor this server issued. A schema-valid value of these
# may rightly get a 400, so "valid data is accepted" is not checked when one of them is sent;
# every other check (no 5xx, documented status, headers and body, invalid data rejected) is.
CROSS_CHECKED = frozenset({"start", "end", "at", "cursor"})


@pytest.fixture
def fuzz_schema(make_client, history_service):
    """The recorded market behind a live-looking feed, so /api/health answers 200 (its 503 is
    pinned by the route tests), and a filled history store, so the history routes answer with
    data (their 503 while history is off is pinned by the route tests too): here every 5xx is a
    failure."""
    client = make_client(svc=history_service)
    return schemathesis.openapi.from_wsgi(SPEC_PATH, client.application)


@api_schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_matches_its_spec_under_fuzzing(case):
    excluded = [positive_data_acceptance] if CROSS_CHECKED & set(case.query or {}) else []
    case.call_and_validate(excluded_checks=excluded)
