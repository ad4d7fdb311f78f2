"""The older past of the demo market: a cheaper price-and-open-interest path, 1-minute steps.

Before the fully simulated market (positions, liquidations, 1-second marks) starts, the demo
serves `older_days` more of history over REST (klines, openInterestHist) so views of up to 30
days have candles and open interest. This part has no position book and no liquidations (so no
ground truth beyond its prices and open interest); it is drawn once, vectorised, at start:

* **Price**, per minute: `r = mu + b·f + e + J` as in `market_sim.sim.pricing` (a shared
  factor `f` and the symbol's own shock `e`, Student-t(4), the same loadings and long-run
  volatility), but the volatility level is an hourly log-AR(1) (half-life 6 hours, a market
  part and a symbol part) instead of a per-second GARCH; jumps at the same rates and sizes;
  drift from a regime chain on 5-minute steps (range, up or down trend with the live model's
  trend drift and durations; ranges do not mean-revert here). The path ends exactly at the
  fully simulated market's starting price.
* **Candles**: open = the previous close; high and low are drawn from the Brownian bridge
  between open and close with the minute's variance (exact extremes of that bridge); volume is
  the symbol's background turnover scaled by volatility (log-normal noise); the taker-buy
  share follows the minute's return, `0.5 + 0.4·tanh(r / 2σ)`, as the live background flow.
* **Open interest**, per 5 minutes: a log-AR(1) around a flat level (half-life 2 days) that
  falls after large moves (deleveraging) and drifts with trends, ending exactly at the open
  interest of the live book's first instant; its value is at the candle's close.

Kept as float32 columns (close, high, low, volume; about 16 bytes per symbol and minute, under
0.7 MB per symbol for 29 days).
"""

from __future__ import annotations

import math

import numpy as np

from market_sim.sim.params import SymbolProfile
from market_sim.sim.pricing import (
    DF,
    JUMP_EVERY_S,
    JUMP_SIGMAS,
    MARKET_JUMP_EVERY_S,
    MARKET_JUMP_SIGMAS,
    RANGE_MEAN_S,
    T_SCALE,
    TREND_DRIFT_SIGMAS,
    TREND_MEAN_S,
    TREND_TO_RANGE,
    Z_CLIP,
)

MINUTE_MS, OI_PERIOD_MS = 60_000, 300_000
VOL_HALF_LIFE_HOURS, VOL_SPREAD = 6.0, 0.3  # log-vol AR(1): persistence and spread per part
OI_HALF_LIFE_STEPS = 2 * 288  # two days of 5-minute steps
OI_NOISE, OI_DELEVERAGE, OI_TREND = 0.002, 0.0015, 0.0004
BACKGROUND_TRADE_USD = 3_000.0


