"""``LevelsSource`` over a real SQLite store: ranges, presets, cache and honest errors."""

from __future__ import annotations

import pytest
from levels.support import DAY_T0 as T0
from levels.support import MINUTE, fill_store

from heatmap_engine.candles import aggregate_candles
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.levels import LevelsInputError, LevelsSettings
from heatmap_engine.levels.source import LevelsSource
from heatmap_engine.models import Candle


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "h.sqlite3")
    yield store
    store.close()


@pytest.fixture
def source(store):
    return LevelsSource(lambda: store, LevelsSettings.from_env({}))


def test_result_runs_over_the_store_and_is_cached_per_data_version(store, source):
    fill_store(store, "BTCUSDT", 3 * 1440)
    first = source.result("BTCUSDT", "24h", "all")
    assert first.at_ms == T0 + 3 * 1440 * MINUTE  # the end of the newest closed bar
    assert first.range_ms == 86_400_000
    assert first.grid.long_usd.sum() > 0 and first.grid.short_usd.sum() > 0
    assert source.result("BTCUSDT", "24h", "all") is first  # between new bars: the cache
    assert source.runs == 1
    t = T0 + 3 * 1440 * MINUTE
    store.write_batch([], candles=[Candle("binance", "BTCUSDT", "1m", t, t + MINUTE - 1,
                                          100, 101, 99, 100, 1, 100, 0.5, 1)])  # fmt: skip
    assert source.result("BTCUSDT", "24h", "all").at_ms == t + MINUTE  # a new bar: a new run
    assert source.runs == 2


def test_a_backfill_of_an_older_hole_is_a_new_data_version(store, source):
    # the newest stored candle and reading stay the same: only the store's writes say it
    fill_store(store, "BTCUSDT", 1440, start=T0 + 1440 * MINUTE)
    first = source.result("BTCUSDT", "24h", "all")
    assert first.quality.warmup_hours == 0  # nothing stored before the range
    newest = store.last_time("candles", "BTCUSDT", "1m")
    fill_store(store, "BTCUSDT", 1440, seed=2)  # the day before, as a backfill stores it
    assert store.last_time("candles", "BTCUSDT", "1m") == newest
    again = source.result("BTCUSDT", "24h", "all")
    assert source.runs == 2 and again.at_ms == first.at_ms
    assert again.quality.warmup_hours > 20  # the backfilled day built the book before the range
    assert source.result("BTCUSDT", "24h", "all") is again  # and cached again


def test_long_ranges_run_on_coarser_bars_and_say_what_the_store_covers(store, source):
    fill_store(store, "BTCUSDT", 3 * 1440)
    result = source.result("BTCUSDT", "30d", "high")
    assert result.assumptions.candle_interval_ms == 15 * MINUTE
    assert result.assumptions.preset == "high"
    assert result.quality.candle_coverage < 0.15  # 3 days of 30 are stored


def test_past_at_uses_nothing_after_it(store, source):
    fill_store(store, "BTCUSDT", 3 * 1440)
    at = T0 + 2 * 1440 * MINUTE
    result = source.result("BTCUSDT", "12h", "all", at)
    assert result.at_ms == at
    assert int(result.predictions.open_ms[-1]) < at


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("BTCUSDT", "2d", "all"), "range '2d'"),
        (("BTCUSDT", "24h", "medium"), "preset 'medium'"),
        (("ETHUSDT", "24h", "all"), "no candles stored for ETHUSDT"),
    ],
)
def test_bad_input_is_one_clear_line(store, source, args, words):
    fill_store(store, "BTCUSDT", 1440)
    with pytest.raises(LevelsInputError, match=words):
        source.result(*args)


def test_history_off_is_said():
    source = LevelsSource(lambda: None, LevelsSettings.from_env({}))
    with pytest.raises(LevelsInputError, match="HEATMAP_HISTORY"):
        source.result("BTCUSDT", "24h", "all")


