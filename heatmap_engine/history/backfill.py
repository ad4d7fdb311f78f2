"""Backfill candles (klines) and open interest (5 m ``openInterestHist``) from Binance REST.

Runs on start and after every feed reconnect, on its own thread. It fills the HOLES of every
tracked symbol over each series' horizon (1 m candles over ``kline_days``, 5 m over
``five_minute_days``, 1 h over ``hourly_days``, open interest over ``oi_days``, Binance's 30):
the store says where rows are missing (``StoreReads.holes``), so a symbol whose live candle was
stored first is filled behind it, an interrupted run continues where it stopped, and nothing
stored is fetched again. A day of 1 m candles and of open interest comes first for every symbol
(what the views need), then the rest; longer candles are stored closed only.

Polite in three ways: a steady budget of request weight per minute (``weight_per_minute``,
spread evenly, not a burst at start) and of ``openInterestHist`` requests per 5 minutes (its
own limit: 1,000 per IP); the ``X-MBX-USED-WEIGHT-1M`` header (waits for the next minute above
80 % of the 2400 budget, which other REST callers share); a 429 is waited out (``Retry-After`` or
exponential), a 418 ban ends the run (the next starts after it). While Binance is unreachable
the run ends quietly (the REST client says so once, at WARNING) and the next waits for the
client's backoff. Liquidations cannot be backfilled: Binance keeps no public history of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from heatmap_engine.exchanges.binance import parse_open_interest_hist, parse_rest_kline
from heatmap_engine.exchanges.binance_rest import (
    BinanceRest,
    RestRateLimited,
    RestUnavailable,
    RestUnreachable,
)
from heatmap_engine.history.budget import Budget
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, OpenInterest

log = logging.getLogger(__name__)
MINUTE_MS = 60_000
FIVE_MIN_MS = 300_000
DAY_MS = 86_400_000
WEIGHT_BUDGET = 2400
STEPS = {"1m": MINUTE_MS, "5m": FIVE_MIN_MS, "1h": 3_600_000}
KLINE_ROWS = 499  # weight 2 (limit 100..499): the fewest weight units per candle
OI_ROWS = 500  # openInterestHist's maximum
SETTLED_MS = DAY_MS  # a range this old that Binance answers empty stays empty (not listed yet)


def kline_weight(limit: int) -> int:
    """Binance's weight of ``/fapi/v1/klines`` by ``limit``: <100: 1, <500: 2, <=1000: 5, 10."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


@dataclass
class BackfillProgress:
    runs: int = 0
    candles: int = 0
    open_interest: int = 0
    requests: int = 0
    weight: int = 0
    rate_limited: int = 0
    banned_until: float = 0.0
    last_run_at: float | None = None
    last_error: str | None = None
    pending: set[str] = field(default_factory=set)
    holes: int = 0


