"""Plain helpers of the estimated-levels tests (import as ``levels.support``)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from helpers import wait_until

from heatmap_engine.levels import Bar, Bars, LevelsBook, Readings
from heatmap_engine.models import Candle, OpenInterest

T0 = 1_780_000_000_000 - 1_780_000_000_000 % 3_600_000  # an hour boundary
FIVE_MINUTES = 300_000
G = math.log1p(0.1 / 100)  # the default bucket width, from its definition


def flat_bar(i: int, price: float, step_ms: int = FIVE_MINUTES, **volumes) -> Bar:
    """Bar ``i`` after ``T0`` with no range (open = high = low = close = ``price``)."""
    return Bar(T0 + i * step_ms, T0 + (i + 1) * step_ms, price, price, price, price, **volumes)


def bar(i: int, low: float, high: float, close: float | None = None, step_ms=FIVE_MINUTES, **v):
    close = high if close is None else close
    return Bar(T0 + i * step_ms, T0 + (i + 1) * step_ms, low, high, low, close, **v)


def bucket(price: float) -> int:
    """The bucket of ``price`` at the default width, from the grid's definition."""
    return math.floor(math.log(price) / G)


def mid(k: int) -> float:
    """The middle price of bucket ``k`` at the default width."""
    return math.exp((k + 0.5) * G)


def random_market(seed: int, count: int, step_ms: int = FIVE_MINUTES, volume=True):
    """A random walk of ``count`` bars with volume, taker-buy volume and open interest."""
    rng = np.random.default_rng(seed)
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.003, count)))
    open_ = np.r_[50_000, close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, count)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, count)))
    vol = rng.lognormal(3, 1, count) if volume else None
    taker = vol * rng.uniform(0.2, 0.8, count) if volume else None
    opens = T0 + step_ms * np.arange(count)
    bars = Bars.build(opens, open_, high, low, close, vol, taker, step_ms)
    oi = 1_000 * np.exp(np.cumsum(rng.normal(0, 0.004, count + 1)))
    readings = Readings.build(np.r_[T0, opens + step_ms], oi)
    return bars, readings


def long_usd(book: LevelsBook) -> np.ndarray:
    """(buckets,) standing long USD of the book's committed state, and the first bucket."""
    lo, usd = book.state.tier_usd()
    return lo, usd[0].sum(axis=0)


MINUTE = 60_000
DAY_T0 = 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000  # a day boundary


def fill_store(store, symbol: str, minutes: int, seed: int = 1, start: int | None = None) -> None:
    """A random walk of 1m candles and 5m open interest (contracts) from ``start`` (default
    ``DAY_T0``) into a ``SqliteStore``."""
    t0 = DAY_T0 if start is None else start
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, minutes)))
    opens = np.r_[100.0, close[:-1]]
    candles = []
    for i in range(minutes):
        o, c = float(opens[i]), float(close[i])
        hi, lo = max(o, c) * 1.0005, min(o, c) * 0.9995
        t = t0 + i * MINUTE
        candles.append(Candle("binance", symbol, "1m", t, t + MINUTE - 1, o, hi, lo, c,
                              10.0, 10.0 * c, 5.0 + rng.uniform(-2, 2), 10))  # fmt: skip
    oi = [("5m", OpenInterest("binance", symbol, t0 + i * 5 * MINUTE,
                              1000.0 * (1 + 0.01 * np.sin(i / 7)), None))
          for i in range(minutes // 5 + 1)]  # fmt: skip
    store.write_batch([], candles=candles, open_interest=oi)


@contextmanager
def refresher_looping(refresher, stop: threading.Event) -> Iterator[threading.Thread]:
    """``refresher.run`` on its own thread, as the service runs it, once its first pass is done;
    stopped (``stop`` set, the thread joined) on leaving."""
    thread = threading.Thread(target=refresher.run, name="heatmap-levels-refresh", daemon=True)
    thread.start()
    try:
        wait_until(lambda: refresher.passes >= 1, timeout=10)
        yield thread
    finally:
        stop.set()
        thread.join(10)
