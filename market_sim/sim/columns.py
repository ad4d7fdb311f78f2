"""Fixed-period rows of every simulated symbol, kept as numpy columns (one row per period).

The simulated market appends one row for all symbols at once at every period boundary: a
closed 1-minute candle each minute, the open interest each 5 minutes. Rows are held in
day-sized chunks of 2-D arrays (rows x symbols), so memory is a few bytes per value instead of
a Python list of strings per row, and a time window of one symbol is a slice. At most
`capacity` rows are kept; beyond that the oldest chunk is dropped whole (counted in `dropped`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class PeriodColumns:
    """Rows at `first_ms + k * period_ms` (k = 0, 1, ...) with the named numpy columns."""

    def __init__(
        self,
        symbols: int,
        fields: Mapping[str, type],
        period_ms: int,
        *,
        chunk_rows: int = 1440,
        capacity: int = 30 * 1440,
    ) -> None:
        self.symbols, self.fields, self.period_ms = symbols, dict(fields), period_ms
        self.chunk_rows, self.capacity = chunk_rows, max(capacity, chunk_rows)
        self.first_ms: int | None = None  # time of the oldest row held
        self.rows = 0  # rows held
        self.dropped = 0
        self._chunks: list[dict[str, np.ndarray]] = []

    @property
    def end_ms(self) -> int | None:
        """Time the next row will have (None before the first)."""
        return None if self.first_ms is None else self.first_ms + self.rows * self.period_ms

    def append(self, at_ms: int, values: Mapping[str, np.ndarray]) -> None:
        """Add the row of every symbol for `at_ms` (the next period after the last row)."""
        if self.first_ms is None:
            self.first_ms = at_ms
        elif at_ms != self.end_ms:
            raise ValueError(f"row for {at_ms} does not follow the last one ({self.end_ms})")
        slot = self.rows % self.chunk_rows
        if slot == 0:
            self._chunks.append({
                name: np.zeros((self.chunk_rows, self.symbols), dtype=kind)
                for name, kind in self.fields.items()
            })  # fmt: skip
        chunk = self._chunks[-1]
        for name in self.fields:
            chunk[name][slot] = values[name]
        self.rows += 1
        if self.rows > self.capacity:
            self._chunks.pop(0)
            self.rows -= self.chunk_rows
            self.first_ms += self.chunk_rows * self.period_ms
            self.dropped += self.chunk_rows

    def window(self, symbol: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """Rows of one symbol with time in `[start_ms, end_ms)`: `time_ms` plus every field."""
        first, count = self._span(start_ms, end_ms)
        out: dict[str, np.ndarray] = {
            "time_ms": self.first_ms + self.period_ms * np.arange(first, first + count)
            if count
            else np.zeros(0, dtype=np.int64)
        }
        for name, kind in self.fields.items():
            parts = []
            row = first
            while row < first + count:
                chunk, slot = divmod(row, self.chunk_rows)
                take = min(self.chunk_rows - slot, first + count - row)
                parts.append(self._chunks[chunk][name][slot : slot + take, symbol])
                row += take
            out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=kind)
        return out

    def last(self, symbol: int) -> dict[str, float | int]:
        """The newest row of one symbol as Python numbers (raises IndexError before any)."""
        if not self.rows:
            raise IndexError("no rows yet")
        chunk, slot = divmod(self.rows - 1, self.chunk_rows)
        row: dict[str, float | int] = {"time_ms": self.end_ms - self.period_ms}
        row.update({name: self._chunks[chunk][name][slot, symbol].item() for name in self.fields})
        return row

    def _span(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        if self.first_ms is None or end_ms <= start_ms:
            return 0, 0
        first = max(0, -(-(start_ms - self.first_ms) // self.period_ms))
        stop = min(self.rows, -(-(end_ms - self.first_ms) // self.period_ms))
        return first, max(0, stop - first)
