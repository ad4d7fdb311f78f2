"""The endpoint bodies of the fake REST API: query in, (JSON payload, request weight) out.

Each function models one Binance USDⓈ-M public endpoint of protocol reference §1.9, including
its parameter validation errors (-1100, -1102, -1120, -1121, -1130) and its weight rule.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from market_sim import series
from market_sim.state import MarketState
from market_sim.universe import ContractSpec, symbol_entry

Query = dict[str, str]
Endpoint = Callable[[Query, int], tuple[Any, int]]
_EIGHT = Decimal("0.00000001")
_FUNDING_EVERY_MS = 8 * 3_600_000
_KLINE_MAX, _KLINE_DEFAULT = 1500, 500
_OI_HIST_MAX, _OI_HIST_DEFAULT = 500, 30


class RestError(Exception):
    """A Binance error response: HTTP status plus `{"code": .., "msg": ..}`."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def _mandatory(query: Query, name: str) -> str:
    value = query.get(name, "")
    if not value:
        raise RestError(
            400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def _optional_int(query: Query, name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 20:
        raise RestError(
            400,
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(value)


def _limit(query: Query, default: int, maximum: int) -> int:
    limit = _optional_int(query, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise RestError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _window(query: Query) -> tuple[int | None, int | None]:
    return _optional_int(query, "startTime"), _optional_int(query, "endTime")


def kline_weight(limit: int) -> int:
    """§1.9: [1,100) -> 1, [100,500) -> 2, [500,1000] -> 5, > 1000 -> 10."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


class Endpoints:
    """The endpoint functions, bound to one MarketState."""

    def __init__(self, state: MarketState, weight_limit: int) -> None:
        self._state = state
        self._weight_limit = weight_limit
        self._symbols = [symbol_entry(spec, i) for i, spec in enumerate(state.contracts)]

    def _contract(self, query: Query) -> ContractSpec:
        spec = self._state.contract(_mandatory(query, "symbol"))
        if spec is None:
            raise RestError(400, -1121, "Invalid symbol.")
        return spec

    def time(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1/time`, weight 1."""
        return {"serverTime": now_ms}, 1

    def exchange_info(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1/exchangeInfo`, weight 1; `serverTime` is documented as 'ignore'."""
        limits = [("REQUEST_WEIGHT", "MINUTE", 1, self._weight_limit)]
        limits += [("ORDERS", "MINUTE", 1, 1200), ("ORDERS", "SECOND", 10, 300)]
        assets = [{"asset": a, "marginAvailable": True, "autoAssetExchange": "0"}
                  for a in ("USDT", "USDC", "BTC", "BNB", "ETH")]  # fmt: skip
        return {
            "timezone": "UTC",
            "serverTime": now_ms,
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": kind, "interval": unit, "intervalNum": num, "limit": limit}
                for kind, unit, num, limit in limits
            ],
            "exchangeFilters": [],
            "assets": assets,
            "symbols": self._symbols,
        }, 1

    def _premium(self, spec: ContractSpec, now_ms: int) -> dict[str, Any]:
        mark = Decimal(self._state.mark_price(spec.symbol))
        funding = spec.has_funding
        next_funding = (now_ms // _FUNDING_EVERY_MS + 1) * _FUNDING_EVERY_MS
        index, rate = mark * Decimal("0.9999"), Decimal("0.0001")
        live = self._state.premium(spec.symbol)  # a simulated market's own index and funding
        if live is not None:
            index, rate = Decimal(live[0]), Decimal(live[1])
        return {
            "symbol": spec.symbol,
            "markPrice": str(mark.quantize(_EIGHT)),
            "indexPrice": str(index.quantize(_EIGHT)),
            "estimatedSettlePrice": str(((mark + index) / 2).quantize(_EIGHT)),
            "lastFundingRate": str(rate.quantize(_EIGHT)) if funding else "",
            "interestRate": "0.00010000" if funding else "",
            "nextFundingTime": next_funding if funding else 0,
            "time": now_ms,
        }

    def _trading(self) -> list[ContractSpec]:
        return [spec for spec in self._state.contracts if spec.status == "TRADING"]

    def premium_index(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1/premiumIndex`: object with `symbol` (weight 1), array without (10)."""
        if "symbol" in query:
            return self._premium(self._contract(query), now_ms), 1
        return [self._premium(spec, now_ms) for spec in self._trading()], 10

    def ticker_price(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1|v2/ticker/price`: weight 1 with `symbol`, 2 without (array)."""
        if "symbol" in query:
            spec = self._contract(query)
            return {"symbol": spec.symbol, "price": self._state.mark_price(spec.symbol),
                    "time": now_ms}, 1  # fmt: skip
        marks = self._state.mark_prices()
        return [
            {"symbol": spec.symbol, "price": marks[spec.symbol], "time": now_ms}
            for spec in self._trading()
        ], 2

    def klines(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1/klines`: 12-column rows; limit default 500, max 1500; weight by limit."""
        _mandatory(query, "symbol")
        interval = _mandatory(query, "interval")
        spec = self._contract(query)
        if interval not in series.KLINE_INTERVALS:
            raise RestError(400, -1120, "Invalid interval.")
        limit = _limit(query, _KLINE_DEFAULT, _KLINE_MAX)
        rows = self._state.klines(spec.symbol, interval, now_ms, _window(query), limit)
        return rows, kline_weight(limit)

    def open_interest(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /fapi/v1/openInterest`, weight 1; amount in base units."""
        spec = self._contract(query)
        amount = self._state.open_interest(spec.symbol)
        return {"openInterest": amount, "symbol": spec.symbol, "time": now_ms}, 1

    def open_interest_hist(self, query: Query, now_ms: int) -> tuple[Any, int]:
        """`GET /futures/data/openInterestHist`: last 30 days, limit default 30, max 500."""
        _mandatory(query, "symbol")
        period = _mandatory(query, "period")
        spec = self._contract(query)
        if period not in series.OI_PERIODS:
            raise RestError(400, -1130, "Data sent for parameter 'period' is not valid.")
        limit = _limit(query, _OI_HIST_DEFAULT, _OI_HIST_MAX)
        rows = self._state.open_interest_history(spec.symbol, period, now_ms, _window(query), limit)
        return rows, 0


def endpoints(state: MarketState, weight_limit: int) -> dict[str, Endpoint]:
    """Path -> endpoint function for every REST route the fake serves."""
    api = Endpoints(state, weight_limit)
    return {
        "/fapi/v1/time": api.time,
        "/fapi/v1/exchangeInfo": api.exchange_info,
        "/fapi/v1/premiumIndex": api.premium_index,
        "/fapi/v1/ticker/price": api.ticker_price,
        "/fapi/v2/ticker/price": api.ticker_price,
        "/fapi/v1/klines": api.klines,
        "/fapi/v1/openInterest": api.open_interest,
        "/futures/data/openInterestHist": api.open_interest_hist,
    }
