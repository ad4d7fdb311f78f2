"""Ground truth: every liquidation the simulated market produced, sampled by the stream or not.

Kept in columnar chunks (numpy), in time order. Each record is rendered as JSON with the same
strings the forceOrder frame carries (`price` = the frame's `ap`, `quantity` = its `z`), so a
client's events can be matched against it exactly. `sampled` says whether the record was the
one the stream pushed (the latest of its symbol in its 1000 ms window, §1.4).

At most about `capacity` records are kept (default 2,000,000, about 200 MB); beyond that the
oldest are dropped in bulk and counted in `dropped`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from market_sim.sim import render
from market_sim.sim.params import SymbolProfile

COLUMNS = ("seq", "pid", "sym", "side", "lots", "entry", "leverage", "liq", "bust", "opened_ms",
           "mark_at", "round", "time_ms", "price", "limit_price", "sampled")  # fmt: skip
LIQUIDATED_SIDE = {1: "long", -1: "short"}
ORDER_SIDE = {1: "SELL", -1: "BUY"}


class TruthLog:
    """All liquidations so far, queryable by symbol and time."""

    def __init__(self, profiles: list[SymbolProfile], capacity: int = 2_000_000) -> None:
        self.profiles = profiles
        self.capacity = capacity
        self._chunks: list[dict[str, np.ndarray]] = []
        self._merged: dict[str, np.ndarray] | None = None
        self.total = 0  # every liquidation ever recorded
        self.sampled = 0  # of which pushed on the stream
        self.dropped = 0  # oldest records forgotten beyond `capacity`
        self._held = 0

    def append(self, records: dict[str, np.ndarray]) -> None:
        """Add one second's liquidations (already in time order, with `seq` and `sampled`)."""
        count = len(records["seq"])
        if count == 0:
            return
        self._chunks.append({name: records[name] for name in COLUMNS})
        self._merged = None
        self.total += count
        self.sampled += int(records["sampled"].sum())
        self._held += count
        if self._held > self.capacity * 1.1:  # trim in bulk, not every second
            cols = self.arrays()
            cut = self._held - self.capacity
            self._chunks = [{name: column[cut:] for name, column in cols.items()}]
            self._merged = None
            self._held -= cut
            self.dropped += cut

    def arrays(self) -> dict[str, np.ndarray]:
        """Every held record as columns (concatenated once per change)."""
        if self._merged is None:
            if self._chunks:
                self._merged = {n: np.concatenate([c[n] for c in self._chunks]) for n in COLUMNS}
                self._chunks = [self._merged]
            else:
                self._merged = {n: np.zeros(0) for n in COLUMNS}
        return self._merged

    def select(
        self,
        symbol_index: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        sampled_only: bool = False,
    ) -> np.ndarray:
        """Indices of records matching the filters (times inclusive at both ends)."""
        cols = self.arrays()
        keep = np.ones(len(cols["seq"]), dtype=bool)
        if symbol_index is not None:
            keep &= cols["sym"] == symbol_index
        if start_ms is not None:
            keep &= cols["time_ms"] >= start_ms
        if end_ms is not None:
            keep &= cols["time_ms"] <= end_ms
        if sampled_only:
            keep &= cols["sampled"].astype(bool)
        return np.flatnonzero(keep)

    def records(self, indices: np.ndarray) -> list[dict[str, Any]]:
        """JSON-ready records for `indices` (see the module docstring for the fields)."""
        cols = self.arrays()
        return [self._record({name: cols[name][i] for name in COLUMNS}) for i in indices]

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        profile = self.profiles[int(row["sym"])]
        side = int(row["side"])
        pd, qd = profile.price_decimals, profile.qty_decimals
        quantity = int(row["lots"]) * float(profile.step)
        return {
            "id": int(row["seq"]), "symbol": profile.symbol, "time_ms": int(row["time_ms"]),
            "liquidated_side": LIQUIDATED_SIDE[side], "order_side": ORDER_SIDE[side],
            "price": render.fixed(float(row["price"]), pd),
            "limit_price": render.fixed(float(row["limit_price"]), pd),
            "quantity": render.lots(int(row["lots"]), qd),
            "notional_usd": quantity * float(row["price"]),
            "mark_price": float(row["mark_at"]), "liquidation_price": float(row["liq"]),
            "bankruptcy_price": float(row["bust"]), "entry_price": float(row["entry"]),
            "leverage": int(row["leverage"]), "position_id": int(row["pid"]),
            "opened_ms": int(row["opened_ms"]), "cascade_round": int(row["round"]),
            "sampled": bool(row["sampled"]),
        }  # fmt: skip


def position_record(profile: SymbolProfile, row: dict[str, Any], mmr: float) -> dict[str, Any]:
    """One open position of the book as JSON (see docs/simulator.md)."""
    side = int(row["side"])
    quantity = int(row["lots"]) * float(profile.step)
    return {
        "position_id": int(row["pid"]), "symbol": profile.symbol,
        "side": LIQUIDATED_SIDE[side],
        "quantity": render.lots(int(row["lots"]), profile.qty_decimals),
        "entry_price": float(row["entry"]), "leverage": int(row["leverage"]),
        "margin_usd": float(row["margin"]), "notional_usd": quantity * float(row["entry"]),
        "maintenance_margin_rate": mmr, "liquidation_price": float(row["liq"]),
        "bankruptcy_price": float(row["bust"]), "opened_ms": int(row["opened_ms"]),
        "planned_close_ms": int(row["close_ms"]),
    }  # fmt: skip
