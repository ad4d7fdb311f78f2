"""Binance USDⓈ-M futures: URLs, subscriptions and pure frame parsers.

Wire reference: ``shared/protocols/exchange-protocols.md`` §1. Since 2026-04-23 market streams
(``!forceOrder@arr``, ``!markPrice@arr@1s``) flow only on the ``/market`` route; an unrouted
connection acknowledges the subscription and then stays silent.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import sys
from typing import Annotated, Any, Literal

import msgspec
import orjson

from heatmap_engine.exchanges.base import (
    DEFAULT_WINDOW,
    EARLIEST_MS,
    EMPTY_CONTROL,
    LATEST_MS,
    ParseResult,
    TimeWindow,
    VenueAdapter,
    failed,
)
from heatmap_engine.models import (
    LONG,
    SHORT,
    Candle,
    Liquidation,
    MarkPrice,
    MarkPriceColumns,
    OpenInterest,
    Skipped,
)

EXCHANGE = "binance"
LIQUIDATION_STREAM = "!forceOrder@arr"
MARK_PRICE_STREAM = "!markPrice@arr@1s"
STREAMS: tuple[str, ...] = (LIQUIDATION_STREAM, MARK_PRICE_STREAM)

# COIN-M contract sizes in USD: BTCUSD contracts are 100 USD, every other coin 10 USD (§1.7).
_CM_CONTRACT_USD = {"BTCUSD": 100.0}
_CM_DEFAULT_CONTRACT_USD = 10.0
# Word characters only: real contracts include non-Latin names such as "币安人生USDT".
_SYMBOL = re.compile(r"^\w{2,40}$")


def stream_url(route_base: str) -> str:
    """Combined-stream endpoint on a route base such as ``wss://fstream.binance.com/market``."""
    return route_base.rstrip("/") + "/stream"


SUBSCRIBE_CHUNK = 50


def subscribe_messages(first_id: int, streams: tuple[str, ...] = STREAMS) -> list[str]:
    """SUBSCRIBE requests of at most 50 streams each, ids counting up from ``first_id``
    (ids must be unsigned integers, §1.3; a connection stays far below 10 messages/s)."""
    chunks = [streams[i : i + SUBSCRIBE_CHUNK] for i in range(0, len(streams), SUBSCRIBE_CHUNK)]
    return [
        orjson.dumps({"method": "SUBSCRIBE", "params": list(chunk), "id": first_id + n}).decode()
        for n, chunk in enumerate(chunks)
    ]


def _number(value: Any) -> float | None:
    """A finite float from a JSON string or number, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _int_ms(value: Any) -> int | None:
    """A positive integer (a time in ms) from a JSON number or string, else None. It may be
    far too large for 64 bits: callers range-check it before it goes anywhere."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    number = _number(value)
    return int(number) if number is not None and number > 0 else None


def _plausible_ms(value: int | None) -> int | None:
    """A time within the absolute bounds (2017..2100), for REST rows, which may be old."""
    return value if value is not None and EARLIEST_MS <= value <= LATEST_MS else None


_MAX_COUNT = 2**53  # a count beyond this is garbage (and would not fit SQLite's 64 bits)


