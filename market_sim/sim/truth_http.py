"""The fake server's truth endpoints (not part of Binance's API; see docs/simulator.md).

* `GET /sim/truth/liquidations?symbol=&start=&end=&sampled=` — every liquidation of the
  simulated market (optionally one symbol, trade time within `[start, end]` in epoch ms, only
  the ones the stream pushed with `sampled=1`), in time order;
* `GET /sim/truth/positions?symbol=` — the open book with each position's liquidation price;
* `GET /sim/truth/summary` — counters (truth totals, frames published, open interest).

Errors use Binance's `{"code", "msg"}` shape: 404 when no simulated market is attached, 400
for an unknown symbol or a malformed number. Bodies are built off the server loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from market_sim.sim.source import SimulatedMarket

MarketGetter = Callable[[], "SimulatedMarket | None"]


class _BadRequest(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.body = {"code": code, "msg": msg}


def _int(query: Any, name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 20:
        raise _BadRequest(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                 "is '^[0-9]{1,20}$'.")  # fmt: skip
    return int(value)


def _liquidations(market: SimulatedMarket, query: Any) -> dict[str, Any]:
    start, end = _int(query, "start"), _int(query, "end")
    sampled = query.get("sampled", "") in ("1", "true")
    records = market.liquidations(query.get("symbol") or None, start, end, sampled)
    return {"time_ms": market.sim.now_ms, "count": len(records), "liquidations": records}


def _positions(market: SimulatedMarket, query: Any) -> dict[str, Any]:
    records = market.positions(query.get("symbol") or None)
    return {"time_ms": market.sim.now_ms, "count": len(records), "positions": records}


def _summary(market: SimulatedMarket, query: Any) -> dict[str, Any]:
    return market.summary()


def _json(payload: Any, status: int = 200) -> web.Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type="application/json")


def truth_routes(get_market: MarketGetter) -> list[web.RouteDef]:
    """The three routes, answering from whatever market `get_market()` returns."""

    def handler(build: Callable[[SimulatedMarket, Any], dict[str, Any]]):
        async def handle(request: web.Request) -> web.Response:
            market = get_market()
            if market is None:
                return _json({"code": -1, "msg": "no simulated market is attached"}, 404)
            try:
                payload = await asyncio.to_thread(build, market, request.query)
            except _BadRequest as err:
                return _json(err.body, 400)
            except KeyError:
                return _json({"code": -1121, "msg": "Invalid symbol."}, 400)
            return _json(payload)

        return handle

    return [
        web.get("/sim/truth/liquidations", handler(_liquidations)),
        web.get("/sim/truth/positions", handler(_positions)),
        web.get("/sim/truth/summary", handler(_summary)),
    ]
