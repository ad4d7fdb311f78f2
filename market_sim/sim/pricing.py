"""Exogenous 1-second mark-price returns for every symbol at once (numpy, injected rng).

The log return of symbol `i` over one second is

    r_i = mu_i + b_i·f + e_i + J_i

* `f = sqrt(h_f)·z_f` is a common market factor and `e_i = sqrt(h_i)·z_i` the symbol's own
  shock; `z` are Student-t (4 degrees of freedom, unit variance, clipped at ±12) so returns have
  fat tails. Both variances follow GARCH(1,1), `h' = omega + alpha·x² + beta·h` with persistence
  0.9997 per second (a half-life of about 40 minutes), so calm and busy stretches cluster;
  `h` is kept within [0.25, 16] times its long-run value. The loading `b_i` is chosen so the
  return correlates with the factor at the tier's `factor_correlation` and the total long-run
  variance is the symbol's `sigma²`.
* `J_i` are jumps: per symbol about one every 4 hours, market-wide (through the factor) about one
  every 8 hours, Laplace-distributed (scale 50 and 60 long-run one-second sigmas); a jump also
  quadruples the GARCH variance, so volatility stays high after a shock.
* `mu_i` is the regime drift: a Markov chain per symbol between a *range* (mean-reverting
  towards the price at which the range began, half-life 10 minutes; mean duration 40 minutes)
  and an up or down *trend* (drift 0.06 sigma per second, about 0.4 % per 15 minutes for BTC;
  mean duration 15 minutes, then mostly back to a range).

Liquidation impact is not here: the market adds it on top (`market_sim.sim.liquidation`).
"""

from __future__ import annotations

import math

import numpy as np

DF = 4.0
T_SCALE = math.sqrt(DF / (DF - 2.0))  # standard_t(4) has variance 2
Z_CLIP = 12.0
ALPHA, PERSISTENCE = 0.01, 0.9997
VAR_FLOOR, VAR_CAP = 0.25, 16.0
JUMP_EVERY_S, MARKET_JUMP_EVERY_S = 4 * 3600, 8 * 3600
JUMP_SIGMAS, MARKET_JUMP_SIGMAS, JUMP_VAR_BOOST = 50.0, 60.0, 4.0
RANGE_MEAN_S, TREND_MEAN_S = 40 * 60, 15 * 60
RANGE_HALF_LIFE_S = 600.0
TREND_DRIFT_SIGMAS = 0.06
TREND_TO_RANGE = 0.8


