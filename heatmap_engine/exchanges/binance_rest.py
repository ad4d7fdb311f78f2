"""Binance USDⓈ-M public REST (no key): exchangeInfo and mark-price fallback, polite about limits.

Every response's ``X-MBX-USED-WEIGHT-1M`` header is remembered. A 429 backs off (``Retry-After``
when sent, else exponentially); a 418 (IP ban) stops every request until the ban ends, read from
the "banned until <ms>" message when present. When the host cannot be reached (or answers with
something that is not Binance's JSON, as a captive portal or a proxy does), every caller backs
off together: no request is sent until the backoff ends, ``RestUnreachable`` says when that is,
and the log says it once per outage (DEBUG for each retry, INFO when it answers again).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from heatmap_engine.exchanges.base import DEFAULT_WINDOW, TimeWindow
from heatmap_engine.exchanges.binance import EXCHANGE, _int_ms, _number
from heatmap_engine.models import MarkPrice
from heatmap_engine.network import Reachability, backoff_delay, host_of, network_cause

log = logging.getLogger(__name__)
_BANNED_UNTIL = re.compile(r"banned until (\d{10,})")


class RestUnavailable(RuntimeError):
    """The request was not sent or failed. The message says why in plain words (no exception
    text); ``category`` names the kind: a network cause ("connection refused"), ``http_503``,
    ``not_json``, ``malformed``, ``rate_limited``, ``banned``."""

    def __init__(self, message: str, category: str = "unavailable"):
        super().__init__(message)
        self.category = category


class RestRateLimited(RestUnavailable):
    """Binance asked us to slow down (429) or banned the IP (418); no request before ``until``."""

    def __init__(self, message: str, until: float, banned: bool):
        super().__init__(message, "banned" if banned else "rate_limited")
        self.until = until
        self.banned = banned


class RestUnreachable(RestUnavailable):
    """The host did not answer usefully; no request is sent before ``until`` (epoch seconds)."""

    def __init__(self, message: str, category: str, until: float):
        super().__init__(message, category)
        self.until = until


class BinanceRest:
    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.host = host_of(self.base_url)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.used_weight: int | None = None
        self.blocked_until = 0.0
        self.banned = False
        self._failures = 0
        self.errors: dict[str, int] = {}
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._clock = clock
        self._lock = threading.Lock()
        self.unreachable_until = 0.0
        self.unreachable_cause: str | None = None
        self._unreachable_attempts = 0
        self.reachability = Reachability(self.host, log, "Binance REST")

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON body of a 200; else ``RestUnavailable`` (or a subclass) saying why."""
        self._check_blocked()
        try:
            response = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            cause = network_cause(exc)
            log.debug("REST %s failed: %r", path, exc)
            raise self._unreachable(
                path, cause, f"cannot reach {self.host}: {cause}", cause
            ) from exc
        weight = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if weight is not None and weight.isdigit():
            self.used_weight = int(weight)
        if response.status_code in (418, 429):
            self._limit(response)
            raise RestRateLimited(
                f"{path}: HTTP {response.status_code}", self.blocked_until, self.banned
            )
        if response.status_code != 200:
            self._count(f"http_{response.status_code}")
            raise RestUnavailable(f"{path}: HTTP {response.status_code}", "http_error")
        try:
            body = response.json()
        except ValueError as exc:  # requests' JSONDecodeError is a ValueError
            words = "the answer is not JSON (a proxy or a login page in the way?)"
            raise self._unreachable(path, "not_json", words, words) from exc
        self._answered()
        return body

    def _check_blocked(self) -> None:
        now = self._clock()
        if now < self.blocked_until:
            raise RestRateLimited(
                f"backing off for {self.blocked_until - now:.1f}s more",
                self.blocked_until,
                self.banned,
            )
        with self._lock:
            until, cause = self.unreachable_until, self.unreachable_cause
        if now < until:
            raise RestUnreachable(
                f"{self.host} unreachable ({cause}); next try in {until - now:.0f} s",
                cause or "unreachable",
                until,
            )

    def _unreachable(self, path: str, category: str, words: str, cause: str) -> RestUnreachable:
        """Count the failure, start (or lengthen) the shared backoff, log by state: ``words``
        for the exception, ``cause`` for the log line about the host."""
        self._count(category)
        with self._lock:
            delay = backoff_delay(
                self._unreachable_attempts, self.backoff_initial, self.backoff_max, self._rng
            )
            self._unreachable_attempts += 1
            self.unreachable_until = self._clock() + delay
            self.unreachable_cause = category
        head = (
            f"Binance REST ({self.host}): {cause}"
            if category == "not_json"
            else f"cannot reach Binance REST ({self.host}): {cause}"
        )
        self.reachability.failed("rest", cause, delay, head)
        return RestUnreachable(f"{path}: {words}", category, self.unreachable_until)

    def _answered(self) -> None:
        with self._lock:
            self._failures = 0
            self.banned = False
            self._unreachable_attempts = 0
            self.unreachable_until = 0.0
            self.unreachable_cause = None
        down_for = self.reachability.reached("rest")
        if down_for is not None:
            log.info("Binance REST (%s) answers again after %.0f s", self.host, down_for)

    def _count(self, reason: str) -> None:
        with self._lock:
            self.errors[reason] = self.errors.get(reason, 0) + 1

    def _limit(self, response: requests.Response) -> None:
        self._count(f"http_{response.status_code}")
        self._failures += 1
        delay = min(300.0, 2.0**self._failures)
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            delay = float(retry_after)
        self.banned = response.status_code == 418
        if self.banned:
            match = _BANNED_UNTIL.search(response.text)
            delay = max(delay, 120.0)
            if match:
                delay = max(delay, int(match.group(1)) / 1000 - self._clock())
        self.blocked_until = self._clock() + delay
        log.warning("Binance REST answered %s; pausing REST for %.0fs", response.status_code, delay)

    def exchange_info(self) -> dict[str, Any]:
        body = self.get("/fapi/v1/exchangeInfo")
        if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
            self._count("malformed")
            raise RestUnavailable("/fapi/v1/exchangeInfo: unexpected answer", "malformed")
        return body

    def mark_prices(self, window: TimeWindow = DEFAULT_WINDOW) -> list[MarkPrice]:
        """All mark prices from ``/fapi/v1/premiumIndex`` (weight 10, one call for every symbol).

        The answer must be a list of objects; entries without a usable symbol, price or a
        ``time`` inside ``window`` around now are skipped and counted (``errors``)."""
        body = self.get("/fapi/v1/premiumIndex")
        if not isinstance(body, list):
            self._count("malformed")
            raise RestUnavailable("/fapi/v1/premiumIndex: unexpected answer", "malformed")
        now_ms = int(self._clock() * 1000)
        out = []
        for item in body:
            price = _number(item.get("markPrice")) if isinstance(item, dict) else None
            symbol = item.get("symbol") if isinstance(item, dict) else None
            if not (price and price > 0 and isinstance(symbol, str)):
                self._count("bad_entry")
                continue
            when = _int_ms(item.get("time")) or now_ms
            if (reason := window.verdict(when, now_ms)) is not None:
                self._count(reason)
                continue
            out.append(MarkPrice(EXCHANGE, symbol, price, when, "rest"))
        return out
