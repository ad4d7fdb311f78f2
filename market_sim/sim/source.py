"""Thread-safe views of a running simulation: REST state for the fake, and the truth queries.

The runner steps the simulation while holding `lock`; the fake's REST handlers (another
thread) read through this class under the same lock; REST history rows come from
`market_sim.sim.rest_view` (only the rows asked for are rendered).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from market_sim.sim.market import MarketSimulation
from market_sim.sim.rest_view import RestView, Window
from market_sim.sim.truth import position_record


class SimulatedMarket:
    """REST source (`market_sim.state.MarketSource`) and truth queries of one simulation."""

    def __init__(self, sim: MarketSimulation) -> None:
        self.sim = sim
        self.lock = threading.RLock()  # the runner holds it while stepping
        self.published_force_orders = 0  # USDⓈ-M frames handed to at least one connection
        self.published_coin_margined = 0
        self.view = RestView(sim)

    def clock(self) -> float:
        """Sim time in epoch seconds (the fake's REST clock)."""
        return self.sim.now_ms / 1000.0

    # ---- MarketSource ------------------------------------------------------------------------

    def covers(self, symbol: str) -> bool:
        return symbol in self.sim.index

    def mark_price(self, symbol: str) -> str:
        with self.lock:
            return self.sim.mark_text(self.sim.index[symbol])

    def premium(self, symbol: str) -> tuple[str, str]:
        with self.lock:
            return self.sim.premium_text(self.sim.index[symbol])

    def kline_rows(
        self, symbol: str, interval: str, now_ms: int, window: Window, limit: int
    ) -> list[list[Any]]:
        with self.lock:
            return self.view.klines(self.sim.index[symbol], interval, now_ms, window, limit)

    def open_interest(self, symbol: str) -> str:
        with self.lock:
            return self.sim.open_interest_text(self.sim.index[symbol])

    def open_interest_rows(
        self, symbol: str, period: str, now_ms: int, window: Window, limit: int
    ) -> list[dict[str, Any]]:
        with self.lock:
            return self.view.open_interest(self.sim.index[symbol], period, now_ms, window, limit)

    # ---- truth -------------------------------------------------------------------------------

    def _symbol_index(self, symbol: str | None) -> int | None:
        if not symbol:
            return None
        if symbol not in self.sim.index:
            raise KeyError(symbol)
        return self.sim.index[symbol]

    def liquidations(
        self,
        symbol: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        sampled_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Every liquidation (or only the sampled ones) matching the filters, in time order."""
        index = self._symbol_index(symbol)
        with self.lock:
            truth = self.sim.truth
            return truth.records(truth.select(index, start_ms, end_ms, sampled_only))

    def positions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The open book (of one symbol), with each position's liquidation price."""
        index = self._symbol_index(symbol)
        with self.lock:
            book = self.sim.book
            rows = book.take(book.rows_of(index))
        sim = self.sim
        return [
            position_record(sim.profiles[s], {k: v[j] for k, v in rows.items()}, sim.mmr[s])
            for j, s in enumerate(rows["sym"].tolist())
        ]

    def summary(self) -> dict[str, Any]:
        """Counters: truth totals, what was pushed and published, the book per symbol."""
        sim = self.sim
        with self.lock:
            truth, book = sim.truth, sim.book
            return {
                "time_ms": sim.now_ms, "seed": sim.config.seed, "symbols": list(sim.symbols),
                "history_start_ms": self.view.first_minute_ms,
                "truth_start_ms": sim.config.start_ms - sim.config.start_ms % 1000,
                "liquidations": truth.total, "sampled": truth.sampled, "dropped": truth.dropped,
                "published_force_orders": self.published_force_orders,
                "published_coin_margined": self.published_coin_margined,
                "coin_margined_generated": sim.coin_margined,
                "open_positions": len(book),
                "open_interest": {s: sim.open_interest_text(i) for i, s in enumerate(sim.symbols)},
            }  # fmt: skip

    def export_truth(self, path: str | Path) -> int:
        """Write the truth as JSON lines: a header (the summary), every liquidation, then every
        open position, all of one instant; returns the number of lines."""
        with self.lock:
            records = [{"type": "header", **self.summary()}]
            records += [{"type": "liquidation", **r} for r in self.liquidations()]
            records += [{"type": "position", **p} for p in self.positions()]
        with Path(path).open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
        return len(records)
