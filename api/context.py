"""What every view needs: the ``ApiContext`` on the app, the symbol resolver and the history store.

Everything lives in ``current_app.extensions["heatmap_api"]``, so the blueprint can be built for
any number of apps (tests build many).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from api.caching import BodyCache
from api.envelope import ApiError
from api.public_status import PublicStatus
from api.secret import SecretKey
from api.settings import ApiSettings
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.service import HeatmapService

EXTENSION = "heatmap_api"
HISTORY_OFF = (
    "history is not available on this server: it runs with HEATMAP_HISTORY=0 (or its engine "
    "is not running), so nothing is stored; only the live heatmap (without 'at') is served"
)


@dataclass(frozen=True, slots=True)
class ApiContext:
    service: HeatmapService
    api_settings: ApiSettings
    bodies: BodyCache
    clock_ms: Callable[[], int]
    secret: SecretKey  # signs what the API hands out to come back (cursors)
    public: PublicStatus  # the rule that makes a status tree public


def current_context() -> ApiContext:
    return current_app.extensions[EXTENSION]


def resolve_symbol(ctx: ApiContext, text: str) -> str:
    """The tracked contract ``text`` names (``pepe`` -> ``1000PEPEUSDT``), else a 404."""
    contract = ctx.service.resolver.resolve(text)
    if contract is None:
        raise ApiError(
            404,
            f"unknown symbol {text!r}: not a tracked contract; GET /api/symbols lists them "
            "(a coin name like 'pepe' or 'btc' also works)",
        )
    return contract


def history_store(ctx: ApiContext) -> SqliteStore:
    """The durable store, or a 503 saying history is off (``HEATMAP_HISTORY=0``)."""
    history = ctx.service.history
    if history is None:
        raise ApiError(503, HISTORY_OFF)
    return history.store
