"""A fake Binance USDⓈ-M futures server on loopback, speaking the exchange's wire format.

One aiohttp app on one port serves both halves (see the protocol reference §1):

* websockets (`market_sim.ws`): `/market/ws/<streams>`, `/market/stream?streams=..`, the same
  under `/public`, and unrouted `/ws`, `/stream` which ack control messages but never carry
  `/market` data (Binance's silent failure since the 2026 URL split, §1.1);
* REST (`market_sim.rest`): exchangeInfo, premiumIndex, ticker/price, time, klines,
  openInterest, openInterestHist with weights, the used-weight header, openInterestHist's own
  limit (1,000 requests per 5 minutes) and 429/418 with bans (§1.8, §1.9);
* with a simulated market attached (`attach_market`, see `market_sim.sim`), REST state comes
  from it and `/sim/truth/*` answers what really happened (not a Binance route).

The asyncio loop runs on one named background thread created by `start()` and joined by
`stop()`; nothing runs at import. Every public method is safe to call from the test thread.

    with FakeBinance(ping_interval=0.2) as fb:
        fb.publish("!forceOrder@arr", {...})

`python -m market_sim.fake_binance --port 9000` serves it in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from market_sim.connection import WsLimits
from market_sim.hub import Hub, Payload, wait_until
from market_sim.rest import RestApi
from market_sim.sim.truth_http import truth_routes
from market_sim.state import MarketState
from market_sim.universe import default_mark_prices, default_universe
from market_sim.ws import WsServer

if TYPE_CHECKING:
    from market_sim.sim.source import SimulatedMarket

__all__ = ["FakeBinance", "default_mark_prices", "default_universe", "main"]

logger = logging.getLogger(__name__)


class FakeBinance:
    """The fake exchange: construct, `start()`, drive it from tests, `stop()`."""

    def __init__(
        self,
        symbols: Sequence[str] | None = None,
        ping_interval: float = 180.0,
        pong_timeout: float = 600.0,
        max_connection_seconds: float = 86400.0,
        max_client_messages_per_second: int = 10,
        max_streams: int = 1024,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        rest_weight_limit: int = 2400,
        close_timeout: float = 2.0,
        max_queued_frames: int = 2048,
        slow_consumer_seconds: float = 10.0,
        oi_hist_limit: int = 1000,
        rest_ban_after: int = 10,
    ) -> None:
        if min(ping_interval, pong_timeout, max_connection_seconds, close_timeout) <= 0:
            raise ValueError("intervals and timeouts must be positive")
        counts = (max_client_messages_per_second, max_streams, rest_weight_limit,
                  max_queued_frames, oi_hist_limit, rest_ban_after)  # fmt: skip
        if min(counts) < 1 or slow_consumer_seconds <= 0:
            raise ValueError("limits must be at least 1 (and the slow-consumer time positive)")
        self.host = host
        self.port = port
        self._limits = WsLimits(
            ping_interval, pong_timeout, max_connection_seconds,
            max_client_messages_per_second, max_streams, close_timeout,
        )  # fmt: skip
        self._state = MarketState(symbols)
        self._hub = Hub(max_queued_frames, slow_consumer_seconds)
        self._ws = WsServer(self._hub, self._limits)
        self._rest = RestApi(self._state, clock, rest_weight_limit, oi_hist_limit=oi_hist_limit,
                             ban_after=rest_ban_after)  # fmt: skip
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._market: SimulatedMarket | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> FakeBinance:
        """Bind the port and start serving on a background thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("FakeBinance is already started")
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="fake-binance", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout) or self._startup_error is not None:
            error = self._startup_error
            self.stop(timeout)
            raise RuntimeError("FakeBinance failed to start") from error
        logger.info("fake Binance listening on %s", self.rest_base)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every websocket, clean up the aiohttp runner, stop the loop, join the thread."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"fake Binance thread did not stop within {timeout} s")
        self._thread = self._loop = self._stop_requested = None

    def __enter__(self) -> FakeBinance:
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except Exception as exc:  # loop boundary: report to start(), log the traceback
            logger.exception("fake Binance server loop failed")
            self._startup_error = exc
        finally:
            self._hub.loop = None
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        app = web.Application()
        app.add_routes(self._rest.routes() + self._ws.routes() + truth_routes(lambda: self._market))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._stop_requested = asyncio.Event()
            self._loop = self._hub.loop = asyncio.get_running_loop()
            self._hub.loop_thread = threading.get_ident()
            ready.set()
            await self._stop_requested.wait()
            self._hub.loop = None
            await self._ws.shutdown_all()
        finally:
            await runner.cleanup()
        logger.info("fake Binance on port %s stopped", self.port)

    def _on_loop(self, coro: Any, timeout: float = 5.0) -> Any:
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("FakeBinance is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    # ---- URLs --------------------------------------------------------------------------------

    def _base(self, scheme: str) -> str:
        if self._thread is None:
            raise RuntimeError("FakeBinance is not running; call start() first")
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def rest_base(self) -> str:
        """`http://127.0.0.1:PORT` (stands in for https://fapi.binance.com)."""
        return self._base("http")

    @property
    def ws_root(self) -> str:
        """`ws://127.0.0.1:PORT`: unrouted; acks subscriptions but never sends /market data."""
        return self._base("ws")

    @property
    def ws_market_base(self) -> str:
        """`ws://127.0.0.1:PORT/market` (stands in for wss://fstream.binance.com/market)."""
        return self._base("ws") + "/market"

    @property
    def ws_public_base(self) -> str:
        """`ws://127.0.0.1:PORT/public` (high-frequency route; publish(route="public"))."""
        return self._base("ws") + "/public"

    # ---- websocket driving -------------------------------------------------------------------

    def publish(
        self, stream: str, payload: Payload, *, route: str = "market", binary: bool = False
    ) -> int:
        """Send one payload to every `route` connection subscribed to exactly `stream`.

        dict/list payloads are serialised compactly and wrapped `{"stream":..,"data":..}` on
        combined connections; str/bytes are sent verbatim (never wrapped) as a text frame, or a
        binary frame with `binary=True`. Returns the number of connections it was queued for.
        """
        return self._hub.publish(route, stream, [payload], binary)

    def publish_many(
        self,
        stream: str,
        payloads: Sequence[Payload],
        *,
        route: str = "market",
        binary: bool = False,
    ) -> int:
        """`publish` for several payloads in order, encoded once per connection kind."""
        return self._hub.publish(route, stream, list(payloads), binary)

    def wait_for_subscribers(
        self, stream: str, count: int = 1, timeout: float = 5.0, *, route: str = "market"
    ) -> bool:
        """Block until at least `count` live `route` connections subscribe to `stream`."""
        return self._hub.wait_for(route, stream, count, timeout)

    def subscribed_streams(self, *, route: str = "market") -> set[str]:
        """Every stream some live `route` connection is subscribed to right now."""
        return self._hub.streams(route)

    def wait_for_stats(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> bool:
        """Block until `predicate(self.stats())` holds (e.g. a reconnect was counted)."""
        return wait_until(lambda: predicate(self.stats()), timeout)

    def drop_connections(self, abrupt: bool = True) -> int:
        """Close every open websocket: TCP abort (abrupt) or close frame 1001; returns how many."""
        return int(self._on_loop(self._ws.drop_all(abrupt)))

    def stats(self) -> dict[str, Any]:
        """Websocket counters (with the bounded queues', see `market_sim.hub`) plus
        `rest_requests`, `rest_used_weight_1m`, `rest_oi_hist_requests_5m` and the IP ban."""
        stats = self._hub.snapshot()
        stats["rest_requests"] = self._rest.request_count
        limits = self._rest.limits()
        stats["rest_used_weight_1m"] = limits["used_weight_1m"]
        stats["rest_oi_hist_requests_5m"] = limits["oi_hist_requests_5m"]
        stats["rest_banned_for_ms"], stats["rest_bans"] = limits["banned_for_ms"], limits["bans"]
        return stats

    # ---- REST state --------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """The tradeable USDT perpetuals (what a client's universe filter should keep)."""
        return [spec.symbol for spec in self._state.contracts if spec.is_perpetual_usdt]

    def set_mark_prices(self, prices: Mapping[str, str | float | Decimal]) -> None:
        """Mark prices served by premiumIndex and ticker/price (listed symbols only)."""
        self._state.set_mark_prices(prices)

    def set_klines(
        self, symbol: str, rows: Sequence[Sequence[Any]], interval: str | None = None
    ) -> None:
        """Serve these 12-column rows for `symbol` (for `interval`, or every interval)."""
        self._state.set_klines(symbol, rows, interval)

    def set_open_interest(
        self,
        symbol: str,
        value: str | float | Decimal,
        hist_rows: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """`openInterest` value and, optionally, the `openInterestHist` rows for `symbol`."""
        self._state.set_open_interest(symbol, value, hist_rows)

    def attach_market(self, market: SimulatedMarket | None) -> None:
        """Serve a simulated market: its mark prices, klines and open interest over REST for
        the symbols it simulates, and its truth on `/sim/truth/*` (None detaches)."""
        self._market = market
        self._state.attach(market)

    def fail_next_rest(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `count` REST requests with `status` (429, 418, 5xx ...)."""
        self._rest.fail_next(status, count, retry_after)

    def rest_request_times(self) -> list[tuple[int, str, int]]:
        """(time ms on the fake's clock, path, weight) of the REST requests endpoints answered."""
        return self._rest.timed_requests()

    @property
    def rest_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query) of the REST requests so far (the last 100,000; a copy)."""
        return self._rest.requests()


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: serve REST and (silent) streams in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Fake Binance USDⓈ-M server on loopback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--ping-interval", type=float, default=180.0)
    parser.add_argument("--max-connection-seconds", type=float, default=86400.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    fake = FakeBinance(
        host=args.host, port=args.port, ping_interval=args.ping_interval,
        max_connection_seconds=args.max_connection_seconds,
    ).start()  # fmt: skip
    print(f"REST {fake.rest_base}  streams {fake.ws_market_base}  (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
