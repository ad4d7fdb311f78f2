"""Per-client-IP rate limit (flask-limiter), answering 429 with the JSON envelope.

One budget per client covers the API and the dashboard's callback route
(``/_dash-update-component``, which computes figures on request): a page cannot be used to get
around the API's limit.

The client's address is the socket peer, unless that peer is one of ``HEATMAP_TRUSTED_PROXIES``:
then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first address
that is not one is the client (nginx's ``real_ip_recursive``). A client talking to the server
directly cannot choose its own key with a made-up header. A trusted address is trusted whoever
uses it: any local process that can connect from it (on Linux, any process can bind any address
of 127.0.0.0/8) may name its own client address, so trust only the address the proxy connects
from (the shipped nginx site connects from 127.0.0.2 for that reason).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter, RequestLimit

from api.envelope import error
from api.settings import ApiSettings, IpNetwork


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted: tuple[IpNetwork, ...]
) -> str:
    """The address a limit is keyed by (see the module docstring)."""
    peer = remote_addr or "unknown"

    def is_trusted(text: str) -> bool:
        address = _parse_ip(text)
        return address is not None and any(address in network for network in trusted)

    if not trusted or not forwarded_for or not is_trusted(peer):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop):
            address = _parse_ip(hop)
            return str(address) if address is not None else peer
    return peer


def key_function(settings: ApiSettings) -> Callable[[], str]:
    trusted = settings.trusted_proxies
    return lambda: client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), trusted)


def _breach_response(limit: RequestLimit) -> Response:
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    return error(
        429,
        f"rate limit exceeded ({limit.limit}); retry after {retry_after}s",
        headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(limit.limit.amount),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(limit.reset_at),
        },
    )


DASH_CALLBACK_ROUTE = "_dash-update-component"


def install_limiter(
    server: Flask, blueprint: Blueprint, settings: ApiSettings, exempt_endpoints: tuple[str, ...]
) -> Limiter | None:
    """One budget per client across ``blueprint``'s routes and Dash's callback route, except
    ``exempt_endpoints`` (health, polled by load balancers) and CORS preflights."""
    if not settings.rate_limit:
        return None
    limiter = Limiter(
        key_func=key_function(settings),
        storage_uri="memory://",
        headers_enabled=False,
        on_breach=_breach_response,
    )
    limiter.init_app(server)

    def exempt() -> bool:
        return request.method == "OPTIONS" or request.endpoint in exempt_endpoints

    shared = limiter.shared_limit(settings.rate_limit, scope="api", exempt_when=exempt)
    shared(blueprint)
    for endpoint, view in list(server.view_functions.items()):
        if endpoint.endswith(DASH_CALLBACK_ROUTE):
            server.view_functions[endpoint] = shared(view)
    return limiter