def _count(value: Any) -> int | None:
    """A non-negative integer count (a kline's trades), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _MAX_COUNT else None


def _is_coin_margined_name(symbol: str) -> bool:
    """``BTCUSD_PERP`` / ``ETHUSD_251226`` are COIN-M; ``BTCUSDT_251226`` is a USDⓈ-M delivery."""
    pair, _, suffix = symbol.partition("_")
    return bool(suffix) and pair.endswith("USD")


# The fast paths below take only what the checked path would accept unchanged, and hand
# anything else to it, so they cannot differ in meaning; each saves repeating the checks.
_INF = math.inf
_DEFAULT_AGE_MS, _DEFAULT_AHEAD_MS = DEFAULT_WINDOW.max_age_ms, DEFAULT_WINDOW.max_ahead_ms
_CACHED_SYMBOLS = 4096
_new = object.__new__
_MARK_SYMBOLS: dict[str, str] = {}  # symbol as sent -> as published, once seen valid
_USDM_SYMBOLS: dict[str, str] = {}  # likewise, for valid USDⓈ-M liquidation symbols


class _LiquidationSlots:
    """A ``Liquidation`` in the making: ``parse`` makes one of these (``object.__new__``, no
    ``__init__`` to run), sets its slots as any class does, then turns it into a
    ``Liquidation`` (``__class__`` assignment between classes of one layout): the same frozen
    object as ``Liquidation(...)`` makes, in a fraction of the time. Nothing else sees it."""

    __slots__ = Liquidation.__slots__


class _ParseResultSlots:
    """``ParseResult`` made the same way (the usual frame's)."""

    __slots__ = ParseResult.__slots__


# fails at import if either type gains, loses or reorders a field
assert tuple(f.name for f in dataclasses.fields(Liquidation)) == Liquidation.__slots__
assert tuple(f.name for f in dataclasses.fields(ParseResult)) == ("events", "errors", "control")


def _remember(cache: dict[str, str], raw: str, symbol: str) -> None:
    if len(cache) >= _CACHED_SYMBOLS:
        cache.clear()
    cache[raw] = symbol


def _bounds(received_at_ms: int, window: TimeWindow) -> tuple[int, int]:
    """The event times ``window.verdict`` accepts, as one closed range."""
    if not window.relative or received_at_ms <= 0:
        return EARLIEST_MS, LATEST_MS
    return (max(EARLIEST_MS, received_at_ms - window.max_age_ms),
            min(LATEST_MS, received_at_ms + window.max_ahead_ms))  # fmt: skip


# The usual liquidation frame, wrapped, as msgspec types: decoded straight into these slots, with
# no dict per object and no string for a field nobody reads. The types hold what the fast path
# takes as it is: a positive finite ``ap``/``z`` (``strict=False`` reads a decimal string as
# the float ``float()`` makes of it, and refuses "1_000", " 1", "1e400" ...), a ``T`` inside
# the absolute bounds (an integral number or string), ``st`` 1 or absent. A frame of any other
# shape fails at once (a mark-price array at its "[", a kline at its "e") and goes to orjson and
# the checked paths, as does any frame whose values these types refuse.
_Positive = Annotated[float, msgspec.Meta(gt=0.0, le=sys.float_info.max)]
# the order statuses (read as one shared string each; any other: the checked path)
_Status = Literal["FILLED", "PARTIALLY_FILLED", "EXPIRED", "NEW", "CANCELED", "REJECTED",
                  "EXPIRED_IN_MATCH"]  # fmt: skip


class _WireOrder(msgspec.Struct, gc=False):
    s: str
    S: Literal["SELL", "BUY"]
    ap: _Positive
    z: _Positive
    T: Annotated[int, msgspec.Meta(ge=EARLIEST_MS, le=LATEST_MS)]
    X: _Status = "FILLED"
    st: Literal[1, None] = None  # 2 (COIN-M) and anything odd: the checked path


class _WireForceOrder(msgspec.Struct, gc=False):
    e: Literal["forceOrder"]
    o: _WireOrder
    st: Literal[1, None] = None


class _WireFrame(msgspec.Struct, gc=False):
    stream: Any
    data: _WireForceOrder


_decode_usual = msgspec.json.Decoder(_WireFrame, strict=False).decode
# msgspec's errors are ValueErrors; a KeyError is a symbol not (yet) known valid
_NOT_USUAL = (ValueError, TypeError, RecursionError, KeyError)


def parse_force_order(
    event: dict[str, Any], received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """``forceOrder`` event (decoded) -> one Liquidation (or a counted Skipped). ``parse``
    reads the usual wrapped frame typed, with the same meaning.

    Reads ``o.s`` symbol; ``o.S`` side of the liquidation ORDER (``SELL`` closes a long, so the
    liquidated side is ``long``; ``BUY`` means a short was liquidated); ``o.ap`` average fill price,
    falling back to ``o.p`` (the limit price) when ``ap`` is missing or zero; ``o.z`` accumulated
    filled quantity, falling back to ``o.q``; ``o.T`` trade time (falling back to ``E``); ``o.X``
    status. ``st`` (1 = USDⓈ-M, 2 = COIN-M) and ``ps`` may sit inside ``o`` or at the top level.
    COIN-M events (``st`` 2, or a ``BTCUSD_PERP``-style name) count contracts, not coins: they are
    skipped from USDT clusters as ``Skipped("coin_margined")`` with their USD value computed
    from the contract size, so they are counted but never mixed into USDT notional. A trade time
    outside ``window`` around the receive time is counted as ``time_too_old`` /
    ``time_in_future`` and skipped.
    """
    order = event.get("o")
    if not isinstance(order, dict):
        return failed("missing_field")
    symbol = order.get("s")
    if not isinstance(symbol, str) or not symbol:
        return failed("missing_field")
    if not _SYMBOL.match(symbol):
        return failed("bad_symbol")
    symbol_type = order.get("st", event.get("st"))
    side_raw = order.get("S")
    if side_raw == "SELL":
        side = LONG
    elif side_raw == "BUY":
        side = SHORT
    else:
        return failed("bad_side" if side_raw is not None else "missing_field")
    price = _number(order.get("ap"))
    if not price or price <= 0:
        price = _number(order.get("p"))
    quantity = _number(order.get("z"))
    if not quantity or quantity <= 0:
        quantity = _number(order.get("q"))
    event_time = _int_ms(order.get("T")) or _int_ms(event.get("E"))
    if price is None or quantity is None or event_time is None:
        return failed("missing_field" if None in (order.get("p"), order.get("q")) else "bad_number")
    if price <= 0 or quantity <= 0:
        return failed("bad_number")
    if (out_of_window := window.verdict(event_time, received_at_ms)) is not None:
        return failed(out_of_window)
    if symbol_type == 2 or _is_coin_margined_name(symbol):
        pair = str(order.get("ps", event.get("ps", symbol.split("_")[0])))
        contract_usd = _CM_CONTRACT_USD.get(pair, _CM_DEFAULT_CONTRACT_USD)
        return ParseResult(
            events=(Skipped(EXCHANGE, "coin_margined", symbol, quantity * contract_usd),)
        )
    _remember(_USDM_SYMBOLS, symbol, symbol.upper())
    liquidation = Liquidation(
        exchange=EXCHANGE,
        symbol=symbol.upper(),
        liquidated_side=side,
        price=price,
        quantity=quantity,
        notional_usd=price * quantity,
        event_time_ms=event_time,
        received_at_ms=received_at_ms,
        order_status=str(order.get("X", "FILLED")),
    )
    return ParseResult(events=(liquidation,))


def _mark_price(item: Any, received_at_ms: int, window: TimeWindow) -> MarkPrice | str:
    if not isinstance(item, dict) or item.get("e") != "markPriceUpdate":
        return "unexpected_frame"
    symbol = item.get("s")
    price = _number(item.get("p"))
    event_time = _int_ms(item.get("E"))
    if not isinstance(symbol, str) or not symbol or event_time is None:
        return "missing_field"
    if price is None or price <= 0:
        return "bad_number"
    if (out_of_window := window.verdict(event_time, received_at_ms)) is not None:
        return out_of_window
    return MarkPrice(EXCHANGE, symbol.upper(), price, event_time)


def parse_mark_prices(
    items: list[Any] | dict[str, Any], received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """``markPriceUpdate`` object or array -> MarkPrice per entry (``s``, ``p`` mark, ``E`` time).

    The all-market array arrives split over several messages per tick; each message is parsed on
    its own and the engine merges entries into its per-symbol cache. A broken entry (or one whose
    ``E`` is outside ``window``) is reported without losing the good ones.
    """
    entries = items if isinstance(items, list) else [items]
    lo, hi = _bounds(received_at_ms, window)
    known = _MARK_SYMBOLS
    symbols: list[str] = []
    prices: list[float] = []
    times: list[int] = []
    errors: list[str] = []
    for item in entries:
        try:  # the usual entry: a known symbol, "p" a decimal string, "E" an int in the window
            if item["e"] == "markPriceUpdate":
                symbol, raw, when = known[item["s"]], item["p"], item["E"]
                if type(raw) is str and type(when) is int and lo <= when <= hi:
                    price = float(raw)
                    if 0 < price < _INF:
                        symbols.append(symbol)
                        prices.append(price)
                        times.append(when)
                        continue
        except (KeyError, TypeError, ValueError):
            pass
        result = _mark_price(item, received_at_ms, window)  # the checked path says why
        if isinstance(result, str):
            errors.append(result)
            continue
        _remember(known, item["s"], result.symbol)
        symbols.append(result.symbol)
        prices.append(result.mark_price)
        times.append(result.event_time_ms)
    events = MarkPriceColumns(EXCHANGE, symbols, prices, times) if symbols else ()
    return ParseResult(events, tuple(errors))


def kline_stream(symbol: str, interval: str = "1m") -> str:
    """Stream names carry lowercase symbols (§1.2)."""
    return f"{symbol.lower()}@kline_{interval}"


def parse_kline_event(
    event: dict[str, Any], received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """``kline`` event: ``k.t`` open time, ``k.o/h/l/c``, ``k.v`` base volume, ``k.q`` quote
    volume, ``k.V`` taker-buy base volume, ``k.n`` trades, ``k.x`` closed. The forming candle is
    pushed repeatedly; the latest frame for ``(s, i, t)`` wins. The open time must be inside
    ``window`` around the receive time (we subscribe 1-minute candles), the close time within
    the absolute bounds, and ``n`` a sane count."""
    k = event.get("k")
    if not isinstance(k, dict):
        return failed("missing_field")
    symbol, interval = k.get("s", event.get("s")), k.get("i")
    numbers = [_number(k.get(f)) for f in ("o", "h", "l", "c", "v", "q", "V")]
    open_ms, close_ms = _int_ms(k.get("t")), _int_ms(k.get("T"))
    if not isinstance(symbol, str) or not isinstance(interval, str) or None in (open_ms, close_ms):
        return failed("missing_field")
    if any(n is None for n in numbers) or ("n" in k and _count(k["n"]) is None):
        return failed("bad_number")
    if (out_of_window := window.verdict(open_ms, received_at_ms)) is not None:
        return failed(out_of_window)
    if _plausible_ms(close_ms) is None:
        return failed("time_in_future")
    o, h, low, c, v, q, taker = numbers
    trades = _count(k.get("n")) or 0
    candle = Candle(EXCHANGE, symbol.upper(), interval, open_ms, close_ms, o, h, low, c, v, q,
                    taker, trades, bool(k.get("x")))  # fmt: skip
    return ParseResult(events=(candle,))


def parse_rest_kline(symbol: str, interval: str, row: list[Any], now_ms: int) -> Candle | None:
    """A ``/fapi/v1/klines`` row (12 columns, §1.9); None when malformed. A row whose close time
    is still in the future is the forming candle (``closed`` False)."""
    if not isinstance(row, list) or len(row) < 11:
        return None
    open_ms, close_ms = _plausible_ms(_int_ms(row[0])), _plausible_ms(_int_ms(row[6]))
    numbers = [_number(row[i]) for i in (1, 2, 3, 4, 5, 7, 9)]
    if open_ms is None or close_ms is None or any(n is None for n in numbers):
        return None
    o, h, low, c, v, q, taker = numbers
    trades = _count(row[8]) or 0
    return Candle(EXCHANGE, symbol, interval, open_ms, close_ms, o, h, low, c, v, q, taker,
                  trades, close_ms < now_ms)  # fmt: skip


def parse_open_interest_hist(item: Any) -> OpenInterest | None:
    """An ``openInterestHist`` entry: ``sumOpenInterest`` base, ``sumOpenInterestValue`` USD,
    ``timestamp`` as a number or a string (the docs and the live API disagree, §1.9)."""
    if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
        return None
    when = _plausible_ms(_int_ms(item.get("timestamp")))
    base = _number(item.get("sumOpenInterest"))
    usd = _number(item.get("sumOpenInterestValue"))
    if when is None or base is None:
        return None
    return OpenInterest(EXCHANGE, item["symbol"], when, base, usd)


def parse_payload(
    payload: Any, received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """A decoded payload, wrapped (``{"stream", "data"}``) or raw."""
    if type(payload) is dict and "stream" in payload and "data" in payload:
        payload = payload["data"]  # the combined stream's wrapper (the usual frame)
        if type(payload) is dict and payload.get("e") == "forceOrder":
            return parse_force_order(payload, received_at_ms, window)
    if isinstance(payload, list):
        return parse_mark_prices(payload, received_at_ms, window)
    if not isinstance(payload, dict):
        return failed("unexpected_frame")
    if "stream" in payload and "data" in payload:
        return parse_payload(payload["data"], received_at_ms, window)
    kind = payload.get("e")
    if kind == "forceOrder":
        return parse_force_order(payload, received_at_ms, window)
    if kind == "markPriceUpdate":
        return parse_mark_prices(payload, received_at_ms, window)
    if kind == "kline":
        return parse_kline_event(payload, received_at_ms, window)
    if "id" in payload and "result" in payload:
        return EMPTY_CONTROL
    if "code" in payload and "msg" in payload:
        return failed("error_frame")
    return failed("unexpected_frame")


def parse(
    raw: str | bytes, received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """Decode one websocket text frame and parse it; never raises on bad input.

    The usual frame, a liquidation (a known USDⓈ-M symbol, positive finite ``ap`` and ``z``,
    ``T`` inside the window), is read typed; any other frame, or one those checks do not take
    as it is, is read by ``parse_decoded``, which gives the same reading or the reason. One
    difference is in what counts as JSON: a number beyond a double's range (or bytes that are
    not UTF-8, which a text frame cannot carry) in a field nobody reads makes orjson refuse the
    whole frame (``not_json``), while the typed read skips that field and reads the order."""
    try:
        order = _decode_usual(raw).data.o
        symbol = _USDM_SYMBOLS[order.s]
    except _NOT_USUAL:
        return parse_decoded(raw, received_at_ms, window)
    when = order.T
    if window is DEFAULT_WINDOW and received_at_ms > 0:
        lo, hi = received_at_ms - _DEFAULT_AGE_MS, received_at_ms + _DEFAULT_AHEAD_MS
    else:
        lo, hi = _bounds(received_at_ms, window)
    if not lo <= when <= hi:
        return parse_decoded(raw, received_at_ms, window)
    price, quantity = order.ap, order.z
    liq = _new(_LiquidationSlots)
    liq.exchange, liq.symbol = EXCHANGE, symbol
    liq.liquidated_side = LONG if order.S == "SELL" else SHORT
    liq.price, liq.quantity, liq.notional_usd = price, quantity, price * quantity
    liq.event_time_ms, liq.received_at_ms, liq.order_status = when, received_at_ms, order.X
    liq.__class__ = Liquidation  # type: ignore[assignment]
    result = _new(_ParseResultSlots)
    result.events, result.errors, result.control = (liq,), (), False
    result.__class__ = ParseResult  # type: ignore[assignment]
    return result  # type: ignore[return-value]


def parse_decoded(
    raw: str | bytes, received_at_ms: int, window: TimeWindow = DEFAULT_WINDOW
) -> ParseResult:
    """``parse`` through orjson and the checked paths, for every frame (the usual one too)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return failed("not_json")
    return parse_payload(payload, received_at_ms, window)


def adapter(window: TimeWindow = DEFAULT_WINDOW) -> VenueAdapter:
    """The venue for the generic feed, its parser bound to ``window``."""
    bound = parse if window == DEFAULT_WINDOW else functools.partial(parse, window=window)
    return VenueAdapter(
        name=EXCHANGE,
        connect_url=stream_url,
        subscribe_messages=subscribe_messages,
        parse=bound,
        streams=STREAMS,
    )


ADAPTER = adapter()