def test_the_cache_is_bounded_by_the_bytes_of_its_results(store):
    fill_store(store, "BTCUSDT", 2 * 1440)
    source = LevelsSource(lambda: store, LevelsSettings.from_env({}), cache_bytes=1)
    first = source.result("BTCUSDT", "12h", "all")
    assert source.result("BTCUSDT", "12h", "all") is first  # the newest always stays
    source.result("BTCUSDT", "24h", "all")  # pushes the 12h result out
    assert source.result("BTCUSDT", "12h", "all") is not first
    assert source.runs == 3


def test_long_ranges_use_coarser_stored_candles_before_the_first_minute(store, source, tmp_path):
    """A store that keeps hourly candles longer than 1m ones: a 90-day range (1h bars) runs on
    the hourly ones before the first 1m candle and on 1m ones (aggregated) after it."""
    market = SqliteStore(tmp_path / "market.sqlite3")  # 21 days of 1m candles, 5m readings
    fill_store(market, "BTCUSDT", 21 * 1440)
    split = T0 + 20 * 1440 * MINUTE
    minutes = market.candles("BTCUSDT", "1m", T0, split + 1440 * MINUTE, 21 * 1440)
    readings = market.open_interest("BTCUSDT", "5m", T0, split + 1440 * MINUTE, 10_000)
    market.close()
    store.write_batch(
        [],
        candles=aggregate_candles([c for c in minutes if c.open_time_ms < split], "1h")
        + [c for c in minutes if c.open_time_ms >= split],  # the last day kept as 1m
        open_interest=[("5m", r) for r in readings],
    )
    result = source.result("BTCUSDT", "90d", "all")
    assert result.assumptions.candle_interval_ms == 60 * MINUTE
    assert result.assumptions.candles_used == 21 * 24
    assert result.quality.candle_coverage == pytest.approx(21 / 90, abs=0.01)


def _candles(interval: str, start: int, count: int, high: float) -> list[Candle]:
    step = {"1m": MINUTE, "5m": 5 * MINUTE, "1h": 60 * MINUTE}[interval]
    return [
        Candle("binance", "BTCUSDT", interval, start + i * step, start + (i + 1) * step - 1,
               100.0, high, 99.0, 100.0, 1.0, 100.0, 0.5, 1)
        for i in range(count)
    ]  # fmt: skip


def test_bars_come_from_the_finest_stored_interval_that_fills_them(store):
    """A year-long store keeps 1m candles for the last day only, 5m for 30 days and 1h for a
    year: a 15-minute bar is built from 1m where its 15 minutes are all there, else from its
    three 5m candles; older than the 5m candles, the 1h range runs on the 1h backfill."""
    from heatmap_engine.levels.source import read_bars

    day = 1440 * MINUTE
    end = T0 + 40 * day
    store.write_batch([], candles=_candles("1h", T0, 40 * 24, high=103.0))
    store.write_batch([], candles=_candles("5m", end - 30 * day, 30 * 288, high=102.0))
    # the last day in 1m, but its first 7 minutes are missing (the stream started late)
    store.write_batch([], candles=_candles("1m", end - day + 7 * MINUTE, 1440 - 7, high=101.0))
    bars = read_bars(store, "BTCUSDT", "15m", end - 30 * day, end)
    assert len(bars) == 30 * 96  # every 15 minutes of 30 days, no gap, no double
    highs = dict(zip(bars.open_ms.tolist(), bars.high.tolist(), strict=True))
    first_whole_1m = end - day + 15 * MINUTE  # the bar holding the missing minutes is 5m's
    assert highs[end - day] == 102.0 and highs[first_whole_1m] == 101.0
    assert all(h == 101.0 for t, h in highs.items() if t >= first_whole_1m)
    assert all(h == 102.0 for t, h in highs.items() if t < end - day)
    hours = read_bars(store, "BTCUSDT", "1h", T0, end)
    assert len(hours) == 40 * 24
    hourly = dict(zip(hours.open_ms.tolist(), hours.high.tolist(), strict=True))
    assert hourly[T0] == 103.0 and hourly[end - 31 * day] == 103.0
    assert hourly[end - 29 * day] == 102.0 and hourly[end - 60 * MINUTE] == 101.0


