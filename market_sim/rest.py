"""REST half of the fake: the public USDⓈ-M endpoints of protocol reference §1.9.

Models §1.8: JSON bodies, `{"code":..,"msg":..}` errors with Binance's codes and texts, the
`X-MBX-USED-WEIGHT-1M` header on every response (used weight in the current UTC minute), a real
429 when the configured weight limit is exceeded, and injectable 429/418 (+ `Retry-After`).

`openInterestHist` has a limit of its own besides the weight (§1.9: weight 0, but 1,000
requests per 5 minutes per IP): beyond it the endpoint answers 429 with Binance's -1003 body.
Continued abuse of either limit (`ban_after` answers of 429 within one window of that limit)
bans the IP: every request then answers 418 "IP banned until <ms>", for 2 minutes the first
time and twice as long each time after (at most 3 days, as Binance's bans escalate). Windows
are fixed (UTC minutes, 5-minute steps) on the fake's clock. The fake sees one IP: loopback.
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
MAX_BAN_SECONDS = 3 * 86_400
OI_HIST_PATH = "/futures/data/openInterestHist"
OI_HIST_LIMIT, OI_HIST_WINDOW_MS = 1000, 300_000  # requests per 5 minutes per IP (§1.9)
OI_TOO_MANY = (
    "Too many requests; current limit is {limit} requests per 5 minutes. "
    "Please use the websocket for live updates to avoid polling the API."
)
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
REQUEST_LOG = 100_000  # requests remembered for tests (bounded: a long demo makes many)
_SERVER_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")


@dataclass(frozen=True)
class InjectedFailure:
    """One queued failure: answered before normal handling of the next REST request."""

    status: int
    retry_after: int | None = None
    banned_until_ms: int | None = None  # a real ban's end (else now + the ban's length)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class WeightMeter:
    """Use in fixed UTC windows (one minute: the request weight X-MBX-USED-WEIGHT-1M shows),
    and how many requests were refused for it in the current window."""

    def __init__(self, window_ms: int = 60_000) -> None:
        self.window_ms = window_ms
        self._window = -1
        self._used = 0
        self.refused = 0

    def add(self, amount: int, now_ms: int) -> int:
        window = now_ms // self.window_ms
        if window != self._window:
            self._window, self._used, self.refused = window, 0, 0
        self._used += amount
        return self._used

    def current(self, now_ms: int) -> int:
        return self._used if now_ms // self.window_ms == self._window else 0


class IpBan:
    """The IP ban that follows continued abuse: escalating from 2 minutes to 3 days."""

    def __init__(self, ban_after: int) -> None:
        self.ban_after = ban_after
        self.until_ms = 0
        self.bans = 0

    def refused(self, meter: WeightMeter, now_ms: int) -> None:
        """One more request refused with 429 for `meter`'s limit; ban when too many."""
        meter.refused += 1
        if meter.refused >= self.ban_after:
            seconds = min(MAX_BAN_SECONDS, DEFAULT_BAN_SECONDS * 2**self.bans)
            self.until_ms, self.bans, meter.refused = now_ms + seconds * 1000, self.bans + 1, 0
            logger.info("fake Binance bans the IP for %d s (continued 429s)", seconds)

    def active(self, now_ms: int) -> bool:
        return now_ms < self.until_ms


class RestApi:
    """The REST routes, their bookkeeping (request log, weight) and failure injection."""

    def __init__(
        self,
        state: MarketState,
        clock: Callable[[], float],
        weight_limit: int = 2400,
        *,
        oi_hist_limit: int = OI_HIST_LIMIT,
        ban_after: int = 10,
    ) -> None:
        self._state = state
        self._clock = clock
        self._weight_limit = weight_limit
        self._oi_hist_limit = oi_hist_limit
        self._lock = threading.Lock()
        self._failures: deque[InjectedFailure] = deque()
        self._requests: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=REQUEST_LOG)
        # (time ms on the fake's clock, path, weight counted) of each request, for budget checks
        self._timed: deque[tuple[int, str, int]] = deque(maxlen=REQUEST_LOG)
        self.request_count = 0
        self._meter = WeightMeter()
        self._oi_meter = WeightMeter(OI_HIST_WINDOW_MS)
        self._ban = IpBan(ban_after)

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
        """The last `REQUEST_LOG` requests (method, path, query), oldest first."""
        with self._lock:
            return list(self._requests)

    def timed_requests(self) -> list[tuple[int, str, int]]:
        """(time ms on the fake's clock, path, weight counted) of the last `REQUEST_LOG`
        requests answered by an endpoint, oldest first."""
        with self._lock:
            return list(self._timed)

    def used_weight(self) -> int:
        with self._lock:
            return self._meter.current(self.now_ms())

    def limits(self) -> dict[str, int]:
        """Use of the limits now: weight this minute, openInterestHist requests these
        5 minutes, and the IP ban (remaining ms, how many so far)."""
        now_ms = self.now_ms()
        with self._lock:
            return {
                "used_weight_1m": self._meter.current(now_ms),
                "oi_hist_requests_5m": self._oi_meter.current(now_ms),
                "banned_for_ms": max(0, self._ban.until_ms - now_ms), "bans": self._ban.bans,
            }  # fmt: skip

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
            self.request_count += 1
            failure = self._failures.popleft() if self._failures else None
            used = self._meter.current(now_ms)
            if failure is None and self._ban.active(now_ms):
                left_s = -(-(self._ban.until_ms - now_ms) // 1000)
                failure = InjectedFailure(418, left_s, self._ban.until_ms)
        if failure is not None:
            logger.debug("HTTP %s for %s", failure.status, request.path)
            return self._failure_response(failure, now_ms, used)
        status = 200
        try:
            payload, weight = endpoint(query, now_ms)
        except RestError as err:
            payload, weight, status = err.body(), 1, err.status
        with self._lock:
            used = self._meter.add(weight, now_ms)
            self._timed.append((now_ms, request.path, weight))
            hist = self._oi_meter.add(1, now_ms) if request.path == OI_HIST_PATH else 0
            if used > self._weight_limit:
                payload, status = (
                    {"code": -1003, "msg": TOO_MANY.format(limit=self._weight_limit)},
                    429,
                )
                self._ban.refused(self._meter, now_ms)
            elif hist > self._oi_hist_limit:
                payload, status = (
                    {"code": -1003, "msg": OI_TOO_MANY.format(limit=self._oi_hist_limit)},
                    429,
                )
                self._ban.refused(self._oi_meter, now_ms)
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
            until = failure.banned_until_ms
            if until is None:
                until = now_ms + (failure.retry_after or DEFAULT_BAN_SECONDS) * 1000
            body = {"code": -1003, "msg": BANNED.format(until=until)}
        else:
            code, msg = _OTHER_FAILURES.get(failure.status, _SERVER_ERROR)
            body = {"code": code, "msg": msg}
        return web.Response(
            body=_json(body), status=failure.status, content_type="application/json",
            headers=headers,
        )  # fmt: skip
