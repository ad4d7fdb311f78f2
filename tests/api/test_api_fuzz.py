"""Schemathesis fuzzes the whole API against its own OpenAPI spec: no server error, every
response (status, headers, body) as documented, invalid input rejected."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.openapi import SPEC_PATH

api_schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture
def fuzz_schema(make_client, live_service):
    """The recorded market behind a live-looking feed, so /api/health answers 200: its 503 is
    pinned by the route tests; here every 5xx is a failure."""
    client = make_client(svc=live_service)
    return schemathesis.openapi.from_wsgi(SPEC_PATH, client.application)


@api_schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_matches_its_spec_under_fuzzing(case):
    case.call_and_validate()
