"""The refresher over a real SQLite store and a real ``LevelsSource``: the previous result shown
while the new one is computed, only recently read views refreshed, failures counted with the
loop alive, and ``stop`` ending the thread. The clock of "recently" is the test's; the loop runs
on a real thread only where the test says so, and every wait is on a condition with a timeout."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from helpers import wait_until
from levels.support import DAY_T0 as T0
from levels.support import MINUTE, fill_store, refresher_looping

from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.levels import LevelsSettings
from heatmap_engine.levels.refresher import LevelsRefresher
from heatmap_engine.levels.source import LevelsSource
from heatmap_engine.models import Candle

DAYS = 2
END = T0 + DAYS * 1440 * MINUTE  # the end of the newest closed bar fill_store writes
VIEW_24H, VIEW_12H, VIEW_3D = ("BTCUSDT", "24h", "all"), ("BTCUSDT", "12h", "all"), (
    "BTCUSDT", "3d", "all")  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.seconds = 1_000.0

    def __call__(self) -> float:
        return self.seconds


def add_bar(store: SqliteStore, open_ms: int) -> None:
    """One more closed 1m candle, as the history writer stores it after the kline closes."""
    candle = Candle("binance", "BTCUSDT", "1m", open_ms, open_ms + MINUTE - 1,
                    100.0, 100.2, 99.8, 100.1, 10.0, 1001.0, 5.0, 10)  # fmt: skip
    store.write_batch([], candles=[candle])


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "h.sqlite3")
    fill_store(store, "BTCUSDT", DAYS * 1440)
    yield store
    store.close()


@pytest.fixture
def parts(store):
    """The store behind a swappable getter (a test may hand the source a broken store), the
    source, and a refresher on the test's clock whose loop passes only when asked (the tick is
    a day), attached as the service attaches it."""
    holder = [store]
    source = LevelsSource(lambda: holder[0], LevelsSettings.from_env({}))
    stop, clock = threading.Event(), Clock()
    refresher = LevelsRefresher(source, stop, views=8, read_within_seconds=600.0,
                                stale_seconds=30.0, tick_seconds=86_400.0, clock=clock)  # fmt: skip
    source.refresher = refresher
    return holder, source, refresher, stop, clock


@pytest.fixture
def running(parts):
    """The refresher's loop on its own thread, as the service runs it (stopped after)."""
    _, _, refresher, stop, _ = parts
    with refresher_looping(refresher, stop) as thread:
        yield thread


def independent(store: SqliteStore, view) -> object:
    """The same view computed by a source of its own (no cache, no refresher)."""
    return LevelsSource(lambda: store, LevelsSettings.from_env({})).result(*view)


def test_the_previous_result_is_shown_while_the_new_one_is_computed(parts, running, store):
    _, source, refresher, _, _ = parts
    first, fresh = source.current(*VIEW_24H)
    assert fresh and first.at_ms == END and source.runs == 1  # nothing before it: a run
    add_bar(store, END)
    shown, fresh = source.current(*VIEW_24H)  # the loop has not run yet: only asked now
    assert shown is first and not fresh  # the previous result, ending at the bar it ends at
    assert source.runs == 1  # the reader did not run the model
    wait_until(lambda: refresher.runs >= 1, timeout=60)
    runs = source.runs
    new, fresh = source.current(*VIEW_24H)
    assert fresh and source.runs == runs  # computed by the loop: the reader finds it cached
    assert new.at_ms == END + MINUTE
    expected = independent(store, VIEW_24H)
    assert expected.at_ms == new.at_ms
    np.testing.assert_array_equal(expected.grid.long_usd, new.grid.long_usd)
    np.testing.assert_array_equal(expected.profile.long_usd, new.profile.long_usd)
    # the API's seam still answers the exact current result only
    add_bar(store, END + MINUTE)
    exact = source.result(*VIEW_24H)
    assert exact.at_ms == END + 2 * MINUTE