class PricePaths:
    """GARCH + jumps + regime drift for `len(sigma)` symbols sharing one market factor."""

    def __init__(self, sigma: np.ndarray, factor_correlation: np.ndarray) -> None:
        self.sigma = np.asarray(sigma, dtype=np.float64)
        count = len(self.sigma)
        self.factor_sigma = float(self.sigma.min()) if count else 0.0
        rho = np.asarray(factor_correlation, dtype=np.float64)
        self.loading = rho * self.sigma / self.factor_sigma
        self.idio_var_bar = self.sigma**2 * (1.0 - rho**2)
        self.idio_var = self.idio_var_bar.copy()
        self.factor_var_bar = self.factor_sigma**2
        self.factor_var = self.factor_var_bar
        self.regime = np.zeros(count, dtype=np.int8)  # -1 down trend, 0 range, +1 up trend
        self.anchor = np.zeros(count)  # log price the current range reverts to
        self._anchored = False

    def vol_ratio(self) -> np.ndarray:
        """Current over long-run volatility per symbol (traders trade more when it is high)."""
        current = self.loading**2 * self.factor_var + self.idio_var
        return np.sqrt(current / self.sigma**2)

    def draw(self, log_mark: np.ndarray, rng: np.random.Generator, seconds: int = 1) -> np.ndarray:
        """Log returns over the next `seconds` for every symbol; advances variances and regimes.

        One draw per call: with `seconds` > 1 (the demo's fast prefill) the shock variance,
        the drifts and the jump and regime-switch probabilities are those of the longer step,
        and the GARCH persistence is `0.9997 ** seconds`, so half-lives stay the same in time.
        """
        count = len(self.sigma)
        if not self._anchored:
            self.anchor = log_mark.copy()
            self._anchored = True
        z = np.clip(rng.standard_t(DF, size=count + 1) / T_SCALE, -Z_CLIP, Z_CLIP)
        factor = math.sqrt(self.factor_var * seconds) * float(z[0])
        idio = np.sqrt(self.idio_var * seconds) * z[1:]
        jumps, market_jump = self._jumps(count, rng, seconds)
        factor_move = factor + market_jump
        persistence = PERSISTENCE**seconds
        self.factor_var = _garch(self.factor_var_bar, self.factor_var, factor**2 / seconds,
                                 persistence)  # fmt: skip
        self.idio_var = _garch(self.idio_var_bar, self.idio_var, idio**2 / seconds, persistence)
        if market_jump:
            self.factor_var = min(self.factor_var * JUMP_VAR_BOOST, VAR_CAP * self.factor_var_bar)
        hit = jumps != 0.0
        self.idio_var[hit] = np.minimum(
            self.idio_var[hit] * JUMP_VAR_BOOST, VAR_CAP * self.idio_var_bar[hit]
        )
        drift = self._drift(log_mark) * seconds
        self._switch_regimes(log_mark, rng, seconds)
        return drift + self.loading * factor_move + idio + jumps

    def _jumps(
        self, count: int, rng: np.random.Generator, seconds: int
    ) -> tuple[np.ndarray, float]:
        """Idiosyncratic jumps per symbol and one market-wide jump (in factor units)."""
        hits = rng.random(count) < seconds / JUMP_EVERY_S
        sizes = rng.laplace(0.0, JUMP_SIGMAS, size=count) * self.sigma
        market = 0.0
        if rng.random() < seconds / MARKET_JUMP_EVERY_S:
            market = float(rng.laplace(0.0, MARKET_JUMP_SIGMAS)) * self.factor_sigma
        return np.where(hits, sizes, 0.0), market

    def _drift(self, log_mark: np.ndarray) -> np.ndarray:
        reversion = -(math.log(2.0) / RANGE_HALF_LIFE_S) * (log_mark - self.anchor)
        trend = self.regime * TREND_DRIFT_SIGMAS * self.sigma
        return np.where(self.regime == 0, reversion, trend)

    def _switch_regimes(self, log_mark: np.ndarray, rng: np.random.Generator, seconds: int) -> None:
        """Range -> up/down trend after ~40 min; trend -> range (80 %) or reversal after ~15."""
        u = rng.random((2, len(self.sigma)))
        in_range = self.regime == 0
        leave = np.where(in_range, u[0] < seconds / RANGE_MEAN_S, u[0] < seconds / TREND_MEAN_S)
        if not leave.any():
            return
        start_trend = leave & in_range
        self.regime[start_trend] = np.where(u[1][start_trend] < 0.5, -1, 1)
        from_trend = leave & ~in_range
        to_range = from_trend & (u[1] < TREND_TO_RANGE)
        reverse = from_trend & ~to_range
        self.regime[reverse] = -self.regime[reverse]
        self.regime[to_range] = 0
        self.anchor[to_range] = log_mark[to_range]


def _garch(var_bar, var, shock_sq, persistence: float = PERSISTENCE):
    """GARCH(1,1) update of a per-second variance with the long-run value fixed at `var_bar`
    (`shock_sq` is the squared shock per second), kept within bounds."""
    omega = var_bar * (1.0 - persistence)
    updated = omega + ALPHA * shock_sq + (persistence - ALPHA) * var
    return np.clip(updated, VAR_FLOOR * var_bar, VAR_CAP * var_bar)
