"""Web-layer settings (CORS, rate limit, trusted proxies, caching), read like the engine's.

Same habits as ``heatmap_engine.config``: a frozen dataclass built from a mapping (``os.environ``
by default), validated, failing fast with the variable's name. The engine knows nothing of these.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from limits import parse_many

from heatmap_engine.config import PREFIX, ConfigError, read_env
from heatmap_engine.config import _bool as _flag

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)
_OFF = ("", "0", "off", "none", "false", "no")


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _origins(name: str, raw: str) -> tuple[str, ...]:
    items = [item.rstrip("/") for item in _items(raw)]
    if not items or items == ["*"]:
        return ("*",)
    for origin in items:
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"{PREFIX}{name.upper()}: {origin!r} is not an origin; use '*' or a comma list "
                "like https://example.com,http://localhost:3000 (scheme://host[:port], no path)"
            )
    return tuple(dict.fromkeys(items))


def _rate_limit(name: str, raw: str) -> str:
    value = raw.strip()
    if value.lower() in _OFF:
        return ""
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{PREFIX}{name.upper()}={raw!r} is not a rate limit; use e.g. '120/minute', "
            "'10/second;600/hour', or 'off'"
        ) from None
    return value


def _networks(name: str, raw: str) -> tuple[IpNetwork, ...]:
    networks = []
    for item in _items(raw):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name.upper()}: {item!r} is not an IP address or CIDR network; use a "
                "comma list like 127.0.0.1,10.0.0.0/8 (empty: never trust X-Forwarded-For)"
            ) from None
    return tuple(networks)


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} is not an integer") from None
        if not lo <= value <= hi:
            raise ConfigError(f"{PREFIX}{name.upper()} must be between {lo} and {hi}, got {raw!r}")
        return value

    return parse


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Settings of the JSON API. Field ``x`` is read from ``HEATMAP_X``."""

    cors_origins: tuple[str, ...] = ("*",)
    rate_limit: str = ""
    trusted_proxies: tuple[IpNetwork, ...] = ()
    api_max_age: int = 2
    api_cache_size: int = 4096
    api_cache_timeout: int = 300
    # Signs the liquidations cursors; empty: a key generated once into HEATMAP_DATA_DIR (0600)
    secret_key: str = field(default="", repr=False)
    # Show file paths and raw error text in /api/stats (for an operator; off for the public)
    stats_details: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        """Read ``HEATMAP_*`` web-layer variables from ``env`` (``os.environ`` if None)."""
        return cls(**read_env(cls, _PARSERS, env))

    @property
    def cors_allow_all(self) -> bool:
        return self.cors_origins == ("*",)


def _secret(name: str, raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 16:
        raise ConfigError(
            f"{PREFIX}{name.upper()} is too short to be a secret: use at least 16 characters "
            "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
            "or leave it empty to have one generated into HEATMAP_DATA_DIR"
        )
    return value


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "cors_origins": _origins,
    "rate_limit": _rate_limit,
    "trusted_proxies": _networks,
    "api_max_age": _int(0, 86_400),
    "api_cache_size": _int(16, 1_000_000),
    "api_cache_timeout": _int(1, 86_400),
    "secret_key": _secret,
    "stats_details": _flag,
}
