"""Recent candles as compact sorted column tables (81 bytes a candle), one book a symbol.

The engine thread writes (``put`` one kline frame, ``stage`` a bulk load); nothing it writes
is visible until ``publish`` folds the writes into a new read-only array, sorted by open time,
one row per open time (the latest write wins), at most ``capacity`` rows (the newest). A
published array is never written again, so readers on any thread may hold it as long as they
like; the ``version`` moves with every publish that changed something.

A day of 1-minute candles costs 1,440 x 81 bytes = 114 KiB a symbol (646 bytes a candle as
``Candle`` objects). The usual publish (the forming candle updated, or the next one opened)
is one copy of the table; only out-of-order writes (a backfill) sort.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Container, Iterable, Sequence

import numpy as np

from heatmap_engine.candles import INTERVAL_MS
from heatmap_engine.failures import Failures
from heatmap_engine.models import Candle

CANDLE_DTYPE = np.dtype(
    [
        ("open_time_ms", "<i8"),
        ("close_time_ms", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("volume", "<f8"),
        ("quote_volume", "<f8"),
        ("taker_buy_volume", "<f8"),
        ("trades", "<i8"),
        ("closed", "?"),
    ]
)
EMPTY = np.empty(0, dtype=CANDLE_DTYPE)
EMPTY.flags.writeable = False


def candle_row(c: Candle) -> tuple:
    """A ``Candle`` as one row of ``CANDLE_DTYPE`` (the fields after exchange/symbol/interval)."""
    return (c.open_time_ms, c.close_time_ms, c.open, c.high, c.low, c.close, c.volume,
            c.quote_volume, c.taker_buy_volume, c.trades, c.closed)  # fmt: skip


def rows_table(rows: Sequence[Sequence], step_ms: int = 60_000) -> np.ndarray:
    """Store rows as a table, in their order. A row is either the ``candles`` table's columns
    from ``open_time_ms`` on (11: open and close time, open, high, low, close, volume, quote
    volume, taker-buy volume, trades, closed) or the short form (open time, open, high, low,
    close, volume[, taker-buy volume]): its close time is the interval's end, the quote volume
    and trades 0, closed true, and a taker-buy volume not given (or None) is NaN (unknown)."""
    out = []
    for r in rows:
        if len(r) >= 11:
            out.append((int(r[0]), int(r[1]), *map(float, r[2:9]), int(r[9]), bool(r[10])))
            continue
        taker = r[6] if len(r) > 6 and r[6] is not None else math.nan
        t = int(r[0])
        out.append((t, t + step_ms - 1, *map(float, r[1:6]), 0.0, float(taker), 0, True))
    return np.array(out, dtype=CANDLE_DTYPE) if out else EMPTY


def _raw(table: np.ndarray) -> np.ndarray:
    """A contiguous table's bytes: copies of these are a memcpy (numpy copies a packed
    structured array field by field, 25x slower)."""
    return table.view(np.uint8)


def merge(tables: Iterable[np.ndarray], capacity: int) -> np.ndarray:
    """Tables in the order they were written -> one read-only table: sorted by open time, the
    last written row per open time, the newest ``capacity`` rows."""
    combined = np.concatenate([_raw(t) for t in tables]).view(CANDLE_DTYPE)
    order = np.argsort(combined["open_time_ms"], kind="stable")
    times = combined["open_time_ms"][order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = times[1:] != times[:-1]
    keep = order[last][-capacity:] if capacity > 0 else order[:0]
    rows = _raw(combined).reshape(-1, CANDLE_DTYPE.itemsize)
    out = rows[keep].reshape(-1).view(CANDLE_DTYPE)  # a new array holding exactly its rows
    out.flags.writeable = False
    return out


class CandleView(Sequence):
    """A read-only table of candles seen as a sequence of ``Candle`` built on access."""

    __slots__ = ("_exchange", "_interval", "_symbol", "_table")

    def __init__(self, table: np.ndarray, exchange: str, symbol: str, interval: str) -> None:
        self._table, self._exchange, self._symbol = table, exchange, symbol
        self._interval = interval

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._table)))]
        row = self._table[index].tolist()
        return Candle(self._exchange, self._symbol, self._interval, *row)


class CandleBook:
    """The candles of one symbol (one exchange and interval): see the module."""

    __slots__ = ("_bulk", "_pending", "exchange", "interval", "published", "symbol", "version")

    def __init__(self, exchange: str, symbol: str, interval: str):
        self.exchange, self.symbol, self.interval = exchange, symbol, interval
        self.published: np.ndarray = EMPTY
        self.version = 0
        self._pending: dict[int, tuple] = {}  # open time -> newest row since the last publish
        self._bulk: list[np.ndarray] = []  # staged tables, in the order written

    def put(self, candle: Candle) -> None:
        self._pending[candle.open_time_ms] = candle_row(candle)

    def stage(self, table: np.ndarray) -> None:
        """A bulk write; it comes after every ``put`` before it (so later writes still win)."""
        if self._pending:
            self._bulk.append(self._pending_table())
        self._bulk.append(table)

    @property
    def dirty(self) -> bool:
        return bool(self._pending or self._bulk)

    def _pending_table(self) -> np.ndarray:
        table = np.array(list(self._pending.values()), dtype=CANDLE_DTYPE)
        self._pending.clear()
        return table

    def publish(self, capacity: int) -> bool:
        """Fold the writes into a new published table; True when it changed."""
        if not self.dirty:
            if len(self.published) <= capacity:
                return False
            new = merge([self.published], capacity)
        elif not self._bulk and (fast := self._append(capacity)) is not None:
            new = fast
        else:
            tables = [self.published, *self._bulk]
            self._bulk = []
            if self._pending:
                tables.append(self._pending_table())
            new = merge(tables, capacity)
        self.published = new
        self.version += 1
        return True

    def _append(self, capacity: int) -> np.ndarray | None:
        """The usual publish: every pending open time at or after the newest published one.
        None when some write is older (``merge`` sorts then)."""
        old, pending = self.published, self._pending
        keys = sorted(pending)
        last = int(old["open_time_ms"][-1]) if len(old) else None
        if last is not None and keys[0] < last:
            return None
        fresh = keys[1:] if keys[0] == last else keys
        drop = max(0, len(old) + len(fresh) - capacity)  # the oldest rows leave the day
        if drop > len(old):
            return None
        kept = len(old) - drop
        new = np.empty(kept + len(fresh), dtype=CANDLE_DTYPE)
        _raw(new)[: kept * CANDLE_DTYPE.itemsize] = _raw(old[drop:])
        if len(fresh) != len(keys) and kept:
            new[kept - 1] = pending[last]
        for i, key in enumerate(fresh, start=kept):
            new[i] = pending[key]
        pending.clear()
        new.flags.writeable = False
        return new


class CandleBooks:
    """Every tracked symbol's book: written on the engine thread (``put``, ``load``), published
    at each refresh (``publish`` touches only the books written since), read on any thread
    (``recent``, ``table``). ``capacity`` is how many candles a book keeps (a day of 1m)."""

    TUPLES_KEPT = 16  # symbols whose Candle tuple is kept for readers (they look at a few)

    def __init__(self, counters: Counter, failures: Failures, capacity: int = 1440):
        self.capacity = capacity
        self.books: dict[str, CandleBook] = {}
        self._dirty: set[str] = set()
        self._counters, self._failures = counters, failures
        # symbol -> (the published table, its Candle tuple)
        self._tuples: dict[str, tuple[np.ndarray, tuple[Candle, ...]]] = {}
        self._tuples_lock = threading.Lock()

    def _book(self, symbol: str, exchange: str, interval: str, tracked: Container[str]):
        """The symbol's book (made on first use); None for an untracked symbol, or another
        interval than the book's (counted: one book holds one interval)."""
        book = self.books.get(symbol)
        if book is None:
            if symbol not in tracked:
                return None
            book = self.books[symbol] = CandleBook(exchange, symbol, interval)
        if book.interval != interval:
            self._counters["candles_other_interval"] += 1
            return None
        return book

    def put(self, candle: Candle, tracked: Container[str]) -> None:
        book = self._book(candle.symbol, candle.exchange, candle.interval, tracked)
        if book is not None:
            book.put(candle)
            self._dirty.add(candle.symbol)
            self._counters["candles"] += 1

    def load(self, symbol: str, rows, interval: str, exchange: str, tracked) -> int:
        """Store rows (see ``rows_table``) or a ``CANDLE_DTYPE`` table; how many were taken."""
        book = self._book(symbol, exchange, interval, tracked)
        if book is None or len(rows) == 0:
            return 0
        is_table = getattr(rows, "dtype", None) == CANDLE_DTYPE
        table = rows if is_table else rows_table(rows, INTERVAL_MS.get(interval, 60_000))
        book.stage(table)
        self._dirty.add(symbol)
        self._counters["candles"] += len(table)
        return len(table)

    def keep_only(self, tracked: Container[str]) -> None:
        for symbol in [s for s in self.books if s not in tracked]:
            del self.books[symbol]

    def publish(self) -> None:
        for symbol in self._dirty:
            book = self.books.get(symbol)
            if book is None:
                continue
            try:
                book.publish(self.capacity)
            except Exception as exc:  # one symbol must not freeze every other one
                self._failures.record(f"publishing candles of {symbol}", exc)
        self._dirty.clear()

    def recent(self, symbol: str) -> tuple[Candle, ...]:
        """The published candles, oldest first: one immutable tuple per published version
        (built on the first call after a refresh changed them, then shared)."""
        book = self.books.get(symbol)
        if book is None:
            return ()
        table = book.published  # one read: a refresh may replace it meanwhile
        cached = self._tuples.get(symbol)
        if cached is not None and cached[0] is table:
            return cached[1]
        ex, iv = book.exchange, book.interval
        built = tuple(Candle(ex, symbol, iv, *row) for row in table.tolist())
        with self._tuples_lock:
            self._tuples[symbol] = (table, built)
            while len(self._tuples) > self.TUPLES_KEPT:
                del self._tuples[next(iter(self._tuples))]
        return built

    def view(self, symbol: str) -> CandleView:
        """The published candles as a sequence that builds a ``Candle`` only for the rows read
        (a reader that wants the newest few of 570 symbols' days every few seconds)."""
        book = self.books.get(symbol)
        if book is None:
            return CandleView(EMPTY, "", symbol, "")
        return CandleView(book.published, book.exchange, symbol, book.interval)

    def table(self, symbol: str) -> tuple[np.ndarray, int]:
        """The published candles as a read-only ``CANDLE_DTYPE`` array (never written again)
        and the book's version (it moves at each refresh that changed them); (empty, 0)
        for a symbol without candles."""
        book = self.books.get(symbol)
        return (EMPTY, 0) if book is None else (book.published, book.version)
