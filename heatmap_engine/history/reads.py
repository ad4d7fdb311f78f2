"""The store's reads (any thread, each through its own read-only connection).

Every statement here is led by an index: the keys start with the symbol, then the kind
(interval, period) and the time, so a per-symbol range is one index search, however many symbols
and days are stored (``tests/engine/test_history_plans.py`` checks each plan). Statements that
concern every symbol walk the distinct symbols with an index search per step (``SYMBOLS``) rather
than scanning a table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from heatmap_engine.models import LONG, SHORT, Candle, Liquidation, OpenInterest

SIDES = (LONG, SHORT)
LIQ_COLUMNS = (
    "id, exchange, symbol, side, price, quantity, notional_usd, event_time_ms, received_at_ms,"
    " status"
)
# the distinct symbols of a table: one index search per symbol (a "skip scan")
SYMBOLS = (
    "WITH RECURSIVE s(symbol) AS (SELECT MIN(symbol) FROM {table} UNION ALL"
    " SELECT (SELECT MIN(symbol) FROM {table} WHERE symbol > s.symbol) FROM s"
    " WHERE s.symbol IS NOT NULL) SELECT symbol FROM s WHERE symbol IS NOT NULL"
)
WINDOW_ROWS = (
    "SELECT event_time_ms, price, notional_usd, side, quantity, exchange FROM liquidations"
    " WHERE symbol = ? AND event_time_ms >= ? AND event_time_ms < ? ORDER BY event_time_ms"
)
WINDOW = (
    f"SELECT {LIQ_COLUMNS} FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
    " AND event_time_ms <= ? ORDER BY event_time_ms"
)
NEWEST_LIQUIDATION = "SELECT MAX(event_time_ms) FROM liquidations WHERE symbol = ?"
MARK_PRICE_AT = (
    "SELECT price, time_ms FROM mark_prices WHERE symbol = ? AND time_ms <= ?"
    " ORDER BY time_ms DESC LIMIT 1"
)
CANDLES = (
    "SELECT * FROM candles WHERE symbol = ? AND interval = ? AND open_time_ms >= ?"
    " AND open_time_ms < ? ORDER BY open_time_ms LIMIT ?"
)
# ``CANDLES`` narrowed to the columns a bar of the estimated levels takes (the same rows)
CANDLE_BARS = (
    "SELECT open_time_ms, open, high, low, close, volume, taker_buy_volume, closed FROM candles"
    " WHERE symbol = ? AND interval = ? AND open_time_ms >= ? AND open_time_ms < ?"
    " ORDER BY open_time_ms LIMIT ?"
)
OPEN_INTEREST = (
    "SELECT exchange, symbol, time_ms, open_interest, open_interest_usd FROM open_interest"
    " WHERE symbol = ? AND period = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms LIMIT ?"
)
LAST_TIME = {
    "candles": "SELECT MAX(open_time_ms) FROM candles WHERE symbol = ? AND interval = ?",
    "open_interest": "SELECT MAX(time_ms) FROM open_interest WHERE symbol = ? AND period = ?",
}
# the stored times of a symbol's series after each one where the next is missing: with the
# range's edges, that is every hole (a window over the key, no sort)
HOLES = {
    table: (
        f"SELECT previous, t FROM (SELECT {column} AS t, LAG({column}) OVER (ORDER BY {column})"
        f" AS previous FROM {table} WHERE symbol = ? AND {key} = ? AND {column} >= ?"
        f" AND {column} < ?) WHERE previous IS NULL OR t - previous > ?"
        f" UNION ALL SELECT MAX({column}), NULL FROM {table} WHERE symbol = ? AND {key} = ?"
        f" AND {column} >= ? AND {column} < ?"
    )
    for table, column, key in (
        ("candles", "open_time_ms", "interval"),
        ("open_interest", "time_ms", "period"),
    )
}
TOTALS = "SELECT side, count, notional_usd FROM liquidation_totals WHERE side IN (0, 1)"
GAPS = (
    "SELECT kind, start_ms, end_ms, reason FROM gaps WHERE start_ms < ? ORDER BY start_ms DESC"
    " LIMIT ?"
)


def liquidation(row: sqlite3.Row | tuple) -> Liquidation:
    _, exchange, symbol, side, price, qty, notional, event_ms, received_ms, status = row
    return Liquidation(
        exchange, symbol, SIDES[side], price, qty, notional, event_ms, received_ms, status
    )


class StoreReads:
    """The read half of ``SqliteStore`` (which provides ``_reader``: this thread's connection)."""

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def get_meta(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def symbols(self, table: str = "liquidations") -> list[str]:
        """The symbols with rows in ``table``, in order."""
        if table not in ("liquidations", "candles", "open_interest", "mark_prices"):
            raise ValueError(f"no symbols in {table}")
        return [r[0] for r in self._reader().execute(SYMBOLS.format(table=table))]

    def liquidations_since(
        self, start_ms: int, symbols: Iterable[str] | None = None
    ) -> Iterator[Liquidation]:
        """Stored liquidations with trade time >= ``start_ms`` (of ``symbols``, or all),
        oldest first within each symbol."""
        for symbol in self.symbols() if symbols is None else symbols:
            for row in self._reader().execute(WINDOW, (symbol, start_ms, 2**62)):
                yield liquidation(row)

    def window_rows(self, symbol: str, start_ms: int, end_ms: int | None = None) -> list[tuple]:
        """(time, price, notional, side code, quantity, exchange) in [start_ms, end_ms), oldest
        first: the compact form a restart loads straight into the engine's columns."""
        end = end_ms if end_ms is not None else 2**62
        return self._reader().execute(WINDOW_ROWS, (symbol, start_ms, end)).fetchall()

    def query_liquidations(
        self, symbol: str, start_ms: int, end_ms: int, *, min_notional: float = 0.0,
        side: str | None = None, limit: int = 1000, after: tuple[int, int] | None = None,
    ) -> list[tuple[int, Liquidation]]:  # fmt: skip
        """A page in (trade time, id) order; pass the last row's (time, id) as ``after`` for the
        next page (keyset paging: every page costs the same, however deep)."""
        sql = (f"SELECT {LIQ_COLUMNS} FROM liquidations WHERE symbol = ? AND event_time_ms >= ?"
               " AND event_time_ms < ? AND notional_usd >= ?")  # fmt: skip
        args: list[Any] = [symbol, start_ms, end_ms, min_notional]
        if after is not None:
            sql += " AND (event_time_ms > ? OR (event_time_ms = ? AND id > ?))"
            args += [after[0], after[0], after[1]]
        if side is not None:
            sql += " AND side = ?"
            args.append(SIDES.index(side))
        sql += " ORDER BY event_time_ms, id LIMIT ?"
        args.append(limit)
        return [(row[0], liquidation(row)) for row in self._reader().execute(sql, args)]

    def window(self, symbol: str, start_ms: int, end_ms: int) -> list[Liquidation]:
        rows = self._reader().execute(WINDOW, (symbol, start_ms, end_ms))
        return [liquidation(r) for r in rows]

    def mark_price_at(self, symbol: str, at_ms: int) -> tuple[float, int] | None:
        row = self._reader().execute(MARK_PRICE_AT, (symbol, at_ms)).fetchone()
        return (row[0], row[1]) if row else None

    def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int
    ) -> list[Candle]:
        rows = self._reader().execute(CANDLES, (symbol, interval, start_ms, end_ms, limit))
        return [Candle(*r[:13], bool(r[13])) for r in rows]

    def candle_rows(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple]:
        """``candles`` as the table's columns from ``open_time_ms`` on, no objects built: the
        rows ``EngineState.load_candles`` takes in one call."""
        rows = self._reader().execute(CANDLES, (symbol, interval, start_ms, end_ms, limit))
        return [r[3:] for r in rows]

    def candle_bar_rows(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple]:
        """The rows of ``candles`` as (open time, open, high, low, close, volume, taker-buy
        volume, closed) tuples, no objects built: what ``levels.source.read_bars`` turns into
        columns."""
        args = (symbol, interval, start_ms, end_ms, limit)
        return self._reader().execute(CANDLE_BARS, args).fetchall()

    def open_interest(
        self, symbol: str, period: str, start_ms: int, end_ms: int, limit: int
    ) -> list[OpenInterest]:
        rows = self._reader().execute(OPEN_INTEREST, (symbol, period, start_ms, end_ms, limit))
        return [OpenInterest(*r) for r in rows]

    def last_time(self, table: str, symbol: str, kind: str) -> int | None:
        """Newest stored candle open time (table 'candles', kind = interval) or OI time."""
        return self._reader().execute(LAST_TIME[table], (symbol, kind)).fetchone()[0]

    def holes(
        self, table: str, symbol: str, kind: str, step_ms: int, start_ms: int, end_ms: int
    ) -> list[tuple[int, int]]:
        """The missing [from, to) ranges of a series of ``step_ms`` rows (candles of interval
        ``kind``, open interest of period ``kind``) in [start_ms, end_ms), oldest first; both
        ranges start on multiples of ``step_ms`` (the step holding ``start_ms`` first)."""
        start = start_ms - start_ms % step_ms
        args = (symbol, kind, start, end_ms, step_ms, symbol, kind, start, end_ms)
        rows = self._reader().execute(HOLES[table], args).fetchall()
        *pairs, (last, _) = rows
        if last is None:
            return [(start, end_ms)] if start < end_ms else []
        out = [(start if prev is None else prev + step_ms, t) for prev, t in pairs]
        out = [(a, b) for a, b in out if a < b]
        if last + step_ms < end_ms:
            out.append((last + step_ms, end_ms))
        return out

    def newest_liquidation_ms(self) -> int | None:
        reader = self._reader()
        times = [reader.execute(NEWEST_LIQUIDATION, (s,)).fetchone()[0] for s in self.symbols()]
        return max(times, default=None)

    def totals(self) -> dict[str, dict[str, float]]:
        out = {side: {"count": 0, "notional_usd": 0.0} for side in SIDES}
        for side, count, notional in self._reader().execute(TOTALS):
            out[SIDES[side]] = {"count": count, "notional_usd": notional}
        return out

    def gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._reader().execute(GAPS, (2**62, limit))
        return [{"kind": k, "start_ms": s, "end_ms": e, "reason": r} for k, s, e, r in rows]
