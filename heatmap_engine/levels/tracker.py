"""The live model: one ``LevelsBook`` per tracked symbol, fed incrementally while the service runs.

A book starts from the history store (``seed``): the stored open interest (5m
``openInterestHist`` and the poller's ``live`` readings) and closed 1m candles of the
``levels_warmup_hours`` before the newest stored candle, fed in time order as a run over stored
series feeds them. From then on, every ``levels_live_tick_seconds``, each book takes only what
is new: the closed 1m candles the engine published since its last bar (a candle is closed when
its kline frame says so or when a later candle has opened) and the readings the open-interest
poller handed over since (``add_reading``). A tick never recomputes a book; its cost is one
``apply_bars`` per closed candle and symbol (``benchmarks/bench_levels.py`` measures 400 symbols).

Without a store (``HEATMAP_HISTORY=0``) a book starts at the first polled reading. A symbol whose
store holds no open interest yet (the backfill has not reached it) is tried again a minute later.
One lock guards the books: the tracker's thread writes, readers take ``profile`` copies.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from heatmap_engine.levels.brackets import BracketTable
from heatmap_engine.levels.layout import placements
from heatmap_engine.levels.live import LevelsBook
from heatmap_engine.levels.model import symbol_layout
from heatmap_engine.levels.results import BookSnapshot
from heatmap_engine.levels.run import HOUR_MS
from heatmap_engine.levels.series import LevelsInputError
from heatmap_engine.levels.settings import LevelsSettings
from heatmap_engine.levels.source import read_bars, read_readings
from heatmap_engine.levels.state import Bar
from heatmap_engine.models import Candle, OpenInterest

MINUTE_MS = 60_000
RETRY_SEED_MS = 60_000  # wall time between two tries to seed a symbol from the store
# outcomes a live book keeps for its snapshot: an hour of 1m bars (readers use the live book's
# profile; a range's predicted liquidations come from a run over the store). 1,440 cost 56 KiB
# a symbol, 32 MiB at 570 symbols
LIVE_OUTCOMES = 60
CandleReader = Callable[[str], tuple[Candle, ...]]


@dataclass
class _Live:
    book: LevelsBook
    last_bar_ms: int  # open time of the newest bar fed (-1: none)
    last_reading_ms: int
    version: int = 0  # bars and readings fed


class LevelsTracker:
    def __init__(
        self,
        settings: LevelsSettings,
        table: BracketTable,
        candles: CandleReader,
        store: Callable[[], object],
        wall_ms: Callable[[], int],
    ) -> None:
        self.settings, self.table = settings, table
        self._candles, self._store, self._wall_ms = candles, store, wall_ms
        self._books: dict[str, _Live] = {}
        self._seed_tried: dict[str, int] = {}
        self._waiting: dict[str, list[OpenInterest]] = {}
        self._inbox: queue.SimpleQueue[OpenInterest] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.bars_fed = self.readings_fed = self.invalid_bars = 0
        self._serial = 0

    # -- writers (the tracker's thread; the poller's for add_reading) ------------------------
    def add_reading(self, reading: OpenInterest) -> None:
        self._inbox.put(reading)

    def tick(self, symbols: Iterable[str]) -> None:
        """Feed every book what is new since the last tick (seeding the books not yet built)."""
        while True:
            try:
                reading = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._waiting.setdefault(reading.symbol, []).append(reading)
        for symbol in symbols:
            live = self._books.get(symbol)
            live = (live and self._older_seed(symbol, live)) or live or self._seed(symbol)
            readings = self._waiting.pop(symbol, [])
            if live is None:
                if readings:  # kept for when the book can start
                    self._waiting[symbol] = readings[-100:]
                continue
            unpriced = self._feed(live, self._new_bars(symbol, live), readings)
            if unpriced:  # no price known yet to start the book at: kept for the next tick
                self._waiting[symbol] = unpriced[-100:]

    def _new_bars(self, symbol: str, live: _Live) -> list[Bar]:
        candles = self._candles(symbol)
        fresh: list[Candle] = []
        for i in range(len(candles) - 1, -1, -1):
            c = candles[i]
            if c.open_time_ms <= live.last_bar_ms:
                break
            closed = c.closed or i < len(candles) - 1  # a later candle has opened
            if c.interval == "1m" and closed:
                fresh.append(c)
        return [_bar(c) for c in reversed(fresh)]

    def _feed(
        self, live: _Live, bars: list[Bar], readings: list[OpenInterest]
    ) -> list[OpenInterest]:
        """Bars and readings in time order (a bar before a reading of its end time); returns
        the readings that could not be priced (before any candle)."""
        valid = [b for b in bars if _valid(b)]
        self.invalid_bars += len(bars) - len(valid)
        readings = [r for r in readings if r.time_ms > live.last_reading_ms]
        placed: list = [None] * len(valid)
        if len(valid) > 1:  # many at once (a seed): vectorised
            lows, highs = np.array([b.low for b in valid]), np.array([b.high for b in valid])
            placed = placements(live.book.layout, lows, highs)
            # the bars ending after the newest reading stay pending in the book: with their own
            # copies, not views keeping their chunk's arrays (~380 KiB a symbol) alive
            newest = max((r.time_ms for r in readings), default=-1)
            placed = [
                p.own() if b.end_ms > newest else p for b, p in zip(valid, placed, strict=True)
            ]
        events = [(b.end_ms, 0, (b, p)) for b, p in zip(valid, placed, strict=True)]
        events += [(r.time_ms, 1, r) for r in readings]
        unpriced: list[OpenInterest] = []
        if not events:
            return unpriced
        events.sort(key=lambda e: (e[0], e[1]))
        with self._lock:
            book, price = live.book, None
            for _, kind, item in events:
                if kind == 0:
                    bar, placement = item
                    book.add_bar(bar, placement)
                    live.last_bar_ms, price = bar.open_ms, bar.close
                    self.bars_fed += 1
                else:
                    price = price or (book.state.last_close if book.state else None)
                    if price is None:
                        price = self._price_now(item.symbol)
                    if price is None:
                        unpriced.append(item)
                        continue
                    book.add_open_interest(item.time_ms, item.open_interest, price)
                    live.last_reading_ms = item.time_ms
                    self.readings_fed += 1
            if book.state is not None:  # its arrays back to its levels' span (no number moves)
                book.state.fit()
            self._serial += 1
            live.version = self._serial  # unique across rebuilt books (readers' cache keys)
        return unpriced

    def _price_now(self, symbol: str) -> float | None:
        candles = self._candles(symbol)
        return candles[-1].close if candles else None

    def _seed(self, symbol: str) -> _Live | None:
        """A book from the store's warm-up; else, once a polled reading is waiting, an empty
        book that starts at it. None while neither is there (the store is asked again after
        ``RETRY_SEED_MS``, or as soon as a reading waits)."""
        store, waiting = self._store(), symbol in self._waiting
        now = self._wall_ms()
        if not waiting and (store is None or now - self._seed_tried.get(symbol, -RETRY_SEED_MS)
                            < RETRY_SEED_MS):  # fmt: skip
            return None
        self._seed_tried[symbol] = now
        layout, _ = symbol_layout(self.settings, symbol, self.table)
        live = _Live(self._book(layout), -1, -1)
        if (store is None or not self._seed_from_store(store, symbol, live)) and not waiting:
            return None
        self._books[symbol] = live
        return live

    def _older_seed(self, symbol: str, live: _Live) -> _Live | None:
        """A young book (started less than the warm-up before its newest bar) is built again
        from the store once the store holds candles from an hour or more before its start (the
        backfill reached the symbol after the book started); None while nothing better."""
        store, started = self._store(), live.book.started_ms
        warmup = int(self.settings.levels_warmup_hours * HOUR_MS)
        now = self._wall_ms()
        if store is None or started is None or live.last_bar_ms - started >= warmup - 3 * HOUR_MS:
            return None
        if now - self._seed_tried.get(symbol, -RETRY_SEED_MS) < RETRY_SEED_MS:
            return None
        self._seed_tried[symbol] = now
        newest = store.last_time("candles", symbol, "1m")
        end = (newest or 0) + MINUTE_MS
        first = store.candles(symbol, "1m", end - warmup, end, 1)
        if not first or first[0].open_time_ms > started - HOUR_MS:
            return None
        layout = live.book.layout
        fresh = _Live(self._book(layout), -1, -1)
        if not self._seed_from_store(store, symbol, fresh):
            return None
        self._books[symbol] = fresh
        return fresh

    def _book(self, layout) -> LevelsBook:
        gap_ms = self.settings.levels_oi_gap_minutes * 60_000.0
        return LevelsBook(layout, gap_ms, keep_outcomes=LIVE_OUTCOMES)

    def _seed_from_store(self, store, symbol: str, live: _Live) -> bool:
        newest = store.last_time("candles", symbol, "1m")
        if newest is None:
            return False
        end = newest + MINUTE_MS
        start = end - int(self.settings.levels_warmup_hours * HOUR_MS)
        try:
            readings = read_readings(store, symbol, start - 3 * HOUR_MS, end)
            bars = read_bars(store, symbol, "1m", int(readings.time_ms[0]), end)
        except LevelsInputError:
            return False
        times, amounts = readings.time_ms.tolist(), readings.contracts.tolist()
        rows = [OpenInterest("binance", symbol, t, c) for t, c in zip(times, amounts, strict=True)]
        # the first reading is priced at the first bar's open, as runs over series do
        live.book.add_open_interest(rows[0].time_ms, rows[0].open_interest, float(bars.open[0]))
        live.last_reading_ms = rows[0].time_ms
        self._feed(live, bars.bars(), rows[1:])
        return True

    # -- readers (any thread) ---------------------------------------------------------------
    def snapshot(self, symbol: str, row_buckets: int = 1) -> BookSnapshot | None:
        """The live book's profile and kept predictions now (None before it started)."""
        live = self._books.get(symbol)
        if live is None:
            return None
        with self._lock:
            return live.book.snapshot(row_buckets)

    def unknown_share(self, symbol: str) -> float:
        """Share of the live book's open interest at unknown levels (1 before it started)."""
        live = self._books.get(symbol)
        if live is None:
            return 1.0
        with self._lock:
            return live.book.unknown_share()

    def version(self, symbol: str) -> int:
        live = self._books.get(symbol)
        return -1 if live is None else live.version

    def status(self) -> dict[str, object]:
        return {
            "books": len(self._books),
            "preset": self.settings.levels_preset,
            "bars_fed": self.bars_fed,
            "readings_fed": self.readings_fed,
            "invalid_bars": self.invalid_bars,
        }


def _bar(c: Candle) -> Bar:
    end = c.open_time_ms + MINUTE_MS
    return Bar(c.open_time_ms, end, c.open, c.high, c.low, c.close, c.volume, c.taker_buy_volume)


def _valid(b: Bar) -> bool:
    prices = (b.open, b.high, b.low, b.close)
    return (
        all(math.isfinite(p) and p > 0 for p in prices)
        and b.low <= min(b.open, b.close)
        and b.high >= max(b.open, b.close)
    )
