"""REST half of the fake: the public USDⓈ-M endpoints of protocol reference §1.9.

Models §1.8: JSON bodies, `{"code":..,"msg":..}` errors with Binance's codes and texts, the
`X-MBX-USED-WEIGHT-1M` header on every response (used weight in the current UTC minute), a real
429 when the configured weight limit is exceeded, and injectable 429/418 (+ `Retry-After`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from market_sim.rest_endpoints import Endpoint, Query, RestError, endpoints
from market_sim.state import MarketState

logger = logging.getLogger(__name__)

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
DEFAULT_BAN_SECONDS = 120  # Binance bans escalate from 2 minutes to 3 days
TOO_MANY = (
    "Too many requests; current limit is {limit} requests per minute. "
    "Please use the websocket for live updates to avoid polling the API."
)
BANNED = (
    "Way too many requests; IP banned until {until}. "
    "Please use the websocket for live updates to avoid bans."
)
_OTHER_FAILURES = {
    403: (-1000, "WAF limit violated."),
    408: (-1007, "Timeout waiting for response from backend server. Send status unknown; "
                 "execution status unknown."),
}  # fmt: skip
_SERVER_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")


@dataclass(frozen=True)
class InjectedFailure:
    """One queued failure: answered before normal handling of the next REST request."""

    status: int
    retry_after: int | None = None


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class WeightMeter:
    """Used request weight in fixed one-minute UTC windows (what X-MBX-USED-WEIGHT-1M shows)."""

    def __init__(self) -> None:
        self._minute = -1
        self._used = 0

    def add(self, weight: int, now_ms: int) -> int:
        minute = now_ms // 60_000
        if minute != self._minute:
            self._minute, self._used = minute, 0
        self._used += weight
        return self._used

    def current(self, now_ms: int) -> int:
        return self._used if now_ms // 60_000 == self._minute else 0


class RestApi:
    """The REST routes, their bookkeeping (request log, weight) and failure injection."""

    def __init__(
        self, state: MarketState, clock: Callable[[], float], weight_limit: int = 2400
    ) -> None:
        self._state = state
        self._clock = clock
        self._weight_limit = weight_limit
        self._lock = threading.Lock()
        self._failures: deque[InjectedFailure] = deque()
        self._requests: list[tuple[str, str, dict[str, str]]] = []
        self._meter = WeightMeter()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def routes(self) -> list[web.RouteDef]:
        table = endpoints(self._state, self._weight_limit)
        return [web.get(path, self._handler(endpoint)) for path, endpoint in table.items()]

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Queue `count` failures with HTTP `status` for the next REST requests (any path)."""
        with self._lock:
            self._failures.extend([InjectedFailure(status, retry_after)] * count)

    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return list(self._requests)

    def used_weight(self) -> int:
        with self._lock:
            return self._meter.current(self.now_ms())

    def _handler(self, endpoint: Endpoint) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            return self._serve(endpoint, request)

        return handle

    def _serve(self, endpoint: Endpoint, request: web.Request) -> web.Response:
        """Record, maybe fail on purpose, run the endpoint, count its weight."""
        query: Query = dict(request.query)
        now_ms = self.now_ms()
        with self._lock:
            self._requests.append((request.method, request.path, query))
            failure = self._failures.popleft() if self._failures else None
            used = self._meter.current(now_ms)
        if failure is not None:
            logger.debug("injected HTTP %s for %s", failure.status, request.path)
            return self._failure_response(failure, now_ms, used)
        status = 200
        try:
            payload, weight = endpoint(query, now_ms)
        except RestError as err:
            payload, weight, status = err.body(), 1, err.status
        with self._lock:
            used = self._meter.add(weight, now_ms)
        if used > self._weight_limit:
            payload, status = {"code": -1003, "msg": TOO_MANY.format(limit=self._weight_limit)}, 429
        return web.Response(
            body=_json(payload), status=status, content_type="application/json",
            headers={WEIGHT_HEADER: str(used)},
        )  # fmt: skip

    def _failure_response(self, failure: InjectedFailure, now_ms: int, used: int) -> web.Response:
        headers = {WEIGHT_HEADER: str(used)}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        if failure.status == 429:
            body = {"code": -1003, "msg": TOO_MANY.format(limit=self._weight_limit)}
        elif failure.status == 418:
            ban_seconds = failure.retry_after or DEFAULT_BAN_SECONDS
            body = {"code": -1003, "msg": BANNED.format(until=now_ms + ban_seconds * 1000)}
        else:
            code, msg = _OTHER_FAILURES.get(failure.status, _SERVER_ERROR)
            body = {"code": code, "msg": msg}
        return web.Response(
            body=_json(body), status=failure.status, content_type="application/json",
            headers=headers,
        )  # fmt: skip
