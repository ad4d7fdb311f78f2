"""Binance USDⓈ-M public REST (no key): exchangeInfo and mark-price fallback, polite about limits.

Every response's ``X-MBX-USED-WEIGHT-1M`` header is remembered. A 429 backs off (``Retry-After``
when sent, else exponentially); a 418 (IP ban) stops every request until the ban ends, read from
the "banned until <ms>" message when present.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import requests

from heatmap_engine.exchanges.binance import EXCHANGE, _number
from heatmap_engine.models import MarkPrice

log = logging.getLogger(__name__)
_BANNED_UNTIL = re.compile(r"banned until (\d{10,})")


class RestUnavailable(RuntimeError):
    """The request was not sent or failed; the message says why (ban, backoff, HTTP error)."""


class RestRateLimited(RestUnavailable):
    """Binance asked us to slow down (429) or banned the IP (418); no request before ``until``."""

    def __init__(self, message: str, until: float, banned: bool):
        super().__init__(message)
        self.until = until
        self.banned = banned


class BinanceRest:
    def __init__(
        self, base_url: str, timeout: float = 5.0, session: requests.Session | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.used_weight: int | None = None
        self.blocked_until = 0.0
        self.banned = False
        self._failures = 0
        self.errors: dict[str, int] = {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        now = time.time()
        if now < self.blocked_until:
            raise RestRateLimited(
                f"backing off for {self.blocked_until - now:.1f}s more",
                self.blocked_until,
                self.banned,
            )
        try:
            response = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            self._count(type(exc).__name__)
            raise RestUnavailable(f"{path}: {type(exc).__name__}") from exc
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
            raise RestUnavailable(f"{path}: HTTP {response.status_code}")
        self._failures = 0
        self.banned = False
        return response.json()

    def _count(self, reason: str) -> None:
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
                delay = max(delay, int(match.group(1)) / 1000 - time.time())
        self.blocked_until = time.time() + delay
        log.warning("Binance REST answered %s; pausing REST for %.0fs", response.status_code, delay)

    def exchange_info(self) -> dict[str, Any]:
        return self.get("/fapi/v1/exchangeInfo")

    def mark_prices(self) -> list[MarkPrice]:
        """All mark prices from ``/fapi/v1/premiumIndex`` (weight 10, one call for every symbol)."""
        body = self.get("/fapi/v1/premiumIndex")
        out = []
        for item in body if isinstance(body, list) else [body]:
            price = _number(item.get("markPrice")) if isinstance(item, dict) else None
            symbol = item.get("symbol") if isinstance(item, dict) else None
            if price and price > 0 and isinstance(symbol, str):
                when = item.get("time")
                when = int(when) if isinstance(when, int) and when > 0 else int(time.time() * 1000)
                out.append(MarkPrice(EXCHANGE, symbol, price, when))
        return out
