"""Backfill candles (1 m klines) and open interest (5 m ``openInterestHist``) from Binance REST.

Runs on start and after every feed reconnect, on its own thread. Polite: it reads the
``X-MBX-USED-WEIGHT-1M`` header and waits for the next minute above 80 % of the 2400 budget,
waits out a 429 (``Retry-After`` or exponential), and ends the run on a 418 ban (the next run
starts after the ban). It resumes from the newest stored row, so nothing is fetched twice and
an interrupted run continues where it stopped. Liquidations cannot be backfilled: Binance keeps
no public history of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from heatmap_engine.exchanges.binance import parse_open_interest_hist, parse_rest_kline
from heatmap_engine.exchanges.binance_rest import BinanceRest, RestRateLimited, RestUnavailable
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, OpenInterest

log = logging.getLogger(__name__)
MINUTE_MS = 60_000
FIVE_MIN_MS = 300_000
DAY_MS = 86_400_000
WEIGHT_BUDGET = 2400


@dataclass
class BackfillProgress:
    runs: int = 0
    candles: int = 0
    open_interest: int = 0
    requests: int = 0
    rate_limited: int = 0
    banned_until: float = 0.0
    last_run_at: float | None = None
    last_error: str | None = None
    pending: set[str] = field(default_factory=set)


class Backfill:
    def __init__(
        self,
        rest: BinanceRest,
        store: SqliteStore,
        emit: Callable[[Iterable[Candle | tuple[str, OpenInterest]]], None],
        *,
        kline_days: float = 1.0,
        oi_days: float = 30.0,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], bool] | None = None,
    ):
        self.rest = rest
        self.store = store
        self.emit = emit
        self.kline_days = kline_days
        self.oi_days = oi_days
        self.clock = clock
        self._stop = threading.Event()
        self.wait = wait or self._stop.wait
        self.progress = BackfillProgress()

    def stop(self) -> None:
        self._stop.set()

    def run(self, symbols: Iterable[str]) -> bool:
        """One pass over ``symbols``; False when it ended early (ban, stop)."""
        p = self.progress
        p.runs += 1
        p.last_run_at = self.clock()
        p.pending = set(symbols)
        for symbol in sorted(p.pending):
            if not self._klines(symbol) or not self._open_interest(symbol):
                return False
            p.pending.discard(symbol)
        return True

    def _get(self, path: str, params: dict) -> list | None:
        """GET with the weight, 429 and 418 rules; None means: end this run."""
        while not self._stop.is_set():
            if self.rest.used_weight is not None and self.rest.used_weight > WEIGHT_BUDGET * 0.8:
                self.wait(60 - self.clock() % 60 + 0.5)
                self.rest.used_weight = None
            try:
                self.progress.requests += 1
                return self.rest.get(path, params)
            except RestRateLimited as exc:
                self.progress.last_error = str(exc)
                if exc.banned:
                    self.progress.banned_until = exc.until
                    log.warning("backfill stopped: IP banned for %.0fs", exc.until - self.clock())
                    return None
                self.progress.rate_limited += 1
                self.wait(max(0.0, exc.until - self.clock()))
            except RestUnavailable as exc:
                self.progress.last_error = str(exc)
                log.info("backfill request failed: %s", exc)
                return None
        return None

    def _klines(self, symbol: str) -> bool:
        """The ``kline_days`` before now: the tail after the newest stored candle, and the head
        before the oldest when the store does not reach back that far (the live stream stored
        its first candles before this run reached the symbol)."""
        now_ms = int(self.clock() * 1000)
        horizon = now_ms - int(self.kline_days * DAY_MS)
        horizon -= horizon % MINUTE_MS
        oldest = self.store.candles(symbol, "1m", horizon, now_ms + MINUTE_MS, 1)
        head = oldest[0].open_time_ms if oldest else horizon
        if head > horizon + MINUTE_MS and not self._kline_span(symbol, horizon, head, now_ms):
            return False
        last = self.store.last_time("candles", symbol, "1m")
        start = max(horizon, (last or 0) + MINUTE_MS)
        return self._kline_span(symbol, start, now_ms, now_ms)

    def _kline_span(self, symbol: str, start: int, stop: int, now_ms: int) -> bool:
        """1m klines opening in ``[start, stop)``; False when the run must end."""
        while start < stop:
            params = {"symbol": symbol, "interval": "1m", "startTime": start, "limit": 1000}
            if stop < now_ms:
                params["endTime"] = stop - 1
            rows = self._get("/fapi/v1/klines", params)
            if rows is None:
                return False
            candles = [
                c
                for r in rows
                if (c := parse_rest_kline(symbol, "1m", r, now_ms)) is not None
                and c.open_time_ms < stop
            ]
            if not candles:
                break
            self.emit(candles)
            self.progress.candles += len(candles)
            start = candles[-1].open_time_ms + MINUTE_MS
        return True

    def _open_interest(self, symbol: str) -> bool:
        now_ms = int(self.clock() * 1000)
        last = self.store.last_time("open_interest", symbol, "5m")
        start = max(now_ms - int(self.oi_days * DAY_MS), (last or 0) + FIVE_MIN_MS)
        while start < now_ms - FIVE_MIN_MS:
            params = {"symbol": symbol, "period": "5m", "startTime": start, "limit": 500}
            rows = self._get("/futures/data/openInterestHist", params)
            if rows is None:
                return False
            entries = [e for r in rows if (e := parse_open_interest_hist(r)) is not None]
            if not entries:
                break
            self.emit([("5m", e) for e in entries])
            self.progress.open_interest += len(entries)
            start = entries[-1].time_ms + FIVE_MIN_MS
        return True

    def status(self) -> dict:
        p = self.progress
        return {
            "runs": p.runs,
            "candles": p.candles,
            "open_interest": p.open_interest,
            "requests": p.requests,
            "rate_limited": p.rate_limited,
            "banned_for_seconds": max(0.0, p.banned_until - self.clock()),
            "pending_symbols": len(p.pending),
            "last_error": p.last_error,
        }
