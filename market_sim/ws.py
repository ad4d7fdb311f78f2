"""Websocket routes of the fake: routed and unrouted market-stream endpoints (§1.1–1.3, §1.12).

`/market/ws/<s1>/<s2>` (raw payloads), `/market/ws`, `/market/stream?streams=<s1>/<s2>` and
`/market/stream` (combined payloads); the same shapes under `/public`; and the unrouted `/ws`,
`/stream`, which answer control messages like the routed ones but never receive `/market`
publishes (the silent failure a client's watchdog must catch). Streams named in the URL count
as subscribed before the handshake completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from market_sim.connection import CLOSE_GOING_AWAY, CLOSE_POLICY, Connection, WsLimits
from market_sim.control import handle_control
from market_sim.hub import Hub

ROUTES = (("/market", "market"), ("/public", "public"), ("", "unrouted"))
SEND_BUFFER_BYTES = 256 * 1024  # kernel send buffer per connection (the bound's other half)


def _small_send_buffer(request: web.Request) -> None:
    """Keep the socket's send buffer small, so a slow reader fills the bounded queue (and
    slows the publisher) instead of megabytes of kernel buffer hiding the lag."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


def _requested_streams(request: web.Request) -> list[str]:
    """Streams named in the URL: `/ws/<s1>/<s2>` path or `/stream?streams=<s1>/<s2>`."""
    joined = request.match_info.get("streams") or request.query.get("streams", "")
    return [name for name in joined.split("/") if name]


class WsServer:
    """The websocket routes; `publish()` (in the hub) only targets route `market`."""

    def __init__(self, hub: Hub, limits: WsLimits) -> None:
        self._hub = hub
        self._limits = limits
        self._open: set[Connection] = set()  # touched on the loop thread only

    def routes(self) -> list[web.RouteDef]:
        table = []
        for prefix, route in ROUTES:
            table += [
                web.get(f"{prefix}/ws", self._handler(route, combined=False)),
                web.get(f"{prefix}/ws/{{streams:.*}}", self._handler(route, combined=False)),
                web.get(f"{prefix}/stream", self._handler(route, combined=True)),
            ]
        return table

    async def shutdown_all(self) -> None:
        """Server stop: close every connection without waiting for the clients."""
        await asyncio.gather(*(conn.shutdown() for conn in list(self._open)))

    async def drop_all(self, abrupt: bool) -> int:
        """`drop_connections`: abort TCP (abrupt) or start a 1001 close on every connection."""
        live = [conn for conn in self._open if not conn.closing]
        for conn in live:
            if abrupt:
                conn.abort("dropped_connections")
            else:
                conn.request_close(CLOSE_GOING_AWAY, "dropped_connections")
        return len(live)

    def _handler(
        self, route: str, combined: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, route, combined)

        return handle

    async def _handle(self, request: web.Request, route: str, combined: bool) -> web.StreamResponse:
        conn = Connection(self._hub, self._limits, request, route, combined)
        if not conn.ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="this path only accepts websocket upgrades")
        streams = _requested_streams(request)
        too_many = len(streams) > self._limits.max_streams
        conn.streams = [] if too_many else list(dict.fromkeys(streams))
        self._hub.add(conn)  # before the handshake completes: publish right after connect works
        self._open.add(conn)
        try:
            await conn.ws.prepare(request)
            _small_send_buffer(request)
            conn.start_tasks()
            if too_many:
                conn.send_json({"code": 2, "msg": "Invalid request: too many streams"})
                conn.close_after_queue(CLOSE_POLICY, "too_many_streams_closes")
            await self._read(conn)
        finally:
            self._hub.remove(conn)
            self._open.discard(conn)
            await conn.finish()
        return conn.ws

    async def _read(self, conn: Connection) -> None:
        """Read client frames until the connection closes; answer pings, note pongs."""
        while True:
            msg = await conn.ws.receive()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self._on_message(conn, msg.data)
            elif msg.type is WSMsgType.PING:
                with contextlib.suppress(ConnectionError):
                    await conn.ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                conn.awaiting_pong_since = None
                self._hub.count("pongs_received")
            else:
                return

    def _on_message(self, conn: Connection, data: str | bytes) -> None:
        self._hub.count("messages_received")
        if conn.closing or conn.draining:
            return
        if not conn.rate.admit(asyncio.get_running_loop().time()):
            conn.close_after_queue(CLOSE_POLICY, "rate_limit_closes")  # replies so far go out
            return
        outcome = handle_control(data, conn.streams, conn.combined, self._limits.max_streams)
        conn.send_json(outcome.reply)  # queued before the subscription changes: ack first
        if outcome.streams is not None:
            self._hub.count("subscribes" if outcome.method == "SUBSCRIBE" else "unsubscribes")
        self._hub.update(conn, streams=outcome.streams, combined=outcome.combined)
        if outcome.close:
            conn.close_after_queue(CLOSE_POLICY, "too_many_streams_closes")
