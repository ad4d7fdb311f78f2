"""1-minute candles and 5-minute open-interest history, built from the simulated seconds.

A candle aggregates every trade of its minute: the positions opened, closed and liquidated in
the book plus the background flow outside it (`market_sim.sim.market`). High and low bound
every trade price and every mark price of the minute (marks in between trades included), so the
candle is consistent with both streams; `v` is the traded base volume, `V` the part bought by
takers (position opens of longs, closes and liquidations of shorts, buying background flow),
`n` the number of trades, `f`/`L` the first and last trade id. The candle opening at a minute
boundary starts at the mark of that instant.

Open-interest rows are taken at every 5-minute boundary: the exact open interest of the book
at that instant and its value at that instant's mark (`openInterestHist`, §1.9).

Closed candles and those rows are kept as numpy columns (`market_sim.sim.columns`) and
rendered as wire rows only when asked for (`market_sim.sim.rest_view`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from market_sim.sim import render
from market_sim.sim.columns import PeriodColumns
from market_sim.sim.params import SymbolProfile

MINUTE_MS = 60_000
OI_PERIOD_MS = 300_000
HISTORY_MINUTES = 30 * 1440  # keep 30 days of closed candles per symbol
CANDLE_FIELDS: dict[str, type] = {
    "open": np.float64,
    "high": np.float64,
    "low": np.float64,
    "close": np.float64,
    "volume": np.int64,
    "buy": np.int64,
    "quote": np.float64,
    "buy_quote": np.float64,
    "trades": np.int64,
    "first_id": np.int64,
}  # fmt: skip  (volume and buy in lots)
OI_FIELDS: dict[str, type] = {"oi_lots": np.int64, "mark": np.float64}


@dataclass
class SecondTrades:
    """Taker trades of one second per symbol (buy/sell lots, quote amounts, count)."""

    buy_lots: np.ndarray
    sell_lots: np.ndarray
    buy_quote: np.ndarray
    sell_quote: np.ndarray
    count: np.ndarray
    low: np.ndarray  # lowest trade or mark price of the second
    high: np.ndarray  # highest trade or mark price of the second

    @classmethod
    def empty(cls, low: np.ndarray, high: np.ndarray) -> SecondTrades:
        n = len(low)
        ints = [np.zeros(n, dtype=np.int64) for _ in range(2)]
        return cls(ints[0], ints[1], np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64),
                   low.copy(), high.copy())  # fmt: skip

    def add(self, sym: np.ndarray, lots: np.ndarray, prices: np.ndarray, buy: np.ndarray,
            step: np.ndarray) -> None:  # fmt: skip
        """Add trades: symbol index, lots, price, taker side (True = buy)."""
        if len(sym) == 0:
            return
        quote = lots * step[sym] * prices
        np.add.at(self.buy_lots, sym[buy], lots[buy])
        np.add.at(self.sell_lots, sym[~buy], lots[~buy])
        np.add.at(self.buy_quote, sym[buy], quote[buy])
        np.add.at(self.sell_quote, sym[~buy], quote[~buy])
        np.add.at(self.count, sym, 1)
        np.minimum.at(self.low, sym, prices)
        np.maximum.at(self.high, sym, prices)


class CandleBook:
    """The forming candle of every symbol, closed candles and OI history (columns)."""

    def __init__(self, profiles: list[SymbolProfile], open_ms: int, marks: np.ndarray) -> None:
        n = len(profiles)
        self.profiles = profiles
        self.open_ms = open_ms - open_ms % MINUTE_MS
        self.next_trade_id = np.full(n, 1_000_000, dtype=np.int64)
        self.closed = PeriodColumns(n, CANDLE_FIELDS, MINUTE_MS, capacity=HISTORY_MINUTES)
        self.open_interest = PeriodColumns(n, OI_FIELDS, OI_PERIOD_MS, chunk_rows=288,
                                           capacity=HISTORY_MINUTES // 5)  # fmt: skip
        self._reset(marks)

    def _reset(self, marks: np.ndarray) -> None:
        n = len(marks)
        self.o, self.h, self.l, self.c = marks.copy(), marks.copy(), marks.copy(), marks.copy()
        self.volume = np.zeros(n, dtype=np.int64)
        self.buy = np.zeros(n, dtype=np.int64)
        self.quote = np.zeros(n)
        self.buy_quote = np.zeros(n)
        self.trades = np.zeros(n, dtype=np.int64)
        self.first_id = self.next_trade_id.copy()

    def add_second(self, trades: SecondTrades, close: np.ndarray) -> None:
        """Fold one step of trades and the mark path into the forming candles."""
        np.minimum(self.l, trades.low, out=self.l)
        np.maximum(self.h, trades.high, out=self.h)
        self.c = close.copy()
        self.volume += trades.buy_lots + trades.sell_lots
        self.buy += trades.buy_lots
        self.quote += trades.buy_quote + trades.sell_quote
        self.buy_quote += trades.buy_quote
        self.trades += trades.count
        self.next_trade_id += trades.count

    def forming(self) -> dict[str, np.ndarray]:
        """The forming candles as columns (the same fields as the closed ones)."""
        return {
            "open": self.o, "high": self.h, "low": self.l, "close": self.c,
            "volume": self.volume, "buy": self.buy, "quote": self.quote,
            "buy_quote": self.buy_quote, "trades": self.trades, "first_id": self.first_id,
        }  # fmt: skip

    def close_minute(self, next_open_ms: int, marks: np.ndarray) -> None:
        """Close every forming candle (keep its row) and open the next at `marks`."""
        self.closed.append(self.open_ms, self.forming())
        self.open_ms = next_open_ms
        self._reset(marks)

    def record_open_interest(self, at_ms: int, oi_lots: np.ndarray, marks: np.ndarray) -> None:
        """The open interest (lots) and mark of every symbol at the instant `at_ms`."""
        self.open_interest.append(at_ms, {"oi_lots": oi_lots, "mark": marks})

    def row(self, i: int) -> list[Any]:
        """The forming candle of symbol `i` as a 12-column REST kline row (§1.9)."""
        return self.rows([i])[0]

    def rows(self, indices: list[int]) -> list[list[Any]]:
        """`row(i)` for several symbols (the arrays are read into Python floats once)."""
        columns = {name: values.tolist() for name, values in self.forming().items()}
        return [
            kline_row(self.profiles[i], self.open_ms, self.open_ms + MINUTE_MS - 1,
                      {name: values[i] for name, values in columns.items()})
            for i in indices
        ]  # fmt: skip

    def payloads(self, indices: list[int], event_ms: int) -> list[dict[str, Any]]:
        """`kline` events (`x: false`) of the forming candles of `indices`."""
        first = self.first_id.tolist()
        return [self._payload(i, event_ms, row, first[i], closed=False)
                for i, row in zip(indices, self.rows(indices), strict=True)]  # fmt: skip

    def closing_payloads(self, indices: list[int], event_ms: int) -> list[dict[str, Any]]:
        """The `x: true` events of the last closed candles (valid until the next close)."""
        payloads = []
        for i in indices:
            last = self.closed.last(i)
            open_ms = int(last["time_ms"])
            row = kline_row(self.profiles[i], open_ms, open_ms + MINUTE_MS - 1, last)
            payloads.append(self._payload(i, event_ms, row, int(last["first_id"]), closed=True))
        return payloads

    def _payload(
        self, i: int, event_ms: int, row: list[Any], first: int, *, closed: bool
    ) -> dict[str, Any]:
        symbol = self.profiles[i].symbol
        count = row[8]
        return {"e": "kline", "E": event_ms, "s": symbol, "k": {
            "t": row[0], "T": row[6], "s": symbol, "i": "1m",
            "f": first if count else -1, "L": first + count - 1 if count else -1,
            "o": row[1], "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": count,
            "x": closed, "q": row[7], "V": row[9], "Q": row[10], "B": "0",
        }}  # fmt: skip


def kline_row(profile: SymbolProfile, open_ms: int, close_ms: int, values: Any) -> list[Any]:
    """One 12-column REST kline row (§1.9) from a candle's values (prices as floats, volume
    and taker-buy volume in lots): prices on the tick grid (high up, low down)."""
    tick, pd, qd = float(profile.tick), profile.price_decimals, profile.qty_decimals
    qq = min(8, pd + qd)
    return [
        open_ms, render.price(values["open"], tick, pd),
        render.price(values["high"], tick, pd, "up"),
        render.price(values["low"], tick, pd, "down"), render.price(values["close"], tick, pd),
        render.lots(int(values["volume"]), qd), close_ms, render.fixed(values["quote"], qq),
        int(values["trades"]), render.lots(int(values["buy"]), qd),
        render.fixed(values["buy_quote"], qq), "0",
    ]  # fmt: skip
