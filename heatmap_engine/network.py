"""Network failures in plain words, and a log that says "unreachable" once per outage.

``network_cause(exc)`` names what went wrong ("name not resolved", "connection refused", "timed
out" ...) from the exception and everything it was raised from, so a status field or a log line
never carries raw exception text. ``Reachability`` is shared by everything that talks to one
host: the first failure of an outage is one WARNING (host, cause, next retry), every retry after
it is DEBUG, and the first success after it one INFO line.
"""

from __future__ import annotations

import errno
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

# (exception class, words), most specific first; looked up along the whole exception chain
_BY_TYPE: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "name not resolved"),
    (ConnectionRefusedError, "connection refused"),
    (ssl.SSLCertVerificationError, "TLS certificate not trusted"),
    (ssl.SSLError, "TLS handshake failed"),
    (TimeoutError, "timed out"),  # socket.timeout is TimeoutError since Python 3.10
    (ConnectionResetError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
    (BrokenPipeError, "connection reset"),
)
_BY_ERRNO = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETDOWN: "network down",
    errno.EADDRNOTAVAIL: "address not available",
}
_BY_NAME = {  # library exceptions matched by class name, so this module imports no client library
    "NameResolutionError": "name not resolved",
    "ConnectTimeout": "timed out",
    "ReadTimeout": "timed out",
    "Timeout": "timed out",
    "ConnectTimeoutError": "timed out",
    "ReadTimeoutError": "timed out",
    "WebSocketTimeoutException": "timed out",
    "WebSocketConnectionClosedException": "connection lost",
    "ProtocolError": "connection lost",
    "RemoteDisconnected": "connection lost",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it was raised from, and urllib3's ``reason``, without looping forever."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (
            getattr(current, "reason", None),
            *getattr(current, "args", ())[:1],
            current.__cause__,
            current.__context__,
        ):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def network_cause(exc: BaseException) -> str:
    """What went wrong, in a few plain words; "network error" when nothing more is known."""
    chain = list(_chain(exc))
    for kind, words in _BY_TYPE:
        if any(isinstance(e, kind) for e in chain):
            return words
    for e in chain:
        if isinstance(e, OSError) and e.errno in _BY_ERRNO:
            return _BY_ERRNO[e.errno]
        status = getattr(e, "status_code", None)
        if type(e).__name__ == "WebSocketBadStatusException" and isinstance(status, int):
            return f"handshake refused with HTTP {status}"
        for cls in type(e).__mro__:
            if cls.__name__ in _BY_NAME:
                return _BY_NAME[cls.__name__]
    return "network error"


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Equal-jitter exponential backoff: half the capped step plus a random half."""
    step = min(cap, initial * (2 ** min(attempt, 32)))
    return step / 2 + rng.uniform(0, step / 2)


def host_of(url: str) -> str:
    """``wss://fstream.binance.com/market`` -> ``fstream.binance.com`` (with a port if any)."""
    parts = urlsplit(url)
    return parts.netloc or url


class Reachability:
    """Whether one host answers, as its users (connections, REST callers) experience it.

    Each user (``member``) reports ``failed(...)`` or ``reached()``; the host counts as down
    while any member's last attempt failed. Logging follows the state, not the attempts: a
    failure whose cause no member is already down with is one WARNING, a repeat is DEBUG.
    ``reached()`` answers how long the host was down when the last member got through, so the
    caller can say once that it is back.
    """

    def __init__(self, host: str, log: logging.Logger, what: str = ""):
        self.host = host
        self.what = what or host
        self._log = log
        self._lock = threading.Lock()
        self._down: dict[str, str] = {}  # member -> cause of its last failure
        self._down_since: float | None = None
        self.outages = 0
        self.failures = 0

    @property
    def reachable(self) -> bool:
        with self._lock:
            return not self._down

    @property
    def cause(self) -> str | None:
        with self._lock:
            return next(iter(self._down.values()), None)

    def failed(
        self, member: str, cause: str, retry_in: float | None, message: str | None = None
    ) -> bool:
        """Record a failed attempt; True when it was logged as a WARNING (a new state)."""
        head = message or f"cannot reach {self.what} ({self.host}): {cause}"
        retry = f"; retrying in {retry_in:.1f} s" if retry_in is not None else ""
        with self._lock:
            self.failures += 1
            new = cause not in self._down.values()
            if not self._down:
                self.outages += 1
                self._down_since = time.monotonic()
            self._down[member] = cause
        if new:
            self._log.warning("%s%s (retries are logged at DEBUG)", head, retry)
        else:
            self._log.debug("still: %s%s", head, retry)
        return new

    def reached(self, member: str) -> float | None:
        """``member`` got through; the seconds the host was down when that ends the outage."""
        with self._lock:
            if self._down.pop(member, None) is None or self._down:
                return None
            since, self._down_since = self._down_since, None
        return time.monotonic() - since if since is not None else 0.0

    def forget(self, member: str) -> None:
        """A member that stopped: its last failure no longer keeps the host down."""
        with self._lock:
            self._down.pop(member, None)
            if not self._down:
                self._down_since = None
