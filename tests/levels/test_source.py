"""``LevelsSource`` over a real SQLite store: ranges, presets, cache and honest errors."""

from __future__ import annotations

import pytest
from levels.support import DAY_T0 as T0
from levels.support import MINUTE, fill_store

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
