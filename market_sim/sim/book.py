"""The book of open leveraged positions of every simulated trader (columnar, numpy).

One row per isolated-margin position: symbol index, side (+1 long, -1 short), quantity in
lots (integer multiples of the contract's LOT_SIZE step, so open interest is an exact integer
sum), entry price, leverage, posted margin, liquidation and bankruptcy prices, open time,
planned close time and a unique position id. Removed rows are flagged dead and compacted away
in bulk. `oi_lots[i]` is the open interest of symbol `i` (the sum of the quantities of its open
positions; the counterparties of these trades are the unmodelled rest of the market), kept up
to date on every add and remove; `recount()` recomputes it from the rows (tests compare both).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

COLUMNS: dict[str, type] = {
    "pid": np.int64, "sym": np.int32, "side": np.int8, "lots": np.int64, "entry": np.float64,
    "leverage": np.int16, "margin": np.float64, "liq": np.float64, "bust": np.float64,
    "opened_ms": np.int64, "close_ms": np.int64,
    # derived, for a two-pass liquidation scan: sign = side, trigger = side * liq; a position
    # is reached when trigger >= side * mark (long: liq >= mark, short: liq <= mark)
    "sign": np.float64, "trigger": np.float64,
}  # fmt: skip
DERIVED = ("pid", "sign", "trigger")
NEVER_MS = np.iinfo(np.int64).max


class PositionBook:
    """Open positions of `symbol_count` symbols."""

    def __init__(self, symbol_count: int, capacity: int = 1024) -> None:
        self.cols = {name: np.zeros(capacity, dtype=kind) for name, kind in COLUMNS.items()}
        self.alive = np.zeros(capacity, dtype=bool)
        self.size = 0  # rows in use (alive or dead)
        self.dead = 0
        self.next_pid = 1
        self.oi_lots = np.zeros(symbol_count, dtype=np.int64)
        self.long_lots = np.zeros(symbol_count, dtype=np.int64)
        self.counts = np.zeros(symbol_count, dtype=np.int64)  # open positions per symbol

    def __len__(self) -> int:
        return self.size - self.dead

    def column(self, name: str) -> np.ndarray:
        """The used part of one column (a view; includes dead rows, see `alive`)."""
        return self.cols[name][: self.size]

    def add(self, rows: Mapping[str, np.ndarray]) -> np.ndarray:
        """Append positions (every column but `pid`); returns their new position ids."""
        count = len(rows["sym"])
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        self._reserve(self.size + count)
        end = self.size + count
        pids = np.arange(self.next_pid, self.next_pid + count, dtype=np.int64)
        self.next_pid += count
        self.cols["pid"][self.size : end] = pids
        for name in COLUMNS:
            if name not in DERIVED:
                self.cols[name][self.size : end] = rows[name]
        self.cols["sign"][self.size : end] = rows["side"]
        self.cols["trigger"][self.size : end] = rows["side"] * rows["liq"]
        self.alive[self.size : end] = True
        self._account(rows["sym"], rows["side"], rows["lots"], +1)
        self.size = end
        return pids

    def remove(self, rows: np.ndarray) -> None:
        """Close or liquidate the positions at row indices `rows` (all alive)."""
        if len(rows) == 0:
            return
        self.alive[rows] = False
        self.cols["trigger"][rows] = -np.inf  # dead rows never trigger nor fall due
        self.cols["close_ms"][rows] = NEVER_MS
        self.dead += len(rows)
        self._account(self.cols["sym"][rows], self.cols["side"][rows], self.cols["lots"][rows], -1)
        if self.dead > 4096 and self.dead * 3 > self.size:
            self._compact()

    def crossed(self, mark: np.ndarray) -> np.ndarray:
        """Row indices of open positions whose liquidation price the mark has reached."""
        n = self.size
        signed_mark = mark[self.cols["sym"][:n]]
        signed_mark *= self.cols["sign"][:n]
        return np.flatnonzero(self.cols["trigger"][:n] >= signed_mark)

    def due(self, now_ms: int) -> np.ndarray:
        """Row indices of open positions whose planned close time has come."""
        return np.flatnonzero(self.cols["close_ms"][: self.size] <= now_ms)

    def rows_of(self, symbol_index: int | None = None) -> np.ndarray:
        """Row indices of the open positions (of one symbol), in opening order."""
        n = self.size
        mask = self.alive[:n]
        if symbol_index is not None:
            mask = mask & (self.cols["sym"][:n] == symbol_index)
        return np.flatnonzero(mask)

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of every column at `rows`."""
        return {name: column[rows] for name, column in self.cols.items()}

    def recount(self) -> np.ndarray:
        """Open interest per symbol recomputed from the rows (must equal `oi_lots`)."""
        rows = self.rows_of()
        sums = np.zeros(len(self.oi_lots), dtype=np.int64)
        np.add.at(sums, self.cols["sym"][rows], self.cols["lots"][rows])
        return sums

    def _account(self, sym: np.ndarray, side: np.ndarray, lots: np.ndarray, sign: int) -> None:
        np.add.at(self.oi_lots, sym, sign * lots.astype(np.int64))
        np.add.at(self.counts, sym, sign)
        longs = side > 0
        np.add.at(self.long_lots, sym[longs], sign * lots[longs].astype(np.int64))

    def _reserve(self, needed: int) -> None:
        capacity = len(self.alive)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2)
        for name, column in self.cols.items():
            grown = np.zeros(capacity, dtype=column.dtype)
            grown[: self.size] = column[: self.size]
            self.cols[name] = grown
        alive = np.zeros(capacity, dtype=bool)
        alive[: self.size] = self.alive[: self.size]
        self.alive = alive

    def _compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.size])
        count = len(keep)
        for column in self.cols.values():
            column[:count] = column[keep]
        self.alive[:count] = True
        self.alive[count : self.size] = False
        self.size, self.dead = count, 0
