"""The simulated market: one `step()` is one second of every symbol. No threads, no sockets.

Each second, in order (all symbols at once, numpy, one injected rng):

1. the mark moves by the exogenous return of `market_sim.sim.pricing` (plus any liquidation
   push deferred from the previous second);
2. the liquidation engine (`market_sim.sim.liquidation`) liquidates every position the mark
   reached, in cascading rounds that push the price;
3. positions whose holding time is over are closed at the mark; new ones are opened near it
   (`market_sim.sim.traders`);
4. background taker flow outside the book trades at the second's average price, buying more
   when the price rose (buy share `0.5 + 0.4·tanh(r / 2σ)`);
5. every trade and mark feeds the forming 1-minute candles; at each 5-minute boundary the exact
   open interest is recorded;
6. the stream's sampling (§1.4) keeps, per symbol, only the latest liquidation of the second;
   those become `forceOrder` frames; every liquidation goes to the truth log.

Open interest (`book.oi_lots`) is the exact integer sum of the open positions after every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from market_sim.sim import frames, render
from market_sim.sim.book import PositionBook
from market_sim.sim.candles import MINUTE_MS, OI_PERIOD_MS, CandleBook, SecondTrades
from market_sim.sim.liquidation import StepTime, run_cascade
from market_sim.sim.older import OlderMarket
from market_sim.sim.params import SimConfig, profile_arrays
from market_sim.sim.pricing import PricePaths
from market_sim.sim.sampling import push_time_ms, sample_second
from market_sim.sim.traders import TraderFlow
from market_sim.sim.truth import TruthLog
from market_sim.universe import default_mark_price

MOMENTUM_SECONDS = 300.0
AVERAGE_SECONDS = 60.0  # the mark-price stream's `ap` (moving average)
BACKGROUND_TRADE_USD = 3_000.0


@dataclass(frozen=True)
class TickOutput:
    """What one second produced for the wire."""

    time_ms: int  # end of the second: the mark-price time
    force_orders: list[dict[str, Any]]  # sampled USDⓈ-M frames (+ COIN-M), in trade-time order
    liquidations: int  # every USDⓈ-M liquidation of the second (truth)
    sampled: int  # how many of them the stream pushes
    minute_closed: bool  # a 1-minute candle closed at `time_ms`


class MarketSimulation:
    """Every symbol's mark price, position book, candles, open interest and truth."""

    def __init__(self, config: SimConfig, rng: np.random.Generator | None = None) -> None:
        self.config = config
        self.rng = rng if rng is not None else np.random.default_rng(config.seed)
        self.profiles = config.profiles()
        self.symbols = tuple(p.symbol for p in self.profiles)
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        columns = {k: np.array(v) for k, v in profile_arrays(self.profiles).items()}
        columns["book_size"] = np.maximum(1, np.rint(columns["book_size"] * config.book_scale))
        self.mmr = columns["mmr"]
        self.step_size = np.array([float(p.step) for p in self.profiles])
        self.tick_size = np.array([float(p.tick) for p in self.profiles])
        self.now_ms = config.start_ms - config.start_ms % 1000
        self.marks = columns["initial_price"].copy()
        self.mark_average = self.marks.copy()
        self.momentum = np.zeros(len(self.marks))
        self.deferred = np.zeros(len(self.marks))
        self.sigma = columns["sigma"]
        self.turnover = columns["turnover_usd"]
        daily_turnover = self.turnover * 86_400.0
        self.impact = config.impact * self.sigma * np.sqrt(86_400.0 / daily_turnover)
        self.paths = PricePaths(columns["sigma"], columns["factor_correlation"])
        self.book = PositionBook(len(self.symbols))
        self.flow = TraderFlow(columns, self.step_size)
        self.book.add(self.flow.initial_book(self.now_ms, self.marks, self.rng))
        self.candles = CandleBook(self.profiles, self.now_ms, self.marks)
        self.older = self._older(config)
        self.truth = TruthLog(self.profiles)
        self.coin_margined = 0
        self.last_output: TickOutput | None = None
        self._btc = self.index.get("BTCUSDT")

    def _older(self, config: SimConfig) -> OlderMarket | None:
        """The cheaper older path before the start, ending at this book's open interest."""
        minutes = int(config.older_days * 1440) // 5 * 5
        if minutes <= 0:
            return None
        older = OlderMarket(self.profiles, self.now_ms, minutes, config.seed)
        older.set_open_interest_end(self.book.oi_lots)
        return older

    # ---- one step -----------------------------------------------------------------------------

    def step(self, seconds: int = 1) -> TickOutput:
        """Advance the market by `seconds` (1 live; the demo's fast prefill takes longer steps,
        which must divide a minute) and return what the stream pushes for them."""
        if seconds < 1 or MINUTE_MS % (seconds * 1000):
            raise ValueError("a step is a whole number of seconds that divides a minute")
        start, end = self.now_ms, self.now_ms + 1000 * seconds
        previous = self.marks.copy()
        returns = self.paths.draw(np.log(self.marks), self.rng, seconds) + self.deferred
        self.marks = self.marks * np.exp(returns)
        path = self._path(previous, seconds)
        cascade = run_cascade(
            self.book, self.marks, self.step_size, StepTime(start, seconds, path), self.rng,
            impact=self.impact, max_rounds=self.config.max_cascade_rounds,
            max_move=self.config.max_cascade_move,
        )  # fmt: skip
        self.deferred = cascade.deferred
        low = np.minimum(np.minimum(previous, self.marks), cascade.low)
        high = np.maximum(np.maximum(previous, self.marks), cascade.high)
        if path is not None:  # every 1-second mark of a longer step is in the candle
            low, high = np.minimum(low, path.min(axis=0)), np.maximum(high, path.max(axis=0))
        trades = SecondTrades.empty(low, high)
        sampled = sample_second(cascade.rows, self.profiles, self.tick_size, self.truth.total,
                                self.rng, self.config.partial_fill_share)  # fmt: skip
        trades.add(sampled.sym, sampled.lots, sampled.price, sampled.side < 0, self.step_size)
        self._close_and_open(start, end, trades)
        self._background(previous, returns, trades, seconds)
        self.candles.add_second(trades, self.marks)
        self.now_ms = end
        self._bookkeeping(np.log(self.marks) - np.log(previous), seconds)
        self.truth.append(sampled.records)
        force_orders = sampled.frames + self._coin_margined(start, seconds)
        force_orders.sort(key=lambda frame: frame["o"]["T"])
        output = TickOutput(end, force_orders, sampled.count, sampled.sampled_count,
                            end % MINUTE_MS == 0)  # fmt: skip
        self.last_output = output
        return output

    def _path(self, previous: np.ndarray, seconds: int) -> np.ndarray | None:
        """The mark at every second boundary of a longer step: a Brownian bridge in log price
        from `previous` to the new mark with the current per-second variance (None for a
        1-second step)."""
        if seconds == 1:
            return None
        variance = (self.paths.vol_ratio() * self.sigma) ** 2
        walk = np.cumsum(self.rng.standard_normal((seconds, len(previous))), axis=0)
        walk *= np.sqrt(variance)
        share = (np.arange(1, seconds + 1) / seconds)[:, None]
        start, end = np.log(previous), np.log(self.marks)
        bridge = start + share * (end - start) + walk - share * walk[-1]
        return np.exp(np.vstack([start, bridge[:-1], end]))

    def _close_and_open(self, start: int, end: int, trades: SecondTrades) -> None:
        """Positions past their holding time close at the mark; new ones open near it."""
        due = self.book.due(end)
        closing = self.book.take(due)
        self.book.remove(due)
        sym = closing["sym"]
        trades.add(sym, closing["lots"], self.marks[sym], closing["side"] < 0, self.step_size)
        activity = np.clip(self.paths.vol_ratio(), 0.5, 3.0) * ((end - start) / 1000)
        long_share = 0.5 + 0.12 * self.paths.regime + 0.1 * np.tanh(self.momentum / 12.0)
        opens = self.flow.opens((start + end) // 2, self.marks, activity, long_share,
                                self.book.counts, self.rng)  # fmt: skip
        self.book.add(opens)
        trades.add(opens["sym"], opens["lots"], opens["entry"], opens["side"] > 0, self.step_size)

    def _background(
        self, previous: np.ndarray, returns: np.ndarray, trades: SecondTrades, seconds: int
    ) -> None:
        """Taker flow outside the book: volume follows volatility, direction follows the move."""
        ratio = self.paths.vol_ratio()
        usd = self.turnover * np.clip(ratio, 0.5, 3.0) * seconds
        usd *= self.rng.lognormal(0.0, 0.3, size=len(usd))
        price = 0.5 * (previous + self.marks)
        lots = np.rint(usd / price / self.step_size).astype(np.int64)
        share = 0.5 + 0.4 * np.tanh(returns / (2.0 * self.sigma * ratio * np.sqrt(seconds)))
        buys = np.rint(lots * share).astype(np.int64)
        trades.buy_lots += buys
        trades.sell_lots += lots - buys
        trades.buy_quote += buys * self.step_size * price
        trades.sell_quote += (lots - buys) * self.step_size * price
        trades.count += np.maximum(1, np.rint(usd / BACKGROUND_TRADE_USD)).astype(np.int64)

    def _bookkeeping(self, moved: np.ndarray, seconds: int) -> None:
        """Candle close, 5-minute open interest, momentum and the mark's moving average."""
        if self.now_ms % MINUTE_MS == 0:
            self.candles.close_minute(self.now_ms, self.marks)
        if self.now_ms % OI_PERIOD_MS == 0:
            self.candles.record_open_interest(self.now_ms, self.book.oi_lots, self.marks)
        self.momentum += moved / self.sigma - self.momentum * (seconds / MOMENTUM_SECONDS)
        self.mark_average += (self.marks - self.mark_average) * min(1.0, seconds / AVERAGE_SECONDS)

    def _coin_margined(self, start: int, seconds: int) -> list[dict[str, Any]]:
        """Now and then a COIN-M BTCUSD_PERP liquidation leaks into the stream (§1.7)."""
        if self.rng.random() >= self.config.coin_margined_per_hour * seconds / 3600.0:
            return []
        btc = float(default_mark_price("BTCUSDT")) if self._btc is None else self.marks[self._btc]
        side = "SELL" if self.rng.random() < 0.5 else "BUY"
        contracts = int(min(5_000, 1 + self.rng.pareto(1.3) * 20))
        trade_ms = start + int(self.rng.integers(0, 1000 * seconds))
        self.coin_margined += 1
        return [frames.coin_margined(side, contracts, btc * 0.9998, trade_ms,
                                     push_time_ms(trade_ms))]  # fmt: skip

    # ---- views for the wire and REST ----------------------------------------------------------

    def index_and_funding(self) -> tuple[np.ndarray, np.ndarray]:
        """Index price and funding rate per symbol: the crowd's long/short imbalance
        `(long OI - short OI) / OI` lifts the mark over the index (by up to 0.03 %) and sets
        the funding rate `0.01 % + 0.04 % · imbalance` (within ±0.3 %)."""
        imbalance = (2.0 * self.book.long_lots - self.book.oi_lots) / np.maximum(
            self.book.oi_lots, 1
        )
        funding = np.clip(0.0001 + 0.0004 * imbalance, -0.003, 0.003)
        return self.marks * (1.0 - 0.0003 * imbalance), funding

    def mark_price_messages(self) -> list[list[dict[str, Any]]]:
        """This second's `!markPrice@arr@1s` messages: crypto perpetuals, then TradFi."""
        index, funding = (values.tolist() for values in self.index_and_funding())
        marks, average = self.marks.tolist(), self.mark_average.tolist()
        crypto = [
            frames.mark_entry(symbol, self.now_ms, marks[i], average[i], index[i], funding[i])
            for i, symbol in enumerate(self.symbols)
        ]
        return [crypto, frames.tradfi_message(self.now_ms)]

    def kline_payloads(self, indices: list[int]) -> list[dict[str, Any]]:
        """Kline events of symbols `indices` for the second just simulated: the forming
        candle, or at a minute boundary the closing frame (`x: true`) of the minute."""
        if self.last_output is not None and self.last_output.minute_closed:
            return self.candles.closing_payloads(indices, self.now_ms)
        return self.candles.payloads(indices, self.now_ms)

    def mark_text(self, i: int) -> str:
        return render.mark(float(self.marks[i]))

    def premium_text(self, i: int) -> tuple[str, str]:
        """(index price, funding rate) of symbol `i` as the mark-price stream renders them."""
        index, funding = self.index_and_funding()
        return render.mark(float(index[i])), render.mark(float(funding[i]))

    def open_interest_text(self, i: int) -> str:
        return render.lots(int(self.book.oi_lots[i]), self.profiles[i].qty_decimals)