def _hourly_log_vol(hours: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(hours, count) log volatility factors: a market AR(1) plus one per symbol."""
    phi = 0.5 ** (1.0 / VOL_HALF_LIFE_HOURS)
    noise = rng.standard_normal((hours, count + 1)) * VOL_SPREAD * math.sqrt(1 - phi**2)
    level = np.zeros((hours, count + 1))
    level[0] = rng.standard_normal(count + 1) * VOL_SPREAD
    for hour in range(1, hours):
        level[hour] = phi * level[hour - 1] + noise[hour]
    return level[:, :1] + level[:, 1:] - VOL_SPREAD**2  # mean vol ratio about 1


def _regime_drift(steps: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, count) regime per 5-minute step: -1 down trend, 0 range, +1 up trend."""
    regime = np.zeros((steps, count), dtype=np.int8)
    current = np.zeros(count, dtype=np.int8)
    u = rng.random((steps, 2, count))
    for k in range(steps):
        in_range = current == 0
        leave = np.where(in_range, u[k, 0] < 300 / RANGE_MEAN_S, u[k, 0] < 300 / TREND_MEAN_S)
        start = leave & in_range
        current = np.where(start, np.where(u[k, 1] < 0.5, -1, 1), current).astype(np.int8)
        stop = leave & ~in_range
        current = np.where(stop & (u[k, 1] < TREND_TO_RANGE), 0, current)
        current = np.where(stop & (u[k, 1] >= TREND_TO_RANGE), -current, current).astype(np.int8)
        regime[k] = current
    return regime


class OlderMarket:
    """`minutes` 1-minute candles and 5-minute open interest ending at `end_ms`."""

    def __init__(self, profiles: list[SymbolProfile], end_ms: int, minutes: int, seed: int) -> None:
        if end_ms % OI_PERIOD_MS or minutes % 5 or minutes <= 0:
            raise ValueError("the older path ends on a 5-minute boundary and spans 5-minute steps")
        self.profiles, self.end_ms, self.minutes = profiles, end_ms, minutes
        self.start_ms = end_ms - minutes * MINUTE_MS
        rng = np.random.default_rng([seed, 0x01D])
        count = len(profiles)
        sigma = np.array([p.sigma for p in profiles]) * math.sqrt(60.0)  # per minute
        rho = np.array([p.factor_correlation for p in profiles])
        vol = np.exp(np.repeat(_hourly_log_vol(-(-minutes // 60), count, rng), 60, axis=0))
        vol = vol[:minutes]
        self.sigma_minute = sigma
        returns = self._returns(sigma, rho, vol, rng)
        log_close = np.cumsum(returns, axis=0)
        initial = np.log([p.initial_price for p in profiles])
        log_close += initial - log_close[-1]  # ends at the live market's starting price
        log_open = np.vstack([log_close[:1] - returns[:1], log_close[:-1]])
        self.close = np.exp(log_close).astype(np.float32)
        self.high, self.low = self._extremes(log_open, log_close, (sigma * vol) ** 2, rng)
        self.first_open = np.exp(log_open[0])
        turnover = np.array([p.turnover_usd for p in profiles]) * 60.0
        quote = turnover * np.clip(vol, 0.5, 3.0) * rng.lognormal(0.0, 0.3, size=vol.shape)
        self.volume = (quote / np.exp(0.5 * (log_open + log_close))).astype(np.float32)
        self._oi_log = self._open_interest_path(returns, sigma, rng)
        self.oi_end_lots = np.ones(count)  # set by the live market once its book exists

    def _returns(self, sigma, rho, vol, rng: np.random.Generator) -> np.ndarray:
        minutes, count = vol.shape
        z = np.clip(rng.standard_t(DF, size=(minutes, count + 1)) / T_SCALE, -Z_CLIP, Z_CLIP)
        factor_sigma = float(sigma.min())
        loading = rho * sigma / factor_sigma
        idio = sigma * np.sqrt(1 - rho**2)
        returns = vol * (loading * factor_sigma * z[:, :1] + idio * z[:, 1:])
        second_sigma = sigma / math.sqrt(60.0)
        jumps = rng.random((minutes, count)) < 60.0 / JUMP_EVERY_S
        returns += jumps * rng.laplace(0.0, JUMP_SIGMAS, size=(minutes, count)) * second_sigma
        market = rng.random(minutes) < 60.0 / MARKET_JUMP_EVERY_S
        sizes = rng.laplace(0.0, MARKET_JUMP_SIGMAS, size=minutes) * float(second_sigma.min())
        returns += (market * sizes)[:, None] * loading
        regime = np.repeat(_regime_drift(minutes // 5, count, rng), 5, axis=0)
        return returns + regime * TREND_DRIFT_SIGMAS * second_sigma * 60.0

    @staticmethod
    def _extremes(log_open, log_close, variance, rng: np.random.Generator):
        """High and low of each minute: the Brownian bridge's maximum and minimum."""
        gap_sq = (log_close - log_open) ** 2
        mid = log_open + log_close
        up = np.sqrt(gap_sq - 2.0 * variance * np.log(1.0 - rng.random(variance.shape)))
        down = np.sqrt(gap_sq - 2.0 * variance * np.log(1.0 - rng.random(variance.shape)))
        return np.exp(0.5 * (mid + up)).astype(np.float32), np.exp(0.5 * (mid - down)).astype(
            np.float32
        )

    @staticmethod
    def _open_interest_path(returns, sigma, rng: np.random.Generator) -> np.ndarray:
        """(steps, count) log open interest at the end of each 5-minute step."""
        five = returns.reshape(-1, 5, returns.shape[1]).sum(axis=1)
        size = np.abs(five) / (sigma * math.sqrt(5.0))
        phi = 0.5 ** (1.0 / OI_HALF_LIFE_STEPS)
        shocks = OI_NOISE * rng.standard_normal(five.shape) - OI_DELEVERAGE * (size - 0.8)
        shocks += OI_TREND * np.sign(five) * (size > 1.5)
        path = np.zeros(five.shape)
        level = np.zeros(five.shape[1])
        for k in range(len(five)):
            level = phi * level + shocks[k]
            path[k] = level
        return path.astype(np.float32)

    def set_open_interest_end(self, oi_lots: np.ndarray) -> None:
        """Scale the open-interest path so its last instant is the live book's `oi_lots`."""
        self.oi_end_lots = np.asarray(oi_lots, dtype=np.float64)

    # ---- windows (the same fields as `market_sim.sim.candles.CANDLE_FIELDS`) ---------------

    def candles(self, i: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """Minutes of symbol `i` opening in `[start_ms, end_ms)`, volumes in lots."""
        first = max(0, -(-(start_ms - self.start_ms) // MINUTE_MS))
        stop = min(self.minutes, -(-(end_ms - self.start_ms) // MINUTE_MS))
        rows = np.arange(first, max(first, stop))
        close = self.close[rows, i].astype(np.float64)
        previous = self.close[np.maximum(rows - 1, 0), i].astype(np.float64)
        opens = np.where(rows == 0, self.first_open[i], previous)
        step = float(self.profiles[i].step)
        volume = np.maximum(1, np.rint(self.volume[rows, i] / step)).astype(np.int64)
        share = 0.5 + 0.4 * np.tanh(np.log(close / opens) / (2.0 * self.sigma_minute[i]))
        buy = np.rint(volume * share).astype(np.int64)
        vwap = 0.5 * (opens + close)
        quote = volume * step * vwap
        return {
            "time_ms": self.start_ms + MINUTE_MS * rows, "open": opens,
            "high": np.maximum(self.high[rows, i].astype(np.float64), np.maximum(opens, close)),
            "low": np.minimum(self.low[rows, i].astype(np.float64), np.minimum(opens, close)),
            "close": close, "volume": volume, "buy": buy, "quote": quote,
            "buy_quote": buy * step * vwap,
            "trades": np.maximum(1, np.rint(quote / BACKGROUND_TRADE_USD)).astype(np.int64),
        }  # fmt: skip

    def open_interest(self, i: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """5-minute instants of symbol `i` in `[start_ms, end_ms)`: lots and mark."""
        first_ms = self.start_ms + OI_PERIOD_MS
        first = max(0, -(-(start_ms - first_ms) // OI_PERIOD_MS))
        stop = min(len(self._oi_log), -(-(end_ms - first_ms) // OI_PERIOD_MS))
        steps = np.arange(first, max(first, stop))
        log_oi = self._oi_log[steps, i].astype(np.float64) - float(self._oi_log[-1, i])
        lots = np.rint(self.oi_end_lots[i] * np.exp(log_oi)).astype(np.int64)
        marks = self.close[steps * 5 + 4, i].astype(np.float64)
        return {"time_ms": first_ms + OI_PERIOD_MS * steps, "oi_lots": lots, "mark": marks}
