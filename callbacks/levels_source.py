"""The estimated levels the dashboard shows: ``service.levels.result`` (the reader seam of the
levels API) when the service has it, else a run of the model over the history store here.

Either way the answer is ``(result, None)`` or ``(None, why)``: the model's own one-line reason
(``LevelsInputError``) or what is missing (history off, no candles or open interest yet). The
fallback keeps its last result per symbol, range and preset, and runs again only when a newer
candle or open-interest reading is stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from heatmap_engine.candles import INTERVAL_MS, aggregate_candles
from heatmap_engine.levels import Bars, LevelsInputError, LevelsResult, LevelsSettings, Readings
from heatmap_engine.levels.run import HOUR_MS, RANGES_MS, run_levels
from heatmap_engine.service import HeatmapService

# candles the fallback feeds the model per range (from the stored 1-minute candles)
FALLBACK_INTERVAL = {"12h": "5m", "24h": "5m", "3d": "5m", "7d": "15m", "30d": "1h"}
MAX_ROWS = 200_000
KEPT_RESULTS = 32
_kept: OrderedDict[tuple, tuple[tuple, LevelsResult]] = OrderedDict()
_lock = threading.Lock()
_settings: list[LevelsSettings] = []


def levels_result(
    service: HeatmapService, symbol: str, range_name: str, preset: str
) -> tuple[LevelsResult | None, str | None]:
    """The newest result for the view, or None and why there is none."""
    seam = getattr(service, "levels", None)
    try:
        if seam is not None and hasattr(seam, "result"):
            return seam.result(symbol, range_name, preset), None
        return _from_store(service, symbol, range_name, preset), None
    except LevelsInputError as error:
        return None, f"No estimate for {symbol} over {range_name}: {error}"


def _model_settings() -> LevelsSettings:
    if not _settings:
        _settings.append(LevelsSettings.from_env())
    return _settings[0]


def _from_store(service: HeatmapService, symbol: str, range_name: str, preset: str):
    if service.history is None:
        raise LevelsInputError(
            "history is off (HEATMAP_HISTORY=0); the estimate is built from stored candles and "
            "open interest"
        )
    if range_name not in RANGES_MS:
        raise LevelsInputError(f"range {range_name!r} is not one of {', '.join(RANGES_MS)}")
    store = service.history.store
    data = (store.last_time("candles", symbol, "1m"), store.last_time("open_interest", symbol, "5m"))
    if data[0] is None:
        raise LevelsInputError("no candles stored yet")
    if data[1] is None:
        raise LevelsInputError("no open interest stored yet")
    key = (id(store), symbol, range_name, preset)
    with _lock:
        kept = _kept.get(key)
        if kept is not None and kept[0] == data:
            _kept.move_to_end(key)
            return kept[1]
    result = _run(store, symbol, range_name, preset, data[0])
    with _lock:
        _kept[key] = (data, result)
        while len(_kept) > KEPT_RESULTS:
            _kept.popitem(last=False)
    return result


def _run(store, symbol: str, range_name: str, preset: str, last_open_ms: int) -> LevelsResult:
    settings = _model_settings().with_preset(preset)
    end = last_open_ms + 60_000
    start = end - RANGES_MS[range_name] - int(settings.levels_warmup_hours * HOUR_MS)
    minutes = store.candles(symbol, "1m", start, end, MAX_ROWS)
    candles = aggregate_candles(minutes, FALLBACK_INTERVAL[range_name])
    step = INTERVAL_MS[FALLBACK_INTERVAL[range_name]]
    closed = [c for c in candles if c.open_time_ms + step <= end]
    if len(closed) < 2:
        raise LevelsInputError("too few candles stored yet")
    bars = Bars.from_candles(closed)
    readings = Readings.from_models(store.open_interest(symbol, "5m", start, end, MAX_ROWS))
    if len(readings) == 0:
        raise LevelsInputError("no open interest stored in the range")
    return run_levels(bars, readings, settings, symbol=symbol, range_name=range_name)

