"""Settings from a mapping (``os.environ`` by default), validated, failing fast.

Every setting has an environment variable ``HEATMAP_<NAME>``; the README lists them all with
their defaults. Tests build ``Settings.from_env({...})`` with their own values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from heatmap_engine.symbols import DEFAULT_SYMBOLS

PREFIX = "HEATMAP_"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable and what is allowed."""


def _float(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{PREFIX}{name.upper()} must be finite, got {raw!r}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            op = ">" if lo_open else ">="
            raise ConfigError(f"{PREFIX}{name.upper()} must be {op} {lo}, got {raw!r}")
        if hi is not None and value > hi:
            raise ConfigError(f"{PREFIX}{name.upper()} must be <= {hi}, got {raw!r}")
        return value

    return parse


def _int(lo: int, hi: int | None = None):
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            bound = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise ConfigError(f"{PREFIX}{name.upper()} must be {bound}, got {raw!r}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} is not a boolean (use 1/0, true/false)")


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _url(*schemes: str):
    def parse(name: str, raw: str) -> str:
        value = raw.strip().rstrip("/")
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} must start with {allowed}")
        return value

    return parse


def _symbols(name: str, raw: str) -> tuple[str, ...]:
    value = raw.strip()
    if value.lower() == "all":
        return ("all",)
    items = tuple(dict.fromkeys(s.strip().upper() for s in value.split(",") if s.strip()))
    if not items:
        raise ConfigError(
            f"{PREFIX}SYMBOLS is empty; use 'all' or a comma list like BTCUSDT,ETHUSDT"
        )
    return items


def read_env(
    cls: type, parsers: Mapping[str, Callable[[str, str], Any]], env: Mapping[str, str] | None
) -> dict[str, Any]:
    """The dataclass ``cls``'s fields found as ``HEATMAP_<FIELD>`` in ``env`` (``os.environ``
    if None), each parsed (and validated) by its parser."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = env.get(PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = parsers[f.name](f.name, raw)
    return values


@dataclass(frozen=True, slots=True)
class Settings:
    """All configuration of the product. Field name ``x`` is read from ``HEATMAP_X``."""

    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    cluster_window_pct: float = 0.02
    min_cluster_size: int = 5
    time_decay_minutes: float = 60.0
    update_interval: float = 5.0
    binance_ws_url: str = "wss://fstream.binance.com/market"
    binance_rest_url: str = "https://fapi.binance.com"
    kline_streams: bool = True
    feed_silence_seconds: float = 15.0
    feed_max_connection_seconds: float = 23.5 * 3600
    feed_backoff_initial_seconds: float = 1.0
    feed_backoff_max_seconds: float = 60.0
    price_stale_seconds: float = 10.0
    rest_poll_seconds: float = 10.0
    rest_timeout_seconds: float = 5.0
    event_time_max_age_hours: float = 24.0
    event_time_max_ahead_seconds: float = 300.0
    exchange_clock: bool = False
    record_path: str = ""
    data_dir: str = "./data"
    history: bool = True
    history_queue_size: int = 500_000
    retention_liquidations_days: float = 0.0
    retention_mark_prices_days: float = 30.0
    retention_candles_days: float = 0.0
    retention_open_interest_days: float = 0.0
    backfill: bool = True
    backfill_kline_days: float = 1.0
    backfill_oi_days: float = 30.0
    backfill_5m_days: float = 30.0
    backfill_1h_days: float = 365.0
    backfill_weight_per_minute: int = 600
    backfill_oi_requests_per_5min: int = 500
    backfill_every_minutes: float = 15.0
    host: str = "127.0.0.1"
    port: int = 8004
    log_level: str = "INFO"
    access_log: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``HEATMAP_*`` variables from ``env`` (``os.environ`` if None); fail fast."""
        values = read_env(cls, _PARSERS, env)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name, parser in _PARSERS.items():
            if parser in (_str, _bool):
                continue
            value = getattr(self, name)
            if name == "symbols":
                if not value:
                    raise ConfigError("HEATMAP_SYMBOLS is empty")
                continue
            parser(name, str(value))
        if self.feed_backoff_max_seconds < self.feed_backoff_initial_seconds:
            raise ConfigError("HEATMAP_FEED_BACKOFF_MAX_SECONDS must be >= the initial backoff")

    @property
    def all_symbols(self) -> bool:
        return self.symbols == ("all",)

    @property
    def decay_window_ms(self) -> int:
        return int(self.time_decay_minutes * 60_000)

    @property
    def event_time_max_age_ms(self) -> int:
        return int(self.event_time_max_age_hours * 3_600_000)

    @property
    def event_time_max_ahead_ms(self) -> int:
        return int(self.event_time_max_ahead_seconds * 1000)


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "symbols": _symbols,
    "cluster_window_pct": _float(0.0, 0.5, lo_open=True),
    "min_cluster_size": _int(1, 1_000_000),
    "time_decay_minutes": _float(0.0, 7 * 24 * 60, lo_open=True),
    "update_interval": _float(0.05, 3600.0),
    "binance_ws_url": _url("ws", "wss"),
    "binance_rest_url": _url("http", "https"),
    "kline_streams": _bool,
    "feed_silence_seconds": _float(0.1, 3600.0),
    "feed_max_connection_seconds": _float(1.0, 24 * 3600.0),
    "feed_backoff_initial_seconds": _float(0.0, 600.0),
    "feed_backoff_max_seconds": _float(0.0, 3600.0),
    "price_stale_seconds": _float(0.5, 3600.0),
    "rest_poll_seconds": _float(0.1, 3600.0),
    "rest_timeout_seconds": _float(0.1, 120.0),
    "event_time_max_age_hours": _float(0.0, 24 * 365.0, lo_open=True),
    "event_time_max_ahead_seconds": _float(0.0, 24 * 3600.0, lo_open=True),
    "record_path": _str,
    "data_dir": _str,
    "history": _bool,
    "history_queue_size": _int(100, 100_000_000),
    "retention_liquidations_days": _float(0.0, 100_000.0),
    "retention_mark_prices_days": _float(0.0, 100_000.0),
    "retention_candles_days": _float(0.0, 100_000.0),
    "retention_open_interest_days": _float(0.0, 100_000.0),
    "backfill": _bool,
    "backfill_kline_days": _float(0.0, 3650.0),
    "backfill_oi_days": _float(0.0, 30.0),
    "backfill_5m_days": _float(0.0, 3650.0),
    "backfill_1h_days": _float(0.0, 3650.0),
    "backfill_weight_per_minute": _int(1, 2400),
    "backfill_oi_requests_per_5min": _int(1, 1000),
    "backfill_every_minutes": _float(0.0, 100_000.0),
    "host": _str,
    "port": _int(0, 65535),
    "log_level": _str,
    "access_log": _bool,
    "exchange_clock": _bool,
}
