"""The backfill fills every symbol's holes within its request budgets (real client, fake Binance).

One clock drives both sides: the fake Binance counts its limits on it and the backfill's budgets
wait on it (a wait moves it on), so minutes of polite pacing take no time. The backfill's own
"now" stays fixed at the start, so the horizon each series must cover is known exactly.
"""

from __future__ import annotations

import logging

import pytest

from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.history.backfill import Backfill
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, OpenInterest
from market_sim.fake_binance import FakeBinance

pytestmark = pytest.mark.slow
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
MINUTE, FIVE, HOUR, DAY = 60_000, 300_000, 3_600_000, 86_400_000
START_MS = 1_780_000_000_000 - 1_780_000_000_000 % HOUR + 30_000  # 30 s into an hour
WEIGHT_PER_MINUTE, OI_PER_5MIN = 10, 2
HORIZONS = {("candles", "1m"): 0.5, ("open_interest", "5m"): 1.0, ("candles", "5m"): 2.0,
            ("candles", "1h"): 20.0}  # fmt: skip


class SharedClock:
    def __init__(self, start_s: float):
        self.now = start_s
        self.waited = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> bool:
        self.now += seconds
        self.waited += seconds
        return False  # "not stopped", as Event.wait answers


def expected_times(step: int, days: float) -> list[int]:
    """Every closed row of the horizon: from the step holding its start to the last step that
    began before the start's current one."""
    first = (START_MS - int(days * DAY)) // step * step
    return list(range(first, START_MS - START_MS % step, step))


def candle(symbol: str, open_ms: int, closed: bool = True) -> Candle:
    return Candle("binance", symbol, "1m", open_ms, open_ms + MINUTE - 1, 1.0, 1.0, 1.0, 1.0, 1.0,
                  1.0, 1.0, 1, closed)  # fmt: skip


def stored(store: SqliteStore, table: str, symbol: str, kind: str) -> list[int]:
    if table == "candles":
        return [c.open_time_ms for c in store.candles(symbol, kind, 0, 2**62, 100_000)]
    return [o.time_ms for o in store.open_interest(symbol, kind, 0, 2**62, 100_000)]


def max_in_window(times: list[tuple[int, int]], window_ms: int) -> int:
    """The largest sum of amounts over any window of ``window_ms`` (sliding)."""
    best, left, total = 0, 0, 0
    for when, amount in times:
        total += amount
        while times[left][0] <= when - window_ms:
            total -= times[left][1]
            left += 1
        best = max(best, total)
    return best


