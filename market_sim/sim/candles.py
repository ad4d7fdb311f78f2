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
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from market_sim.sim import render
from market_sim.sim.params import SymbolProfile
from market_sim.universe import unit_hash

MINUTE_MS = 60_000
OI_PERIOD_MS = 300_000
HISTORY_MINUTES = 30 * 1440  # keep 30 days of closed candles per symbol


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
    """The forming candle of every symbol, closed candles and OI history per symbol."""

    def __init__(self, profiles: list[SymbolProfile], open_ms: int, marks: np.ndarray) -> None:
        n = len(profiles)
        self.profiles = profiles
        self.open_ms = open_ms - open_ms % MINUTE_MS
        self.ticks = [float(p.tick) for p in profiles]
        self.next_trade_id = np.full(n, 1_000_000, dtype=np.int64)
        self.closed_first_id = self.next_trade_id.copy()
        self.closed: list[deque[list[Any]]] = [deque(maxlen=HISTORY_MINUTES) for _ in range(n)]
        self.oi_history: list[deque[dict[str, Any]]] = [
            deque(maxlen=HISTORY_MINUTES // 5) for _ in range(n)
        ]
        # the same plausible supply the fake's generated series shows
        self.supply = [f"{1e6 + 1e9 * unit_hash(p.symbol + 'supply'):.3f}" for p in profiles]
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
        """Fold one second of trades and the mark path into the forming candles."""
        np.minimum(self.l, trades.low, out=self.l)
        np.maximum(self.h, trades.high, out=self.h)
        self.c = close.copy()
        self.volume += trades.buy_lots + trades.sell_lots
        self.buy += trades.buy_lots
        self.quote += trades.buy_quote + trades.sell_quote
        self.buy_quote += trades.buy_quote
        self.trades += trades.count
        self.next_trade_id += trades.count

    def close_minute(self, next_open_ms: int, marks: np.ndarray) -> None:
        """Close every forming candle (keep its row) and open the next at `marks`."""
        for i, row in enumerate(self.rows(list(range(len(self.profiles))))):
            self.closed[i].append(row)
        self.closed_first_id = self.first_id.copy()
        self.open_ms = next_open_ms
        self._reset(marks)

    def record_open_interest(self, at_ms: int, oi_lots: np.ndarray, marks: np.ndarray) -> None:
        """One `openInterestHist` row per symbol for the instant `at_ms`."""
        for i, profile in enumerate(self.profiles):
            amount = int(oi_lots[i]) * float(profile.step)
            self.oi_history[i].append({
                "symbol": profile.symbol,
                "sumOpenInterest": render.fixed(amount, 8),
                "sumOpenInterestValue": render.fixed(amount * float(marks[i]), 8),
                "CMCCirculatingSupply": self.supply[i],
                "timestamp": at_ms,
            })  # fmt: skip

    def row(self, i: int) -> list[Any]:
        """The forming candle of symbol `i` as a 12-column REST kline row (§1.9)."""
        return self.rows([i])[0]

    def rows(self, indices: list[int]) -> list[list[Any]]:
        """`row(i)` for several symbols (the arrays are read into Python floats once)."""
        o, h, lo, c = self.o.tolist(), self.h.tolist(), self.l.tolist(), self.c.tolist()
        volume, buy, trades = self.volume.tolist(), self.buy.tolist(), self.trades.tolist()
        quote, buy_quote = self.quote.tolist(), self.buy_quote.tolist()
        out = []
        for i in indices:
            p = self.profiles[i]
            tick, pd, qd = self.ticks[i], p.price_decimals, p.qty_decimals
            qq = min(8, pd + qd)
            out.append([
                self.open_ms, render.price(o[i], tick, pd), render.price(h[i], tick, pd, "up"),
                render.price(lo[i], tick, pd, "down"), render.price(c[i], tick, pd),
                render.lots(volume[i], qd), self.open_ms + MINUTE_MS - 1,
                render.fixed(quote[i], qq), trades[i], render.lots(buy[i], qd),
                render.fixed(buy_quote[i], qq), "0",
            ])  # fmt: skip
        return out

    def payloads(self, indices: list[int], event_ms: int) -> list[dict[str, Any]]:
        """`kline` events (`x: false`) of the forming candles of `indices`."""
        first = self.first_id.tolist()
        return [self._payload(i, event_ms, row, first[i], closed=False)
                for i, row in zip(indices, self.rows(indices), strict=True)]  # fmt: skip

    def closing_payloads(self, indices: list[int], event_ms: int) -> list[dict[str, Any]]:
        """The `x: true` events of the last closed candles (valid until the next close)."""
        first = self.closed_first_id.tolist()
        return [self._payload(i, event_ms, self.closed[i][-1], first[i], closed=True)
                for i in indices]  # fmt: skip

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
