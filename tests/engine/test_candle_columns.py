"""The engine's candle books (compact columns): what readers see, computed here independently."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime

import numpy as np
import pytest
from helpers import real_data_dir

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.models import Candle

NOW = 1_800_000_000_000
MIN = 60_000


def engine(symbols="BTCUSDT,ETHUSDT") -> Engine:
    return Engine(Settings.from_env({"HEATMAP_SYMBOLS": symbols}), clock=lambda: NOW)


def candle(minute: int, close: float, symbol="BTCUSDT", closed=True, interval="1m") -> Candle:
    t = NOW + minute * MIN
    return Candle("binance", symbol, interval, t, t + MIN - 1, close - 1, close + 2, close - 3,
                  close, 10.0 + minute, 100.0 * minute, 4.0, minute, closed)  # fmt: skip


def test_two_thousand_frames_with_overwrites_keep_the_newest_day_latest_frame_winning():
    eng = engine()
    rng = random.Random(7)
    expected: dict[int, Candle] = {}
    frames = []
    for minute in range(2_000):
        for n in range(rng.randint(1, 3)):  # the forming candle is pushed several times
            frames.append(candle(minute, 1000.0 + minute + n / 10, closed=False))
        frames.append(candle(minute, 1000.0 + minute + 0.5))
    frames += [candle(m, 7.0) for m in rng.sample(range(1_500, 2_000), 40)]  # late repeats
    for i in range(0, len(frames), 97):  # refreshes between batches, as the live engine does
        eng.process(frames[i : i + 97])
        eng.refresh()
    for c in frames:
        expected[c.open_time_ms] = c
    newest_day = [expected[k] for k in sorted(expected)[-1440:]]
    assert eng.state.recent_candles("BTCUSDT") == tuple(newest_day)
    assert eng.state.recent_candles("ETHUSDT") == ()


def test_published_candles_are_immutable_and_unchanged_by_later_writes():
    eng = engine()
    eng.process([candle(0, 1.0), candle(1, 2.0)])
    eng.refresh()
    published = eng.state.recent_candles("BTCUSDT")
    table, version = eng.state.candle_table("BTCUSDT")
    assert isinstance(published, tuple) and [c.close for c in published] == [1.0, 2.0]
    with pytest.raises(ValueError):
        table["close"][0] = 99.0  # read-only
    eng.process([candle(1, 2.5), candle(2, 3.0), candle(-5, 0.5)])
    assert eng.state.recent_candles("BTCUSDT") is published  # nothing shows before a refresh
    eng.refresh()
    assert [c.close for c in published] == [1.0, 2.0]
    assert table["close"].tolist() == [1.0, 2.0]
    assert [c.close for c in eng.state.recent_candles("BTCUSDT")] == [0.5, 1.0, 2.5, 3.0]
    assert eng.state.candle_table("BTCUSDT")[1] == version + 1


def test_readers_share_one_tuple_per_version():
    eng = engine()
    eng.process([candle(0, 1.0)])
    eng.refresh()
    first = eng.state.recent_candles("BTCUSDT")
    assert eng.state.recent_candles("BTCUSDT") is first


def test_refresh_touches_only_the_books_written_since():
    eng = engine("BTCUSDT,ETHUSDT,SOLUSDT")
    eng.process([candle(0, 1.0, s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")])
    eng.refresh()
    versions = {s: eng.state.candle_table(s)[1] for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}
    eng.process([candle(0, 1.5, "ETHUSDT")])
    eng.refresh()
    eng.refresh()
    after = {s: eng.state.candle_table(s)[1] for s in versions}
    assert after == {**versions, "ETHUSDT": versions["ETHUSDT"] + 1}


def test_candles_of_another_interval_or_symbol_are_not_booked():
    eng = engine("BTCUSDT")
    eng.process([candle(0, 1.0), candle(0, 9.0, interval="5m"), candle(0, 9.0, "DOGEUSDT")])
    eng.refresh()
    assert [c.close for c in eng.state.recent_candles("BTCUSDT")] == [1.0]
    assert eng.state.recent_candles("DOGEUSDT") == ()
    assert eng.state.counters["candles_other_interval"] == 1


def test_load_candles_takes_store_rows_in_one_call_and_later_frames_win():
    eng = engine()
    stored = [candle(m, 100.0 + m) for m in range(-1500, 1)]
    rows = [(c.open_time_ms, c.close_time_ms, c.open, c.high, c.low, c.close, c.volume,
             c.quote_volume, c.taker_buy_volume, c.trades, int(c.closed))
            for c in stored]  # fmt: skip
    eng.process([candle(0, 55.0, closed=False)])  # written before the load: the load wins
    assert eng.state.load_candles("BTCUSDT", rows) == 1501
    eng.process([candle(-2, 42.0)])  # written after: wins over the stored row
    assert eng.state.recent_candles("BTCUSDT") == ()  # published at the refresh
    eng.refresh()
    got = eng.state.recent_candles("BTCUSDT")
    want = {c.open_time_ms: c for c in stored[-1440:]}
    want[NOW - 2 * MIN] = candle(-2, 42.0)
    assert got == tuple(want[k] for k in sorted(want))
    assert eng.state.load_candles("DOGEUSDT", rows) == 0  # not tracked


def test_load_candles_from_real_minute_bars_keeps_the_newest_day():
    path = real_data_dir("binance-um-klines-1m-2025-10") / "BTC-USDT-1m.csv"
    with path.open(newline="") as handle:
        bars = [
            (int(datetime.fromisoformat(r["datetime"]).replace(tzinfo=UTC).timestamp() * 1000),
             *(float(r[k]) for k in ("open", "high", "low", "close", "volume")))
            for r in csv.DictReader(handle)
        ]  # fmt: skip
    eng = Engine(Settings.from_env({"HEATMAP_SYMBOLS": "BTCUSDT"}), clock=lambda: bars[-1][0])
    assert eng.state.load_candles("BTCUSDT", bars[::-1]) == len(bars)  # any order
    eng.refresh()
    got = eng.state.recent_candles("BTCUSDT")
    assert [(c.open_time_ms, c.open, c.high, c.low, c.close, c.volume) for c in got] == bars[-1440:]
    assert all(c.close_time_ms == c.open_time_ms + MIN - 1 for c in got)
    assert all(np.isnan(c.taker_buy_volume) for c in got)  # not in the file: unknown
    table, _ = eng.state.candle_table("BTCUSDT")
    assert table.nbytes == 1440 * 81  # compact: 81 bytes a candle


def test_load_candles_short_rows_name_the_taker_buy_volume_when_known():
    eng = engine()
    eng.state.load_candles(
        "ETHUSDT", [(NOW, 1.0, 3.0, 0.5, 2.0, 10.0, 4.0), (NOW + MIN, 2, 3, 1, 2, 5)]
    )
    eng.refresh()
    first, second = eng.state.recent_candles("ETHUSDT")
    assert (first.open, first.high, first.low, first.close) == (1.0, 3.0, 0.5, 2.0)
    assert (first.volume, first.taker_buy_volume, first.quote_volume) == (10.0, 4.0, 0.0)
    assert (first.close_time_ms, first.closed) == (NOW + MIN - 1, True)
    assert np.isnan(second.taker_buy_volume) and second.volume == 5.0


def test_the_lazy_view_reads_the_same_candles_as_the_tuple():
    """What the live levels tracker reads every few seconds for every symbol: the same
    candles as the published tuple, built only for the rows asked for."""
    eng = engine()
    frames = [candle(m, 100.0 + m) for m in range(30)] + [candle(30, 200.0, closed=False)]
    eng.process(frames)
    eng.refresh()
    view = eng.state.candle_view("BTCUSDT")
    published = eng.state.recent_candles("BTCUSDT")
    assert len(view) == len(published) == 31
    assert view[-1] == frames[-1] and view[0] == frames[0] and view[5:8] == list(frames[5:8])
    assert list(view) == list(frames)
    eng.process([candle(31, 300.0)])
    eng.refresh()
    assert len(view) == 31 and view[-1] == frames[-1]  # a view is of one published version
    assert len(eng.state.candle_view("ETHUSDT")) == 0