def test_a_stale_result_is_shown_no_longer_than_the_limit(parts, running, store):
    _, source, refresher, _, clock = parts
    first, _ = source.current(*VIEW_24H)
    refresher.stale_seconds = 0.0  # the reader waits as soon as the previous result has aged
    add_bar(store, END)
    shown, fresh = source.current(*VIEW_24H)
    assert shown is first and not fresh  # the first stale read (age 0) still gets it
    clock.seconds += 1.0
    result, fresh = source.current(*VIEW_24H)  # aged past the limit: the exact result
    assert fresh and result.at_ms == END + MINUTE
    # the age counts from the first stale read since the view's last refresh
    refresher.refresh_due()  # a pass (the loop's own may run beside it: either resets the age)
    add_bar(store, END + MINUTE)
    clock.seconds += 100.0
    shown, fresh = source.current(*VIEW_24H)
    assert shown is result and not fresh


def test_only_views_read_recently_are_refreshed_at_most_the_bound(parts, store):
    _, source, refresher, _, clock = parts
    source.result(*VIEW_3D)  # read at t, forgotten once 600 s have passed
    clock.seconds += 400
    source.result(*VIEW_24H)
    clock.seconds += 300  # 3d was read 700 s ago, 24h 300 s ago
    add_bar(store, END)
    runs = source.runs
    assert refresher.due() == [VIEW_24H]
    assert refresher.refresh_due() == 1 and source.runs == runs + 1
    source.result(*VIEW_24H)  # the refreshed view is cached
    assert source.runs == runs + 1
    source.result(*VIEW_3D)  # the forgotten one was not: this read runs it
    assert source.runs == runs + 2
    # at most `views` views, the least recently read leave first
    refresher.max_views = 2
    for view in (VIEW_12H, VIEW_3D, VIEW_24H):
        source.result(*view)
    assert refresher.due() == [VIEW_24H, VIEW_3D]
    # the at=None views only: a past range is not a view to keep fresh
    source.result("BTCUSDT", "12h", "all", END - 60 * MINUTE)
    assert VIEW_12H not in refresher.due()


def test_a_failing_refresh_is_counted_said_once_and_the_loop_goes_on(
    parts, running, store, tmp_path, caplog
):
    holder, source, refresher, _, _ = parts
    source.current(*VIEW_24H)
    broken = SqliteStore(tmp_path / "gone.sqlite3")
    broken.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"gone.sqlite3{suffix}").unlink(missing_ok=True)  # reads cannot open it
    holder[0] = broken
    with caplog.at_level(logging.ERROR, logger="heatmap_engine.levels.refresher"):
        refresher.request(VIEW_24H)
        wait_until(lambda: refresher.failures >= 1, timeout=30)
        refresher.request(VIEW_24H)
        wait_until(lambda: refresher.failures >= 2, timeout=30)
    assert len([r for r in caplog.records if "said once" in r.getMessage()]) == 1
    assert running.is_alive() and refresher.running
    assert not refresher.may_serve_stale(VIEW_24H)  # a reader now runs it and sees why
    holder[0] = store  # the store is back: the next pass refreshes again
    add_bar(store, END)
    refresher.request(VIEW_24H)
    wait_until(lambda: refresher.runs >= 1, timeout=60)
    assert refresher.status()["failures"] == 2
    assert source.current(*VIEW_24H)[0].at_ms == END + MINUTE


def test_stop_ends_the_loop_and_readers_get_the_exact_result_again(parts, running, store):
    _, source, refresher, stop, _ = parts
    source.current(*VIEW_24H)
    stop.set()
    running.join(10)
    assert not running.is_alive() and not refresher.running
    add_bar(store, END)
    result, fresh = source.current(*VIEW_24H)  # no refresher running: as without one
    assert fresh and result.at_ms == END + MINUTE


def test_without_a_running_refresher_current_is_the_exact_result(parts, store):
    _, source, refresher, _, _ = parts  # attached but never started (an unstarted service)
    first, fresh = source.current(*VIEW_24H)
    add_bar(store, END)
    second, fresh = source.current(*VIEW_24H)
    assert fresh and second is not first and second.at_ms == END + MINUTE
    assert source.runs == 2 and refresher.runs == 0
