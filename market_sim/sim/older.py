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
    """`minutes` 1-minute candles and 5-minute open interest ending at `end_ms`.

    Drawn symbol by symbol (each from its own random stream; the market-wide factor, volatility
    and regimes from a shared one), so the transient memory stays that of one symbol.
    """

    def __init__(self, profiles: list[SymbolProfile], end_ms: int, minutes: int, seed: int) -> None:
        if end_ms % OI_PERIOD_MS or minutes % 5 or minutes <= 0:
            raise ValueError("the older path ends on a 5-minute boundary and spans 5-minute steps")
        self.profiles, self.end_ms, self.minutes = profiles, end_ms, minutes
        self.start_ms = end_ms - minutes * MINUTE_MS
        count = len(profiles)
        shared = np.random.default_rng([seed, 0x01D])
        sigma = np.array([p.sigma for p in profiles]) * math.sqrt(60.0)  # per minute
        self.sigma_minute = sigma
        log_vol = _hourly_log_vol(-(-minutes // 60), count, shared)
        regime = _regime_drift(minutes // 5, count, shared)
        market = _MarketShocks(minutes, float(sigma.min()), shared)
        shape = (minutes, count)
        self.close, self.high, self.low, self.volume = (
            np.zeros(shape, dtype=np.float32) for _ in range(4)
        )
        self.first_open = np.zeros(count)
        five = np.zeros((minutes // 5, count))
        for i, profile in enumerate(profiles):
            rng = np.random.default_rng([seed, 0x01D, i])
            vol = np.exp(np.repeat(log_vol[:, i], 60)[:minutes])
            returns = market.returns(profile, vol, rng) + (
                np.repeat(regime[:, i], 5) * TREND_DRIFT_SIGMAS * sigma[i] * math.sqrt(60.0)
            )
            self._candles(i, profile, returns, vol * sigma[i], rng)
            five[:, i] = returns.reshape(-1, 5).sum(axis=1)
        self._oi_log = self._open_interest_path(five, sigma, shared)
        self.oi_end_lots = np.ones(count)  # set by the live market once its book exists

    def _candles(self, i: int, profile: SymbolProfile, returns, minute_sigma, rng) -> None:
        """Close, high, low and volume of symbol `i` from its minute returns."""
        log_close = np.cumsum(returns)
        log_close += math.log(profile.initial_price) - log_close[-1]  # ends at the live start
        log_open = np.r_[log_close[0] - returns[0], log_close[:-1]]
        self.close[:, i] = np.exp(log_close)
        self.first_open[i] = math.exp(log_open[0])
        gap_sq, mid, variance = (log_close - log_open) ** 2, log_open + log_close, minute_sigma**2
        for target, sign in ((self.high, 1.0), (self.low, -1.0)):  # the bridge's extremes
            spread = np.sqrt(gap_sq - 2.0 * variance * np.log(1.0 - rng.random(len(mid))))
            target[:, i] = np.exp(0.5 * (mid + sign * spread))
        ratio = minute_sigma / self.sigma_minute[i]
        quote = profile.turnover_usd * 60.0 * np.clip(ratio, 0.5, 3.0)
        quote *= rng.lognormal(0.0, 0.3, size=len(mid))
        self.volume[:, i] = quote / np.exp(0.5 * mid)

    @staticmethod
    def _open_interest_path(five, sigma, rng: np.random.Generator) -> np.ndarray:
        """(steps, count) log open interest at the end of each 5-minute step."""
        size = np.abs(five) / (sigma * math.sqrt(5.0))
        phi = 0.5 ** (1.0 / OI_HALF_LIFE_STEPS)
        shocks = OI_NOISE * rng.standard_normal(five.shape) - OI_DELEVERAGE * (size - 0.8)
        shocks += OI_TREND * np.sign(five) * (size > 1.5)
        path = np.zeros(five.shape, dtype=np.float32)
        level = np.zeros(five.shape[1])
        for k in range(len(five)):
            level = phi * level + shocks[k]
            path[k] = level
        return path

    def set_open_interest_end(self, oi_lots: np.ndarray) -> None:
        """Scale the open-interest path so its last instant is the live book's `oi_lots`."""
        self.oi_end_lots = np.array(oi_lots, dtype=np.float64)  # a copy: the book moves on

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


class _MarketShocks:
    """The market-wide part shared by every symbol: factor shocks and market jumps."""

    def __init__(self, minutes: int, factor_sigma: float, rng: np.random.Generator) -> None:
        self.factor_sigma = factor_sigma  # per minute (the calmest symbol's volatility)
        self.z = np.clip(rng.standard_t(DF, size=minutes) / T_SCALE, -Z_CLIP, Z_CLIP)
        hit = rng.random(minutes) < 60.0 / MARKET_JUMP_EVERY_S
        size = rng.laplace(0.0, MARKET_JUMP_SIGMAS, size=minutes) * factor_sigma / math.sqrt(60)
        self.jumps = np.where(hit, size, 0.0)

    def returns(self, profile: SymbolProfile, vol: np.ndarray, rng: np.random.Generator):
        """One symbol's minute log returns: factor, own shock and jumps (no drift)."""
        minutes = len(vol)
        sigma = profile.sigma * math.sqrt(60.0)
        rho = profile.factor_correlation
        loading = rho * sigma / self.factor_sigma
        z = np.clip(rng.standard_t(DF, size=minutes) / T_SCALE, -Z_CLIP, Z_CLIP)
        returns = vol * (loading * self.factor_sigma * self.z + sigma * math.sqrt(1 - rho**2) * z)
        hit = rng.random(minutes) < 60.0 / JUMP_EVERY_S
        returns += np.where(hit, rng.laplace(0.0, JUMP_SIGMAS, size=minutes) * profile.sigma, 0.0)
        return returns + loading * self.jumps
