"""The REST history of a simulated market: `klines` of every interval and `openInterestHist`.

Rows come from three places, oldest first: the older cheaper path (`market_sim.sim.older`, when
the market has one), the fully simulated closed 1-minute candles and 5-minute open interest
(`market_sim.sim.candles`), and the forming candle. Longer intervals are aggregated from the
1-minute candles they contain (open of the first, close of the last, highest high, lowest
low, summed volumes and trade counts); `openInterestHist` rows of longer periods are the
5-minute rows at the period's boundaries (the open interest *at* that instant, as Binance
reports it). Selection follows Binance (protocol reference §1.9, `market_sim.series`): with
`startTime` the first `limit` rows from there, otherwise the last `limit` up to `endTime` or
now; nothing before the market's first minute.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from market_sim import series
from market_sim.sim import render
from market_sim.sim.candles import kline_row
from market_sim.sim.market import MarketSimulation
from market_sim.universe import unit_hash

Window = tuple[int | None, int | None]
_SUMS = ("volume", "buy", "quote", "buy_quote", "trades")


def _eight_decimals(text: str, decimals: int) -> str:
    """An exact decimal string with `decimals` digits padded to the 8 Binance shows."""
    return text + ("." if decimals == 0 else "") + "0" * (8 - decimals)


def _joined(parts: list[dict[str, np.ndarray]], fields: list[str]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([part[name] for part in parts]) for name in fields}


class RestView:
    """Kline and open-interest rows of one simulation (call under the market's lock)."""

    def __init__(self, sim: MarketSimulation) -> None:
        self.sim = sim
        self._supply = [f"{1e6 + 1e9 * unit_hash(p.symbol + 'supply'):.3f}" for p in sim.profiles]

    @property
    def first_minute_ms(self) -> int:
        older = self.sim.older
        return older.start_ms if older is not None else self._closed_first()

    def _closed_first(self) -> int:
        closed = self.sim.candles.closed
        return closed.first_ms if closed.first_ms is not None else self.sim.candles.open_ms

    def minutes(self, i: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """1-minute candles of symbol `i` opening in `[start_ms, end_ms)`, the forming one
        included, as columns (volumes in lots)."""
        candles, parts = self.sim.candles, []
        fields = ["time_ms", "open", "high", "low", "close", *_SUMS]
        if self.sim.older is not None:
            parts.append(self.sim.older.candles(i, start_ms, min(end_ms, self._closed_first())))
        parts.append(candles.closed.window(i, start_ms, end_ms))
        if start_ms <= candles.open_ms < end_ms:
            forming = candles.forming()
            parts.append({"time_ms": np.array([candles.open_ms]),
                          **{name: forming[name][i : i + 1] for name in fields[1:]}})  # fmt: skip
        return _joined(parts, fields)

    def klines(self, i: int, interval: str, now_ms: int, window: Window, limit: int) -> list[list]:
        """`GET /fapi/v1/klines` rows of symbol `i` (the last may still be forming)."""
        start_ms, end_ms = window
        if start_ms is not None:
            start_ms = max(start_ms, series.interval_floor(interval, self.first_minute_ms))
        times = series.select_open_times(interval, now_ms, start_ms, end_ms, limit)
        if not times:
            return []
        stop = series.interval_shift(interval, times[-1], 1)
        minutes = self.minutes(i, max(times[0], self.first_minute_ms), stop)
        if not len(minutes["time_ms"]):
            return []
        group = np.searchsorted(np.array(times), minutes["time_ms"], side="right") - 1
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        merged = {
            "open": minutes["open"][starts],
            "close": minutes["close"][np.r_[starts[1:] - 1, len(group) - 1]],
            "high": np.maximum.reduceat(minutes["high"], starts),
            "low": np.minimum.reduceat(minutes["low"], starts),
            **{name: np.add.reduceat(minutes[name], starts) for name in _SUMS},
        }
        columns = {name: values.tolist() for name, values in merged.items()}
        profile = self.sim.profiles[i]
        rows = []
        for k, index in enumerate(group[starts].tolist()):
            open_ms = times[index]
            close_ms = series.interval_shift(interval, open_ms, 1) - 1
            values = {name: column[k] for name, column in columns.items()}
            rows.append(kline_row(profile, open_ms, close_ms, values))
        return rows

    def open_interest(
        self, i: int, period: str, now_ms: int, window: Window, limit: int
    ) -> list[dict[str, Any]]:
        """`openInterestHist` rows of symbol `i` (within the last 30 days)."""
        start_ms, end_ms = window
        oldest = max(now_ms - series.OI_HISTORY_MS, self.first_minute_ms)
        start_ms = None if start_ms is None else max(start_ms, oldest)
        times = [t for t in series.select_open_times(period, now_ms, start_ms, end_ms, limit)
                 if t >= oldest]  # fmt: skip
        if not times:
            return []
        found = self._instants(i, times[0], times[-1] + 1)
        keep = np.isin(found["time_ms"], np.array(times))
        profile = self.sim.profiles[i]
        step, qd = float(profile.step), profile.qty_decimals
        rows = []
        for at_ms, lots, mark in zip(found["time_ms"][keep].tolist(),
                                     found["oi_lots"][keep].tolist(),
                                     found["mark"][keep].tolist(), strict=True):  # fmt: skip
            amount = lots * step
            rows.append({
                "symbol": profile.symbol,
                "sumOpenInterest": _eight_decimals(render.lots(lots, qd), qd),
                "sumOpenInterestValue": render.fixed(amount * mark, 8),
                "CMCCirculatingSupply": self._supply[i], "timestamp": at_ms,
            })  # fmt: skip
        return rows

    def _instants(self, i: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        parts = []
        recorded = self.sim.candles.open_interest
        live_first = recorded.first_ms if recorded.first_ms is not None else end_ms
        if self.sim.older is not None:
            parts.append(self.sim.older.open_interest(i, start_ms, min(end_ms, live_first)))
        parts.append(recorded.window(i, start_ms, end_ms))
        return _joined(parts, ["time_ms", "oi_lots", "mark"])