def test_every_symbols_holes_are_filled_within_the_budgets(tmp_path):
    clock = SharedClock(START_MS / 1000)
    store = SqliteStore(tmp_path / "h.sqlite3")
    this_minute = START_MS - START_MS % MINUTE
    # BTC: its live (forming) candle was stored first, the case that used to be skipped;
    # ETH: an hour in the middle of the horizon and its newest open interest are there already
    store.write_batch([], [], [candle("BTCUSDT", this_minute, closed=False)])
    middle = [candle("ETHUSDT", this_minute - 6 * HOUR + i * MINUTE) for i in range(60)]
    newest_oi = OpenInterest("binance", "ETHUSDT", START_MS - START_MS % FIVE, 5, 5)
    store.write_batch([], [], middle, [("5m", newest_oi)])

    def emit(items):
        items = list(items)
        store.write_batch([], [], [i for i in items if isinstance(i, Candle)],
                          [i for i in items if isinstance(i, tuple)])  # fmt: skip

    with FakeBinance(clock=clock) as fake:
        backfill = Backfill(
            BinanceRest(fake.rest_base, timeout=5), store, emit,
            kline_days=HORIZONS["candles", "1m"], oi_days=HORIZONS["open_interest", "5m"],
            five_minute_days=HORIZONS["candles", "5m"], hourly_days=HORIZONS["candles", "1h"],
            weight_per_minute=WEIGHT_PER_MINUTE, oi_requests_per_5min=OI_PER_5MIN,
            clock=lambda: START_MS / 1000, wait=clock.advance, budget_clock=clock,
        )  # fmt: skip
        assert backfill.run(SYMBOLS) is True
        answered = fake.rest_request_times()
        # everything is complete now: a second pass finds no hole and asks nothing
        assert backfill.run(SYMBOLS) is True
        assert len(fake.rest_request_times()) == len(answered)
    try:
        for (table, kind), days in HORIZONS.items():
            step = {"1m": MINUTE, "5m": FIVE, "1h": HOUR}[kind]
            for symbol in SYMBOLS:
                want = expected_times(step, days)
                if (table, kind) == ("candles", "1m"):
                    want = [*want, this_minute]  # the forming minute too (BTC's: its live one)
                if table == "open_interest":
                    want = [*want, START_MS - START_MS % step]  # the newest snapshot
                assert stored(store, table, symbol, kind) == want, (table, kind, symbol)
        btc_live = store.candles("BTCUSDT", "1m", this_minute, this_minute + 1, 1)[0]
        assert btc_live.close == 1.0  # the backfill never overwrote the live one
        klines = [(t, w) for t, path, w in answered if path == "/fapi/v1/klines"]
        oi = [(t, 1) for t, path, _ in answered if path == "/futures/data/openInterestHist"]
        assert klines and oi
        assert max_in_window(klines, 60_000) <= WEIGHT_PER_MINUTE
        assert max_in_window(oi, 300_000) <= OI_PER_5MIN
        # spread over time, not a burst: the pacing took (virtual) minutes, and the fake never
        # had to refuse a request
        assert len(oi) == len(SYMBOLS)  # one each: a day of 5-minute points fits one answer
        assert clock.waited >= (len(oi) - OI_PER_5MIN) / OI_PER_5MIN * 300
        assert backfill.status()["rate_limited"] == 0
    finally:
        store.close()


def test_an_unreachable_binance_ends_the_run_quietly(tmp_path, caplog):
    store = SqliteStore(tmp_path / "h.sqlite3")
    rest = BinanceRest("http://127.0.0.1:9", timeout=1)  # nothing listens on port 9
    backfill = Backfill(rest, store, lambda items: None, kline_days=0.1, oi_days=0)
    try:
        with caplog.at_level(logging.DEBUG):
            assert backfill.run(["BTCUSDT"]) is False
            assert backfill.run(["BTCUSDT"]) is False  # within the client's backoff: no request
        ours = [r for r in caplog.records if r.name == "heatmap_engine.history.backfill"]
        assert ours and all(r.levelno == logging.DEBUG for r in ours)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]  # the REST client's one
        assert backfill.retry_in() > 0
        assert backfill.status()["last_error"]
    finally:
        store.close()


def test_a_symbol_listed_inside_the_horizon_is_asked_for_its_missing_past_once(tmp_path):
    listed = START_MS - START_MS % HOUR - 5 * DAY  # five days of hourly candles exist
    rows = [[t, "1.0", "1.0", "1.0", "1.0", "2.0", t + HOUR - 1, "2.0", 4, "1.0", "1.0", "0"]
            for t in range(listed, START_MS - START_MS % HOUR, HOUR)]  # fmt: skip
    store = SqliteStore(tmp_path / "h.sqlite3")
    emit = lambda items: store.write_batch([], [], list(items))  # noqa: E731
    pacing = SharedClock(0.0)
    try:
        with FakeBinance(clock=lambda: START_MS / 1000) as fake:
            fake.set_klines("BTCUSDT", rows, interval="1h")
            backfill = Backfill(
                BinanceRest(fake.rest_base, timeout=5), store, emit, kline_days=0, oi_days=0,
                hourly_days=20, clock=lambda: START_MS / 1000, wait=pacing.advance,
                budget_clock=pacing,
            )  # fmt: skip
            assert backfill.run(["BTCUSDT"]) is True
            asked = len(fake.rest_requests)
            assert stored(store, "candles", "BTCUSDT", "1h") == [r[0] for r in rows]
            assert backfill.run(["BTCUSDT"]) is True  # the 15 days before the listing: known empty
            assert len(fake.rest_requests) == asked
    finally:
        store.close()
