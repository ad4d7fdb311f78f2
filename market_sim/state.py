"""The fake exchange's REST-visible market state: contracts, mark prices, klines, open interest.

Written from the test (or simulator) thread through `FakeBinance.set_*`, read by the REST
handlers on the server loop; one lock guards it. Values are kept as Binance renders them
(decimal strings) so responses carry exactly what the test put in.

A live market can be attached (`attach`, e.g. the simulator's `market_sim.sim.source`): for the
symbols it covers it answers mark prices, klines, open interest and its history. Rows injected
with `set_klines` / `set_open_interest` still win over it; the generated series answer for
everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from market_sim import series
from market_sim.universe import ContractSpec, build_contracts

KLINE_COLUMNS = 12
Window = tuple[int | None, int | None]  # (startTime, endTime) as sent, epoch ms


class MarketSource(Protocol):
    """A market that serves REST state for the symbols it covers (all values as wire strings)."""

    def covers(self, symbol: str) -> bool: ...

    def mark_price(self, symbol: str) -> str: ...

    def premium(self, symbol: str) -> tuple[str, str]:
        """(index price, funding rate) as the mark-price stream shows them."""
        ...

    def kline_rows(
        self, symbol: str, interval: str, now_ms: int, window: Window, limit: int
    ) -> list[list[Any]]:
        """The rows of `interval` Binance would return for this window and limit (ascending;
        the last one may still be forming)."""
        ...

    def open_interest(self, symbol: str) -> str: ...

    def open_interest_rows(
        self, symbol: str, period: str, now_ms: int, window: Window, limit: int
    ) -> list[dict[str, Any]]:
        """The `openInterestHist` rows of `period` for this window and limit (ascending,
        within the last 30 days)."""
        ...


class MarketState:
    """Contracts (fixed at construction) plus the mutable prices and histories."""

    def __init__(self, symbols: Sequence[str] | None) -> None:
        self._lock = threading.Lock()
        self.contracts: tuple[ContractSpec, ...] = tuple(build_contracts(symbols))
        self._by_symbol = {spec.symbol: spec for spec in self.contracts}
        self._marks = {spec.symbol: spec.mark_price for spec in self.contracts}
        self._klines: dict[tuple[str, str | None], list[list[Any]]] = {}
        self._open_interest: dict[str, str] = {}
        self._oi_history: dict[str, list[dict[str, Any]]] = {}
        self._source: MarketSource | None = None

    def attach(self, source: MarketSource | None) -> None:
        """Serve `source`'s state for the symbols it covers (None detaches)."""
        with self._lock:
            self._source = source

    def _live(self, symbol: str) -> MarketSource | None:
        source = self._source
        return source if source is not None and source.covers(symbol) else None

    def contract(self, symbol: str) -> ContractSpec | None:
        """The listed contract named exactly `symbol` (REST symbols are case-sensitive)."""
        return self._by_symbol.get(symbol)

    def _require(self, symbol: str) -> ContractSpec:
        spec = self._by_symbol.get(symbol)
        if spec is None:
            raise KeyError(f"{symbol!r} is not listed in this FakeBinance's exchangeInfo")
        return spec

    def set_mark_prices(self, prices: Mapping[str, str | float | Decimal]) -> None:
        """Replace mark prices of listed symbols (strings are served verbatim)."""
        parsed = {}
        for symbol, price in prices.items():
            self._require(symbol)
            text = str(price)
            try:
                Decimal(text)
            except InvalidOperation as exc:
                raise ValueError(f"mark price for {symbol} is not a number: {text!r}") from exc
            parsed[symbol] = text
        with self._lock:
            self._marks.update(parsed)

    def mark_price(self, symbol: str) -> str:
        live = self._live(symbol)
        if live is not None:
            return live.mark_price(symbol)
        with self._lock:
            return self._marks[symbol]

    def premium(self, symbol: str) -> tuple[str, str] | None:
        """(index price, funding rate) from the attached market, None if it does not cover it."""
        live = self._live(symbol)
        return None if live is None else live.premium(symbol)

    def mark_prices(self) -> dict[str, str]:
        with self._lock:
            marks = dict(self._marks)
        return {symbol: self.mark_price(symbol) if self._live(symbol) else price
                for symbol, price in marks.items()}  # fmt: skip

    def set_klines(self, symbol: str, rows: Sequence[Sequence[Any]], interval: str | None) -> None:
        """Serve `rows` (12-column §1.9 layout) for `symbol` (for one interval, or all)."""
        self._require(symbol)
        checked = [list(row) for row in rows]
        if any(len(row) != KLINE_COLUMNS or not isinstance(row[0], int) for row in checked):
            raise ValueError("kline rows need 12 columns with an integer open time first")
        with self._lock:
            self._klines[(symbol, interval)] = checked

    def klines(
        self, symbol: str, interval: str, now_ms: int, window: tuple[int | None, int | None],
        limit: int,
    ) -> list[list[Any]]:  # fmt: skip
        """Injected rows if any, else the attached market's, else the generated series."""
        start_ms, end_ms = window
        with self._lock:
            rows = self._klines.get((symbol, interval), self._klines.get((symbol, None)))
            mark = Decimal(self._marks[symbol])
        live = self._live(symbol)
        if rows is None and live is not None:
            return live.kline_rows(symbol, interval, now_ms, window, limit)
        if rows is not None:
            return series.select_rows(rows, lambda row: row[0], start_ms, end_ms, limit)
        spec = self._by_symbol[symbol]
        times = series.select_open_times(interval, now_ms, start_ms, end_ms, limit)
        return [
            series.kline_row(symbol, mark, interval, t, now_ms, tick=spec.tick, step=spec.step)
            for t in times
        ]

    def set_open_interest(
        self,
        symbol: str,
        value: str | float | Decimal,
        hist_rows: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        """Set `openInterest` (and optionally the rows `openInterestHist` serves)."""
        self._require(symbol)
        with self._lock:
            self._open_interest[symbol] = str(value)
            if hist_rows is not None:
                self._oi_history[symbol] = [dict(row) for row in hist_rows]

    def open_interest(self, symbol: str) -> str:
        with self._lock:
            value = self._open_interest.get(symbol)
            mark = Decimal(self._marks[symbol])
        if value is not None:
            return value
        live = self._live(symbol)
        if live is not None:
            return live.open_interest(symbol)
        spec = self._by_symbol[symbol]
        return str(series.default_open_interest(symbol, mark, spec.step))

    def open_interest_history(
        self, symbol: str, period: str, now_ms: int, window: tuple[int | None, int | None],
        limit: int,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Rows for `openInterestHist`: only the last 30 days, ascending, at most `limit`."""
        start_ms, end_ms = window
        oldest = now_ms - series.OI_HISTORY_MS
        start_ms = None if start_ms is None else max(start_ms, oldest)
        with self._lock:
            rows = self._oi_history.get(symbol)
            mark = Decimal(self._marks[symbol])
        live = self._live(symbol)
        if rows is None and live is not None:
            return live.open_interest_rows(symbol, period, now_ms, window, limit)
        if rows is not None:
            fresh = [row for row in rows if int(row["timestamp"]) >= oldest]
            return series.select_rows(
                fresh, lambda row: int(row["timestamp"]), start_ms, end_ms, limit
            )
        amount = Decimal(self.open_interest(symbol))
        times = series.select_open_times(period, now_ms, start_ms, end_ms, limit)
        return [series.open_interest_row(symbol, amount, mark, t) for t in times if t >= oldest]