class Backfill:
    def __init__(
        self,
        rest: BinanceRest,
        store: SqliteStore,
        emit: Callable[[Iterable[Candle | tuple[str, OpenInterest]]], None],
        *,
        kline_days: float = 1.0,
        oi_days: float = 30.0,
        five_minute_days: float = 0.0,
        hourly_days: float = 0.0,
        weight_per_minute: float = 600.0,
        oi_requests_per_5min: float = 500.0,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], bool] | None = None,
        budget_clock: Callable[[], float] = time.monotonic,
    ):
        self.rest = rest
        self.store = store
        self.emit = emit
        self.kline_days = kline_days
        self.oi_days = oi_days
        # (table, interval or period, horizon in days), in the order they are filled
        # tiers of (table, interval or period, horizon in days), each over every symbol before
        # the next: first what the views need now (a day of candles and of open interest),
        # then the rest of open interest (its own limit makes 30 days take a while), then the
        # longer candles
        self.tiers = [
            [("candles", "1m", kline_days), ("open_interest", "5m", min(1.0, oi_days))],
            [("open_interest", "5m", oi_days)],
            [("candles", "5m", five_minute_days)],
            [("candles", "1h", hourly_days)],
        ]
        self.clock = clock
        self._stop = threading.Event()
        self.wait = wait or self._stop.wait
        self.weight = Budget(weight_per_minute, 60.0, clock=budget_clock, wait=self.wait)
        self.oi_requests = Budget(oi_requests_per_5min, 300.0, clock=budget_clock, wait=self.wait)
        self.progress = BackfillProgress()
        # ranges Binance answered empty although they are settled (before a listing): not
        # asked again by this process; (table, symbol, kind) -> empty before this time
        self._empty_before: dict[tuple[str, str, str], int] = {}

    def stop(self) -> None:
        self._stop.set()

    def run(self, symbols: Iterable[str]) -> bool:
        """One pass: tier by tier, symbol by symbol in the order given (the configured order,
        majors first); False when it ended early (ban, stop, Binance unreachable)."""
        p = self.progress
        p.runs += 1
        p.last_run_at = self.clock()
        ordered = list(dict.fromkeys(symbols))
        p.pending = set(ordered)
        # the first tier once more at the end: the minutes that passed during a long pass
        for tier in [*self.tiers, self.tiers[0]]:
            for symbol in ordered:
                for table, kind, days in tier:
                    if days > 0 and not self._fill(table, symbol, kind, days):
                        return False
        p.pending.clear()
        return True

    def _fill(self, table: str, symbol: str, kind: str, days: float) -> bool:
        now_ms = int(self.clock() * 1000)
        step = STEPS[kind]
        # up to now: open interest points (snapshots) and 1-minute candles, the forming one too
        # (the live kline stream keeps it current; without it, it is the newest there is);
        # longer candles closed only (no stream would update a forming one)
        live_edge = table == "open_interest" or kind == "1m"
        end = now_ms + 1 if live_edge else now_ms - now_ms % step
        start = max(now_ms - int(days * DAY_MS), self._empty_before.get((table, symbol, kind), 0))
        for hole_start, hole_end in self.store.holes(table, symbol, kind, step, start, end):
            self.progress.holes += 1
            fetch = self._candles if table == "candles" else self._open_interest
            if not fetch(symbol, kind, hole_start, hole_end, now_ms):
                return False
        return True

    def _candles(self, symbol: str, interval: str, start: int, end: int, now_ms: int) -> bool:
        step = STEPS[interval]
        while start < end:
            limit = min(KLINE_ROWS, -(-(end - start) // step))
            params = {"symbol": symbol, "interval": interval, "startTime": start,
                      "endTime": end - 1, "limit": limit}  # fmt: skip
            rows = self._get("/fapi/v1/klines", params, kline_weight(limit))
            if rows is None:
                return False
            parsed = (parse_rest_kline(symbol, interval, r, now_ms) for r in rows)
            candles = [c for c in parsed if c is not None and start <= c.open_time_ms < end
                       and (c.closed or interval == "1m")]  # fmt: skip
            if not candles:
                self._settled_empty("candles", symbol, interval, start, end, now_ms)
                return True
            self._settled_empty("candles", symbol, interval, start, candles[0].open_time_ms, now_ms)
            self.emit(candles)
            self.progress.candles += len(candles)
            start = candles[-1].open_time_ms + step
        return True

    def _open_interest(self, symbol: str, period: str, start: int, end: int, now_ms: int) -> bool:
        while start < end:
            params = {"symbol": symbol, "period": period, "startTime": start,
                      "endTime": end - 1, "limit": OI_ROWS}  # fmt: skip
            if not self.oi_requests.spend(1, self._stop.is_set):
                return False
            rows = self._get("/futures/data/openInterestHist", params, 0)
            if rows is None:
                return False
            entries = [e for r in rows if (e := parse_open_interest_hist(r)) is not None
                       and start <= e.time_ms < end]  # fmt: skip
            if not entries:
                self._settled_empty("open_interest", symbol, period, start, end, now_ms)
                return True
            self._settled_empty("open_interest", symbol, period, start, entries[0].time_ms, now_ms)
            self.emit([(period, e) for e in entries])
            self.progress.open_interest += len(entries)
            start = entries[-1].time_ms + STEPS[period]
        return True

    def _settled_empty(
        self, table: str, symbol: str, kind: str, start: int, first: int, now_ms: int
    ) -> None:
        """Binance answered nothing in [start, first) (``first``: its first row, or the end
        asked): a symbol listed after ``start``, so nothing before ``first`` either. Remembered
        when settled (not the live edge, where a row may still come)."""
        if start < first <= now_ms - SETTLED_MS:
            key = (table, symbol, kind)
            self._empty_before[key] = max(self._empty_before.get(key, 0), first)

    def _get(self, path: str, params: dict, weight: int) -> list | None:
        """GET within the budgets, with the weight, 429 and 418 rules; None: end this run."""
        while not self._stop.is_set():
            if self.rest.used_weight is not None and self.rest.used_weight > WEIGHT_BUDGET * 0.8:
                self.wait(60 - self.clock() % 60 + 0.5)
                self.rest.used_weight = None
            if not self.weight.spend(weight, self._stop.is_set):
                return None
            try:
                self.progress.requests += 1
                self.progress.weight += weight
                return self.rest.get(path, params)
            except RestRateLimited as exc:
                self.progress.last_error = str(exc)
                if exc.banned:
                    self.progress.banned_until = exc.until
                    log.warning("backfill stopped: IP banned for %.0fs", exc.until - self.clock())
                    return None
                self.progress.rate_limited += 1
                self.wait(max(0.0, exc.until - self.clock()))
            except RestUnreachable as exc:  # the REST client said so once, at WARNING
                self.progress.last_error = str(exc)
                log.debug("backfill paused: %s", exc)
                return None
            except RestUnavailable as exc:
                self.progress.last_error = str(exc)
                log.info("backfill request failed: %s", exc)
                return None
        return None

    def retry_in(self) -> float:
        """Seconds before the next run can send anything (the REST client's backoff)."""
        now = time.time()
        return max(0.0, self.rest.unreachable_until - now, self.rest.blocked_until - now)

    def status(self) -> dict:
        p = self.progress
        return {
            "runs": p.runs,
            "candles": p.candles,
            "open_interest": p.open_interest,
            "requests": p.requests,
            "weight": p.weight,
            "holes": p.holes,
            "rate_limited": p.rate_limited,
            "banned_for_seconds": max(0.0, p.banned_until - self.clock()),
            "pending_symbols": len(p.pending),
            "weight_used_1m": self.weight.used(),
            "oi_requests_used_5m": self.oi_requests.used(),
            "last_error": p.last_error,
        }
