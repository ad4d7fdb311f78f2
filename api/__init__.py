"""The JSON API: one module per resource (``api.resources``), mounted as a Flask blueprint on the
Dash app's server by ``register_api``, with the shared pieces once each: the envelope and errors,
query validation, times, symbol resolution, caching, the rate limit, CORS and the spec."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from api.caching import BodyCache, make_cache
from api.context import EXTENSION, ApiContext
from api.cors import install_cors
from api.errors import install_guards
from api.operations import API_BLUEPRINT, Resource, build_blueprint, unlimited_endpoints
from api.public_status import PublicStatus
from api.ratelimit import install_limiter
from api.resources import candles, heatmap, levels, liquidations, meta, open_interest
from api.secret import SecretKey
from api.settings import ApiSettings
from api.spec import DOCS_BLUEPRINT, register_docs
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.service import HeatmapService

__all__ = ["RESOURCES", "ApiSettings", "register_api"]

# Every resource the API serves (and documents); a new one is a module and a line here.
RESOURCES: tuple[Resource, ...] = (
    heatmap.RESOURCE,
    liquidations.RESOURCE,
    candles.RESOURCE,
    open_interest.RESOURCE,
    levels.RESOURCE,
    meta.RESOURCE,
)


def register_api(
    server: Flask,
    service: HeatmapService,
    settings: ApiSettings | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
) -> ApiContext:
    """Routes, docs, the error envelope, CORS, rate limit and the body cache on ``server``."""
    settings = settings or ApiSettings.from_env()
    cache = make_cache(server, settings.api_cache_size, settings.api_cache_timeout)
    context = ApiContext(
        service, settings, BodyCache(cache, settings.api_max_age), clock_ms,
        SecretKey(settings.secret_key, service.settings.data_dir),
        PublicStatus(settings.stats_details),
    )  # fmt: skip
    server.extensions[EXTENSION] = context
    blueprint = build_blueprint(RESOURCES)
    register_docs(server)
    install_guards(server, (API_BLUEPRINT, DOCS_BLUEPRINT))
    install_limiter(server, blueprint, settings, exempt_endpoints=unlimited_endpoints(RESOURCES))
    server.register_blueprint(blueprint)
    install_cors(server, settings)
    return context
