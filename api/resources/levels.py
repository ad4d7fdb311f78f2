"""``/api/levels/{symbol}`` and ``.../map``: the estimated liquidation levels (the model of
``heatmap_engine.levels``, read through ``HeatmapService.levels``).

A body is serialised once per (route, symbol, parameters, data version): the data version is the
newest stored candle and open-interest reading of the symbol, so the same request between two
new bars is a cache hit (``api.caching``). Too little stored data for the range (a symbol the
store has nothing for, an ``at`` before anything stored) is a 404 that says what is missing; a
range that reaches past what is stored is answered with what is stored, and ``data_quality``
says how much of the range it covers.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, request
from pydantic import BaseModel, Field, RootModel

from api.context import ApiContext, history_store
from api.envelope import ApiError
from api.levels_payload import coinglass_payload, levels_payload, profile_payload
from api.operations import Operation, Reply, Resource
from api.query import Query
from api.schemas import ETAG, HISTORY_OFF, IsoTime, NonNegative, snapshot_replies
from api.times import Time, time_doc
from heatmap_engine.levels import PRESETS, RANGES_MS, LevelsInputError, LevelsResult
from heatmap_engine.levels.source import LIVE_NOTE
from heatmap_engine.models import iso_utc

Range = Literal[tuple(RANGES_MS)]  # type: ignore[valid-type]
Preset = Literal[PRESETS]  # type: ignore[valid-type]
_PRESET_DOC = (
    "Leverage tiers assumed: all (every tier of HEATMAP_LEVELS_TIERS), high (tiers at or above "
    "HEATMAP_LEVELS_HIGH_LEVERAGE_MIN), low (below it). Default: HEATMAP_LEVELS_PRESET (all)."
)
_RANGE_DOC = (
    "The range ending at `at` (or at the newest closed candle). 12h and 24h run on 1m bars, "
    "3d and 7d on 5m, 30d on 15m, 90d on 1h, 180d on 2h, 1y on 4h."
)
LEVELS_CACHE_HEADERS = {
    "ETag": ETAG,
    "Cache-Control": {
        "description": "public, max-age=HEATMAP_API_MAX_AGE.",
        "schema": {"type": "string"},
    },
}


class MapQuery(Query):
    range: Range = Field("24h", description=_RANGE_DOC)
    preset: Preset | None = Field(None, description=_PRESET_DOC)


class LevelsQuery(MapQuery):
    at: Time | None = Field(
        None,
        description=time_doc(
            "End of the range: the model as it stood then, from the history store, using "
            "nothing after it.",
            "the newest closed candle",
        ),
    )
    format: Literal["compact", "coinglass"] = Field(
        "compact",
        description="compact: the whole body; coinglass: only y_axis, liquidation_leverage_data "
        "and price_candlesticks inside Coinglass's own envelope (code, msg, data), so a script "
        "written for Coinglass's heatmap endpoint can switch by host.",
    )


class Tier(BaseModel):
    long_usd: NonNegative
    short_usd: NonNegative


class Bucket(BaseModel):
    price_low: float
    price_high: float
    long_usd: NonNegative = Field(description="Estimated long notional standing in the bucket.")
    short_usd: NonNegative = Field(description="Estimated short notional standing.")
    cumulative_long_usd: NonNegative | None = Field(
        description="Long notional between the price and this bucket (null above the price)."
    )
    cumulative_short_usd: NonNegative | None = Field(
        description="Short notional between the price and this bucket (null below the price)."
    )
    tiers: dict[str, Tier] = Field(description="The same per leverage tier (e.g. 25x).")


class Profile(BaseModel):
    price: float = Field(description="The close of the newest bar the profile has seen.")
    time: IsoTime
    time_ms: int
    long_usd: NonNegative
    short_usd: NonNegative
    unknown_levels: Tier = Field(description="Open interest the model cannot place yet.")
    buckets: list[Bucket] = Field(description="Ascending by price.")


class Prediction(BaseModel):
    time: IsoTime
    time_ms: int
    long_usd: NonNegative = Field(description="Estimated long notional liquidated in the bar.")
    short_usd: NonNegative
    provisional: bool = Field(description="After the last open-interest reading: may change.")


class DataQuality(BaseModel):
    range_start: IsoTime
    range_end: IsoTime
    candle_coverage: float = Field(ge=0, le=1, description="Share of the range with candles.")
    open_interest_coverage: float = Field(ge=0, le=1)
    notes: list[str] = Field(description="What the data could not tell, in plain words.")


class LevelsBody(BaseModel):
    success: Literal[True]
    symbol: str
    layer: Literal["estimated"]
    range: str
    at: IsoTime = Field(description="End of the range.")
    at_ms: int
    current_price: float
    y_axis: list[float] = Field(description="Middle price of each grid row (Coinglass).")
    liquidation_leverage_data: list[list[int]] = Field(
        description="[x_index, y_index, usd] of every grid cell of at least 1 USD (Coinglass): "
        "x indexes price_candlesticks, y indexes y_axis."
    )
    price_candlesticks: list[list[Any]] = Field(
        description="[time (epoch s), open, high, low, close, volume USD] (Coinglass)."
    )
    grid: dict[str, Any] = Field(description="The grid per side (long_usd, short_usd).")
    predicted_liquidations: list[Prediction]
    profile: Profile
    assumptions: dict[str, Any] = Field(description="Every assumption behind the numbers.")
    data_quality: DataQuality


class CoinglassData(BaseModel):
    y_axis: list[float]
    liquidation_leverage_data: list[list[int]]
    price_candlesticks: list[list[Any]]


class CoinglassBody(BaseModel):
    success: Literal[True]
    code: Literal["0"]
    msg: Literal["success"]
    data: CoinglassData


class LevelsReply(RootModel[LevelsBody | CoinglassBody]):
    """The whole body (format=compact), or Coinglass's heatmap body (format=coinglass)."""