def _mixed_store_candles(seed: int) -> list[Candle]:
    """Two weeks of hourly backfill, its last 8 days also in 5m and its last 3 days in 1m, with
    random holes and unclosed candles in each, random prices and volumes (so the order of a
    sum shows)."""
    import random

    rng = random.Random(seed)
    end = T0 + 14 * 1440 * MINUTE
    out = []
    for interval, step, days in (("1h", 60, 14), ("5m", 5, 8), ("1m", 1, 3)):
        first = end - days * 1440 * MINUTE
        for t in range(first, end, step * MINUTE):
            if rng.random() < 0.03:
                continue  # a hole
            low = 100.0 * rng.uniform(0.9, 1.1)
            o, c = low * rng.uniform(1.0, 1.01), low * rng.uniform(1.0, 1.01)
            volume = rng.uniform(0.0, 50.0)
            out.append(Candle("binance", "BTCUSDT", interval, t, t + step * MINUTE - 1, o,
                              max(o, c) * rng.uniform(1.0, 1.005), low, c, volume,
                              volume * c, volume * rng.uniform(0.0, 1.0), 7,
                              rng.random() > 0.02))  # fmt: skip
    return out


def _whole_bars_by_hand(candles: list[Candle], step: int, start: int, end: int) -> list[tuple]:
    """Per bar of ``step`` ms: the finest stored interval whose closed candles fill it whole,
    merged by hand (first open, highest high, lowest low, last close, volumes summed)."""
    chosen: dict[int, tuple] = {}
    for size in (MINUTE, 5 * MINUTE, 60 * MINUTE):
        if size > step or step % size:
            continue
        groups: dict[int, list[Candle]] = {}
        for c in sorted(candles, key=lambda c: c.open_time_ms):
            t = c.open_time_ms
            if c.close_time_ms - t + 1 == size and c.closed and start <= t < end:
                groups.setdefault(t - t % step, []).append(c)
        for t, members in groups.items():
            if t in chosen or len(members) * size != step or t + step > end:
                continue
            chosen[t] = (
                t, members[0].open, max(c.high for c in members), min(c.low for c in members),
                members[-1].close, sum(c.volume for c in members),
                sum(c.taker_buy_volume for c in members),
            )  # fmt: skip
    return [chosen[t] for t in sorted(chosen)]


@pytest.mark.parametrize("seed", [1, 2])
def test_read_bars_are_the_whole_bars_of_the_finest_stored_candles(store, seed):
    """Holes, unclosed candles, bars cut by the range's edges and 1m/5m/1h backfill: every bar
    of every interval is what merging the stored candles by hand gives, to the last bit."""
    from heatmap_engine.levels.source import read_bars

    candles = _mixed_store_candles(seed)
    store.write_batch([], candles=candles)
    end = T0 + 14 * 1440 * MINUTE
    for interval, step in (("1m", 1), ("5m", 5), ("15m", 15), ("1h", 60), ("4h", 240)):
        step *= MINUTE
        for start, stop in ((T0, end), (T0 + 37 * MINUTE, end - 3 * 1440 * MINUTE + 7 * MINUTE)):
            bars = read_bars(store, "BTCUSDT", interval, start, stop)
            columns = (bars.open_ms, bars.open, bars.high, bars.low, bars.close, bars.volume,
                       bars.taker_buy_volume)  # fmt: skip
            read = list(zip(*(c.tolist() for c in columns), strict=True))
            assert read == _whole_bars_by_hand(candles, step, start, stop), (interval, start)
            assert bars.interval_ms == step
