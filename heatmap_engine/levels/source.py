"""The readers' seam of the estimated levels: ``LevelsSource.result(symbol, range, preset, at)``.

A result is a run of the model (``run_levels``) over what the history store holds: its 1m
candles (closed ones only; aggregated to a coarser bar for the long ranges, ``RANGE_INTERVALS``,
so a run never has more than about 3,000 bars) and its open-interest readings (the 5m
``openInterestHist`` series the backfill stores, merged with the ``live`` readings that the
open-interest poller stores while the service runs, ``heatmap_engine.levels.oi_poll``).

Results are cached by (symbol, range, preset, at, data version), the data version being the
newest stored candle and readings of the symbol, the store's writes of its series (so a
backfill of an older hole is seen) and what its live book was fed: repeated calls between new
bars cost three indexed ``MAX`` reads, and a new live-book version over the same
stored data only swaps the profile in (no run). ``at`` None is the range ending at the newest
closed bar. While the service runs, its refresher (``heatmap_engine.levels.refresher``) keeps
the views read recently fresh in the background, and ``current`` lets the dashboard show a
view's previous result while the new one is computed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import numpy as np

from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.config import ConfigError
from heatmap_engine.levels.brackets import BracketFileError, BracketTable, load_brackets
from heatmap_engine.levels.results import LevelsResult
from heatmap_engine.levels.run import HOUR_MS, RANGES_MS, run_levels
from heatmap_engine.levels.series import Bars, LevelsInputError, Readings
from heatmap_engine.levels.settings import PRESETS, LevelsSettings
from heatmap_engine.lru import SizedLru

# the bar each range runs on: at most ~3,000 bars per run (1m candles are what is stored)
RANGE_INTERVALS = {
    "12h": "1m",
    "24h": "1m",
    "3d": "5m",
    "7d": "5m",
    "30d": "15m",
    "90d": "1h",
    "180d": "2h",
    "1y": "4h",
}
STORED_INTERVALS = ("1m", "5m", "1h")  # candles a store may keep, finest first
OI_PERIODS = ("5m", "live")  # stored openInterestHist, and the poller's readings
LIVE_PERIOD = "live"
LIVE_NOTE = (
    "the profile is the live book's (fed every closed candle and polled open-interest reading "
    "since the service started), not the run's"
)
CACHE_BYTES = 64 * 2**20  # results kept, at most (a 30-day result is about 5 MB of arrays)
View = tuple[str, str, str]  # symbol, range, preset
VIEWS_KEPT = 1024  # views (symbol, range, preset) whose newest result ending now is known
StoreGetter = Callable[[], Any]  # -> the SqliteStore, or None when history is off


class LevelsSource:
    """Results of the model for readers (the API, the dashboard), cached per data version."""

    def __init__(
        self,
        store: StoreGetter,
        settings: LevelsSettings | None = None,
        *,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self._store = store
        self.settings = settings or LevelsSettings.from_env()
        try:
            self.table: BracketTable = load_brackets(self.settings.levels_brackets_file or None)
        except BracketFileError as exc:
            raise ConfigError(f"HEATMAP_LEVELS_BRACKETS_FILE: {exc}") from None
        # run key (view, at, stored-data version) -> (run, live version, result shown)
        self._cache = SizedLru(cache_bytes, _entry_bytes)
        self._newest = SizedLru(VIEWS_KEPT)  # view -> run key of its newest result ending now
        self._running: dict[tuple, Future] = {}  # run key -> the run under way (one per key)
        self._lock = threading.Lock()
        self.runs = 0  # runs of the model (cache misses)
        self.live = None  # the LevelsTracker of a running service (heatmap_engine.levels.runtime)
        self.refresher = None  # the LevelsRefresher of a running service (levels.refresher)

    # -- the seam ---------------------------------------------------------------------------
    def result(
        self, symbol: str, range_name: str, preset: str, at_ms: int | None = None
    ) -> LevelsResult:
        """The model's result for ``[at − range, at]`` (``at`` None: up to the newest closed
        bar). ``LevelsInputError`` (one line) on an unknown range or preset, history off, or
        too little stored data. A read of the range ending now tells the refresher (when
        there is one) that the view is read."""
        view = self.view(symbol, range_name, preset)
        if at_ms is None and self.refresher is not None:
            self.refresher.read(view)
        return self._result(view, at_ms, self.data_version(symbol))

    def current(self, symbol: str, range_name: str, preset: str) -> tuple[LevelsResult, bool]:
        """``(result, fresh)`` of the range ending now, for a reader that can show the previous
        result at once while the new one is computed (the dashboard): when the data changed
        since the view's newest result and the running service's refresher may serve it stale
        (``LevelsRefresher.may_serve_stale``), that result with ``fresh`` False, and the view
        is queued for the refresher. Otherwise (no refresher running: an unstarted service,
        the CLI) exactly ``result``, fresh."""
        view = self.view(symbol, range_name, preset)
        version = self.data_version(symbol)
        refresher = self.refresher
        if refresher is None:
            return self._result(view, None, version), True
        refresher.read(view)
        if self._cache.get(_run_key(view, None, version)) is None:
            newest = self._newest.get(view)
            previous = self._cache.get(newest) if newest is not None else None
            if previous is not None and refresher.may_serve_stale(view):
                refresher.request(view)
                return previous[2], False
        result = self._result(view, None, version)
        refresher.served_fresh(view)
        return result, True

    def refresh(self, view: View) -> bool:
        """The refresher's step for one view: its result ending now, computed when the data
        changed since the newest one. True when that took a run of the model."""
        version = self.data_version(view[0])
        ran = self._cache.get(_run_key(view, None, version)) is None
        self._result(view, None, version)
        return ran

    def view(self, symbol: str, range_name: str, preset: str) -> View:
        """``(symbol, range, preset)`` checked (``LevelsInputError`` on a bad one)."""
        settings = self.preset_settings(preset)
        check_range(range_name)
        self._require_store()
        return symbol, range_name, settings.levels_preset

    def clear_cache(self) -> None:
        self._cache.clear()
        self._newest.clear()

    def _result(self, view: View, at_ms: int | None, version: tuple) -> LevelsResult:
        """From the cache, else a run (one at a time per key: a reader asking for the key being
        run waits for that run). A new live-book version with the same stored data only swaps
        the profile (``_with_live_profile``): the run does not read the live book."""
        key = _run_key(view, at_ms, version)
        live_version = version[-1] if at_ms is None else None
        entry = self._cache.get(key)
        if entry is not None and entry[1] == live_version:
            return entry[2]
        run = entry[0] if entry is not None else self._run_once(key, view, at_ms)
        result = run if at_ms is not None else self._with_live_profile(run)
        self._cache.put(key, (run, live_version, result))  # least recently used leave first
        if at_ms is None:
            self._newest.put(view, key)
        return result

    def _run_once(self, key: tuple, view: View, at_ms: int | None) -> LevelsResult:
        with self._lock:
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = Future()
                owner = True
            else:
                owner = False
        if not owner:
            return running.result()
        try:
            symbol, range_name, preset = view
            run = self._run(self._require_store(), symbol, range_name,
                            self.preset_settings(preset), at_ms)  # fmt: skip
            running.set_result(run)
            return run
        except BaseException as exc:
            running.set_exception(exc)
            raise
        finally:
            with self._lock:
                del self._running[key]

    # -- helpers readers may use ------------------------------------------------------------
    def preset_settings(self, preset: str) -> LevelsSettings:
        if preset not in PRESETS:
            raise LevelsInputError(f"preset {preset!r} is not one of {', '.join(PRESETS)}")
        try:
            return self.settings.with_preset(preset)
        except ConfigError as exc:
            raise LevelsInputError(str(exc)) from None

    def data_version(self, symbol: str) -> tuple[int | None, ...]:
        """The newest stored candle and readings of ``symbol``, the store's writes of its
        series (a backfill of an older hole moves them too) and what the live book was fed:
        changes with every new bar."""
        store = self._require_store()
        return (
            store.last_time("candles", symbol, "1m"),
            *(store.last_time("open_interest", symbol, period) for period in OI_PERIODS),
            store.series_writes(symbol),
            -1 if self.live is None else self.live.version(symbol),
        )

    def store(self):
        """The history store, or None while history is off."""
        return self._store()

    def _with_live_profile(self, result: LevelsResult) -> LevelsResult:
        """The range ending now shows the live book's profile, when there is a live book of
        the same preset that has seen at least the run's last bar and has placed at least as
        much of the open interest as the run (a book started minutes ago has not)."""
        live, a = self.live, result.assumptions
        if live is None or a.preset != live.settings.levels_preset or result.symbol is None:
            return result
        snapshot = live.snapshot(result.symbol, a.row_buckets)
        if snapshot is None or snapshot.time_ms < result.at_ms:
            return result
        if snapshot.unknown_share > result.quality.unknown_share_end + 0.01:
            return result
        quality = replace(result.quality, notes=(*result.quality.notes, LIVE_NOTE))
        return replace(result, profile=snapshot.profile, quality=quality)

    def _require_store(self):
        store = self._store()
        if store is None:
            raise LevelsInputError(
                "the estimated levels need the history store (HEATMAP_HISTORY=1): it is off"
            )
        return store

    def _run(
        self, store, symbol: str, range_name: str, settings: LevelsSettings, at_ms: int | None
    ) -> LevelsResult:
        end = at_ms
        if end is None:
            newest = store.last_time("candles", symbol, "1m")
            if newest is None:
                raise LevelsInputError(f"no candles stored for {symbol} yet")
            end = newest + INTERVAL_MS["1m"]
        start = end - RANGES_MS[range_name] - int(settings.levels_warmup_hours * HOUR_MS)
        bars = read_bars(store, symbol, RANGE_INTERVALS[range_name], start, end)
        readings = read_readings(store, symbol, start - 3 * HOUR_MS, end)
        self.runs += 1
        return run_levels(
            bars,
            readings,
            settings,
            symbol=symbol,
            at_ms=at_ms,
            range_name=range_name,
            table=self.table,
        )


def _run_key(view: View, at_ms: int | None, version: tuple) -> tuple:
    """A run depends on the stored data (the data version less the live book's)."""
    return (*view, at_ms, version[:-1])


def _entry_bytes(entry: tuple[LevelsResult, Any, LevelsResult]) -> int:
    run, _, shown = entry
    extra = 0 if shown is run else sum(v.nbytes for v in vars(shown.profile).values()
                                       if hasattr(v, "nbytes"))  # fmt: skip
    return result_bytes(run) + extra


def result_bytes(result: LevelsResult) -> int:
    """The arrays a result holds (what its cache entry costs)."""
    parts = (result.grid, result.predictions, result.profile)
    return sum(v.nbytes for part in parts for v in vars(part).values() if hasattr(v, "nbytes"))


def check_range(range_name: str) -> None:
    if range_name not in RANGES_MS:
        raise LevelsInputError(f"range {range_name!r} is not one of {', '.join(RANGES_MS)}")


# a stored candle as ``read_bars`` takes it (``store.candle_bar_rows``)
_BAR_ROW = np.dtype(
    [("open_ms", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"), ("close", "f8"),
     ("volume", "f8"), ("taker_buy_volume", "f8"), ("closed", "i8")]
)  # fmt: skip


def read_bars(store, symbol: str, interval: str, start_ms: int, end_ms: int) -> Bars:
    """Closed stored candles opening in ``[start, end)`` as whole bars of ``interval`` (only
    those that end by ``end``): each bar from the finest stored interval (``STORED_INTERVALS``)
    that fills it whole, so the newest bars come from 1m candles, and older ones, holes in the
    1m series and a bar whose first minutes are missing from the 5m or 1h backfill. Read as
    columns (``store.candle_bar_rows``) and merged into bars with numpy (``whole_bars``)."""
    step = INTERVAL_MS[interval]
    chosen: list[np.ndarray] = []
    for stored in STORED_INTERVALS:
        size = INTERVAL_MS[stored]
        if size > step or step % size:
            continue
        limit = (end_ms - start_ms) // size + 1
        rows = store.candle_bar_rows(symbol, stored, start_ms, end_ms, limit)
        columns = np.array(rows, dtype=_BAR_ROW) if rows else np.zeros(0, _BAR_ROW)
        bars = whole_bars(columns[columns["closed"] != 0], step, step // size, end_ms)
        if chosen:  # a finer interval's bar stands
            bars = bars[~np.isin(bars["open_ms"], np.concatenate(chosen)["open_ms"])]
        chosen.append(bars)
    merged = np.concatenate(chosen)
    merged = merged[np.argsort(merged["open_ms"], kind="stable")]
    if len(merged) < 2:
        raise LevelsInputError(
            f"not enough candles stored for {symbol} in the range ({len(merged)} closed)"
        )
    names = ("open_ms", "open", "high", "low", "close", "volume", "taker_buy_volume")
    return Bars.build(*(merged[name] for name in names), interval_ms=step)


def whole_bars(rows: np.ndarray, step: int, members: int, end_ms: int) -> np.ndarray:
    """Candles (``_BAR_ROW`` rows, ascending) merged into the bars of ``step`` ms (aligned to
    the epoch) that all ``members`` of their candles fill and that end by ``end``: open of the
    first, high the highest, low the lowest, close of the last, volumes summed in order."""
    t = rows["open_ms"]
    bucket = t - t % step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]]) if len(t) else t
    whole = np.diff(np.r_[starts, len(t)]) == members
    if members == 1:  # a stored candle of the bar's own size: it must open on the bar's time
        whole &= t[starts] == bucket[starts]
    whole &= bucket[starts] + step <= end_ms
    first = starts[whole]
    out = np.zeros(len(first), _BAR_ROW)
    out["open_ms"], out["open"] = bucket[first], rows["open"][first]
    out["close"] = rows["close"][first + members - 1]
    if len(first):
        out["high"] = np.maximum.reduceat(rows["high"], starts)[whole]
        out["low"] = np.minimum.reduceat(rows["low"], starts)[whole]
    for name in ("volume", "taker_buy_volume"):
        column, total = rows[name], rows[name][first]
        for i in range(1, members):  # one candle at a time, as a running sum adds them
            total += column[first + i]
        out[name] = total
    return out


def read_readings(store, symbol: str, start_ms: int, end_ms: int) -> Readings:
    """Stored open interest (every period in ``OI_PERIODS``) in ``[start, end]``."""
    rows = []
    for period in OI_PERIODS:
        limit = (end_ms - start_ms) // 60_000 + 10
        rows += store.open_interest(symbol, period, start_ms, end_ms + 1, limit)
    if not rows:
        raise LevelsInputError(f"no open interest stored for {symbol} in the range")
    return Readings.from_models(sorted(rows, key=lambda r: r.time_ms))
