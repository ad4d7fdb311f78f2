"""The OpenAPI document: valid, complete, served, and in step with the routes and the docs."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from api.cursor import CURSOR
from api.history_params import AT, CANDLE_PARAMS, LIQUIDATION_PARAMS, OI_PARAMS
from api.openapi import SPEC_PATH
from api.params import BEST_PARAMS, HEATMAP_PARAMS
from api.schemas import SEED_CLUSTER_FIELDS
from api.settings import ApiSettings
from heatmap_engine.best import BEST_DEFINITION

DOCS = Path(__file__).resolve().parents[2] / "README.md"


def _flask_path(openapi_path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"<\1>", openapi_path)


def test_spec_is_valid_openapi_3(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_served_spec_is_the_built_spec(client, spec):
    response = client.get(SPEC_PATH)
    assert response.status_code == 200 and response.get_json() == spec


def test_every_api_route_is_documented_and_every_documented_path_exists(client, spec):
    rules = {
        r.rule for r in client.application.url_map.iter_rules() if r.endpoint.startswith("api.")
    }
    documented = {_flask_path(p) for p in spec["paths"]}
    assert rules - {SPEC_PATH} == documented


def test_seed_fields_are_required(spec):
    schemas = spec["components"]["schemas"]
    assert set(SEED_CLUSTER_FIELDS) <= set(schemas["Cluster"]["required"])
    assert len(SEED_CLUSTER_FIELDS) == 8
    heatmap = {"success", "symbol", "current_price", "clusters", "timestamp", "total_clusters"}
    assert heatmap <= set(schemas["Heatmap"]["required"])
    assert {"success", "symbols", "count"} <= set(schemas["Symbols"]["required"])
    assert {"success", "best"} <= set(schemas["Best"]["required"])


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/heatmap/{symbol}", HEATMAP_PARAMS), ("/api/heatmap/{symbol}/best", BEST_PARAMS)],
)
def test_parameters_are_the_validators_own(spec, path, params):
    documented = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
    for param in params:
        schema = documented[param.name]["schema"]
        assert schema["default"] == param.default
        assert schema.get("minimum") == param.minimum
        assert schema.get("maximum") == param.maximum


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/heatmap/{symbol}", (*HEATMAP_PARAMS, AT)),
        ("/api/heatmap/{symbol}/best", BEST_PARAMS),
        ("/api/liquidations/{symbol}", (*LIQUIDATION_PARAMS, CURSOR)),
        ("/api/candles/{symbol}", CANDLE_PARAMS),
        ("/api/open-interest/{symbol}", OI_PARAMS),
    ],
)
def test_query_parameters_are_exactly_the_validators(spec, path, params):
    documented = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]
                  if p["in"] == "query"}  # fmt: skip
    assert documented == {p.name: p.openapi() for p in params}


def test_docs_page_is_served_from_this_server(client):
    page = client.get("/docs/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [a for a in assets if "//" in a]  # no CDN, no other host
    for asset in assets:
        with client.get(asset) as response:  # a file response: close it
            assert response.status_code == 200, asset
    assert SPEC_PATH in html
    assert client.get("/docs").status_code in (301, 308)  # -> /docs/


def test_docs_api_md_states_best_every_endpoint_and_every_setting(spec):
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert BEST_DEFINITION in text
    for path in [*spec["paths"], SPEC_PATH, "/docs"]:
        assert path.replace("{symbol}", "") in text.replace("{symbol}", ""), path
    for field in fields(ApiSettings):
        assert f"HEATMAP_{field.name.upper()}" in text
