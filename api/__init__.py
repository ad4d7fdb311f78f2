"""The JSON API: a Flask blueprint on the Dash app's server (see ``register_api``)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from api.caching import BodyCache, make_cache
from api.cors import install_cors
from api.envelope import register_error_handler
from api.openapi import register_docs
from api.ratelimit import install_limiter
from api.routes import API_BLUEPRINT, EXTENSION, ApiContext, create_blueprint, reject_foreign_routes
from api.settings import ApiSettings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.service import HeatmapService

__all__ = ["ApiSettings", "register_api"]


def register_api(
    server: Flask,
    service: HeatmapService,
    settings: ApiSettings | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
) -> ApiContext:
    """Routes, docs, the error envelope, CORS, rate limit and the body cache on ``server``."""
    settings = settings or ApiSettings.from_env()
    cache = make_cache(server, settings.api_cache_size, settings.api_cache_timeout)
    context = ApiContext(service, settings, BodyCache(cache, settings.api_max_age), clock_ms)
    server.extensions[EXTENSION] = context
    blueprint = create_blueprint()
    register_docs(server, blueprint)
    register_error_handler(server, blueprint)
    install_limiter(server, blueprint, settings, exempt_endpoints=(f"{API_BLUEPRINT}.health",))
    server.register_blueprint(blueprint)
    server.before_request(reject_foreign_routes)
    install_cors(server, settings)
    return context