class LevelsMap(BaseModel):
    success: Literal[True]
    symbol: str
    layer: Literal["estimated"]
    range: str
    preset: str
    source: str = Field(description="live (the service's incremental book) or history (a run).")
    profile: Profile
    assumptions: dict[str, Any]
    data_quality: DataQuality


def _replies(ok: Reply) -> dict[int, Reply]:
    replies = snapshot_replies(ok, history=True)
    replies[304] = Reply(replies[304].description, headers=LEVELS_CACHE_HEADERS)
    replies[404] = Reply("Unknown symbol, or too little stored data for the range.",
                         replies[404].model)  # fmt: skip
    replies[503] = HISTORY_OFF
    return replies


def _result(ctx: ApiContext, symbol: str, query: MapQuery, at_ms: int | None) -> LevelsResult:
    history_store(ctx)  # 503 while history is off
    source = ctx.service.levels
    preset = query.preset or source.settings.levels_preset
    try:
        return source.result(symbol, query.range, preset, at_ms)
    except LevelsInputError as exc:
        raise ApiError(404, f"no estimated levels for {symbol} ({query.range}): {exc}") from None


def _check_at(ctx: ApiContext, symbol: str, at_ms: int | None) -> None:
    now_ms = ctx.clock_ms()
    if at_ms is not None and at_ms > now_ms:
        raise ApiError(
            400,
            f"at={request.args.get('at')!r} is in the future (now is {iso_utc(now_ms)}); for the "
            f"levels of now leave at out: GET /api/levels/{symbol}",
        )


def _key(ctx: ApiContext, route: str, symbol: str, *parts: Any) -> str:
    history_store(ctx)
    version = ctx.service.levels.data_version(symbol)
    return ":".join(str(p) for p in (route, symbol, version, *parts))


def levels(ctx: ApiContext, query: LevelsQuery, symbol: str) -> Response:
    """The estimated levels of a range: the grid, predictions, profile, assumptions, quality."""
    _check_at(ctx, symbol, query.at)
    key = _key(ctx, "levels", symbol, query.range, query.preset, query.at, query.format)

    def build() -> dict[str, Any]:
        result = _result(ctx, symbol, query, query.at)
        if query.format == "coinglass":
            return {"success": True, **coinglass_payload(result)}
        return levels_payload(result)

    return ctx.bodies.respond(key, build)


def levels_map(ctx: ApiContext, query: MapQuery, symbol: str) -> Response:
    """The current profile per side and tier, with the cumulative curves."""
    key = _key(ctx, "levels-map", symbol, query.range, query.preset)

    def build() -> dict[str, Any]:
        result = _result(ctx, symbol, query, None)
        body = levels_payload(result)
        return {
            "success": True,
            "symbol": symbol,
            "layer": "estimated",
            "range": query.range,
            "preset": result.assumptions.preset,
            "source": "live" if LIVE_NOTE in result.quality.notes else "history",
            "profile": profile_payload(result.profile),
            "assumptions": body["assumptions"],
            "data_quality": body["data_quality"],
        }

    return ctx.bodies.respond(key, build)


RESOURCE = Resource("levels", (
    Operation("/api/levels/<symbol>", levels,
              "Estimated liquidation levels of a symbol (grid, predictions, profile)",
              _replies(Reply("The estimate; with format=coinglass Coinglass's heatmap body "
                             "(CoinglassBody).", LevelsReply, LEVELS_CACHE_HEADERS)),
              LevelsQuery, revalidates=True),
    Operation("/api/levels/<symbol>/map", levels_map,
              "Estimated liquidation map of a symbol: the standing profile now",
              _replies(Reply("The profile per price bucket, side and tier.", LevelsMap,
                             LEVELS_CACHE_HEADERS)),
              MapQuery, revalidates=True),
))  # fmt: skip
