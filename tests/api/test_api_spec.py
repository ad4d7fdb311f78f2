"""The OpenAPI document: valid, complete, served, and in step with the routes and the docs."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from werkzeug.datastructures import MultiDict

from api.envelope import ApiError
from api.query import parse_query
from api.resources.candles import CandlesQuery
from api.resources.heatmap import SEED_CLUSTER_FIELDS, BestQuery, HeatmapQuery
from api.resources.liquidations import LiquidationsQuery
from api.resources.open_interest import OpenInterestQuery
from api.settings import ApiSettings
from api.spec import SPEC_PATH, TITLE
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


QUERIES = [
    ("/api/heatmap/{symbol}", HeatmapQuery),
    ("/api/heatmap/{symbol}/best", BestQuery),
    ("/api/liquidations/{symbol}", LiquidationsQuery),
    ("/api/candles/{symbol}", CandlesQuery),
    ("/api/open-interest/{symbol}", OpenInterestQuery),
]


def _documented(spec, path: str) -> dict[str, dict]:
    return {p["name"]: p for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize(("path", "model"), QUERIES)
def test_query_parameters_are_exactly_the_validators(spec, path, model):
    """Same names in the same order, the model's defaults, and bounds the validator enforces:
    a value just past a documented bound is refused, the bound itself accepted."""
    documented = _documented(spec, path)
    assert list(documented) == list(model.model_fields)
    for name, parameter in documented.items():
        schema, default = parameter["schema"], model.model_fields[name].default
        assert schema.get("default") == default
        assert "Allowed:" in parameter["description"] or "pattern" in schema, name
        for bound, step in (("minimum", -1e-9), ("maximum", 1e-9)):
            if bound not in schema:
                continue
            edge = schema[bound]
            exclusive = bound == "minimum" and schema.get("exclusiveMinimum") is True
            with pytest.raises(ApiError):
                parse_query(model, MultiDict({name: repr(edge + (step if schema["type"] ==
                            "number" else step * 1e9))}))  # fmt: skip
            if not exclusive:
                parse_query(model, MultiDict({name: str(edge)}))


def test_the_docs_title_is_plain_ascii(spec):
    """Fonts without "Ⓢ" show the title too; the description keeps the proper name."""
    assert spec["info"]["title"] == TITLE and TITLE.isascii()
    assert "USDⓈ-M" in spec["info"]["description"]


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
