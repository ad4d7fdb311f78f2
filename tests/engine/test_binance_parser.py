"""One fixture file per Binance frame variant, through the real parser."""

from __future__ import annotations

import json

import orjson
import pytest

from heatmap_engine.exchanges import binance
from heatmap_engine.models import Liquidation, MarkPrice, Skipped

RECEIVED = 1_791_565_700_000
DELAY = 150  # ms from the exchange's event time to our receipt, as on a good line


def received_at(raw: str) -> int:
    """When a recorded frame would have been received: its event time ``E`` plus a short
    delay (each fixture was recorded on another day); RECEIVED when it names none."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return RECEIVED
    data = payload.get("data", payload) if isinstance(payload, dict) else payload
    first = data[0] if isinstance(data, list) and data else data
    when = first.get("E") if isinstance(first, dict) else None
    return when + DELAY if isinstance(when, int) and when > 1_000_000_000_000 else RECEIVED


def parse(fixture_frame, name: str):
    raw = fixture_frame(name)
    return binance.parse(raw, received_at(raw))


def only_liquidation(result) -> Liquidation:
    assert result.errors == ()
    assert len(result.events) == 1
    (event,) = result.events
    assert isinstance(event, Liquidation)
    return event


def test_documented_sample_unwrapped(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_documented.json"))
    assert liq.symbol == "BTCUSDT"
    assert liq.liquidated_side == "long"  # SELL order closes a long
    assert liq.price == pytest.approx(9910.0)
    assert liq.quantity == pytest.approx(0.014)
    assert liq.notional_usd == pytest.approx(9910 * 0.014)
    assert liq.event_time_ms == 1568014460893
    assert liq.received_at_ms == 1568014460893 + DELAY
    assert liq.exchange == "binance"


def test_live_2026_frame_wrapped_with_ps_st_inside_o_and_l_not_z(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_live_2026_wrapped.json"))
    # price is the average fill ap (not the limit p), quantity the accumulated z (not last l)
    assert liq.price == pytest.approx(82651.90)
    assert liq.quantity == pytest.approx(0.190)
    assert liq.notional_usd == pytest.approx(82651.90 * 0.190)
    assert liq.event_time_ms == 1791565602120  # o.T, not E


def test_2023_sample_uses_average_price_not_limit_price(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_2023_p_below_ap.json"))
    assert liq.price == pytest.approx(26245.10)


def test_st_and_ps_at_top_level_buy_means_short_liquidated(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_st_top_level.json"))
    assert liq.symbol == "ETHUSDT"
    assert liq.liquidated_side == "short"
    assert liq.notional_usd == pytest.approx(3041.77 * 2.5)


def test_coin_margined_event_is_counted_as_skipped_with_contract_usd(fixture_frame):
    result = parse(fixture_frame, "force_order_coin_margined.json")
    assert result.errors == ()
    (event,) = result.events
    assert isinstance(event, Skipped)
    assert event.reason == "coin_margined"
    assert event.symbol == "BTCUSD_PERP"
    assert event.notional_usd == pytest.approx(37 * 100.0)  # BTCUSD contract = 100 USD


def test_ap_zero_falls_back_to_order_price(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_ap_zero.json"))
    assert liq.symbol == "1000PEPEUSDT"
    assert liq.price == pytest.approx(0.010215)
    assert liq.notional_usd == pytest.approx(0.010215 * 120000)


def test_missing_ap_and_z_fall_back_to_p_and_q(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_missing_ap_z.json"))
    assert (liq.price, liq.quantity) == (pytest.approx(142.10), pytest.approx(40.0))


def test_expired_partial_fill_uses_filled_quantity(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_expired_partial.json"))
    assert liq.quantity == pytest.approx(3100)
    assert liq.order_status == "EXPIRED"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("force_order_missing_symbol.json", "missing_field"),
        ("force_order_bad_side.json", "bad_side"),
        ("force_order_bad_symbol.json", "bad_symbol"),
        ("force_order_bad_numbers.json", "bad_number"),
        ("force_order_truncated.txt", "not_json"),
        ("not_json.txt", "not_json"),
        ("error_frame.json", "error_frame"),
        ("unexpected_event.json", "unexpected_frame"),
    ],
)
def test_bad_frames_are_reported_by_reason_and_yield_nothing(fixture_frame, name, reason):
    result = parse(fixture_frame, name)
    assert result.events == ()
    assert result.errors == (reason,)


def test_subscription_ack_is_control_not_error(fixture_frame):
    result = parse(fixture_frame, "subscribe_ack.json")
    assert result.control and result.events == () and result.errors == ()


def test_mark_price_split_array_keeps_good_entries_and_reports_broken_one(fixture_frame):
    first = parse(fixture_frame, "mark_price_arr_part1.json")
    second = parse(fixture_frame, "mark_price_arr_part2.json")
    prices = {e.symbol: e.mark_price for e in first.events + second.events}
    assert prices == {
        "BTCUSDT": pytest.approx(79107.36658171),
        "ETHUSDT": pytest.approx(3012.55),
        "XAUUSDT": pytest.approx(3650.12),
        "1000PEPEUSDT": pytest.approx(0.010215),
    }
    assert all(isinstance(e, MarkPrice) for e in first.events + second.events)
    assert first.errors == ()
    assert second.errors == ("bad_number",)  # the entry with "p": ""


def test_mark_price_unwrapped_array_and_single_object(fixture_frame):
    arr = parse(fixture_frame, "mark_price_arr_unwrapped.json")
    single = parse(fixture_frame, "mark_price_single.json")
    assert [(e.symbol, e.mark_price) for e in arr.events] == [("BTCUSDT", 79110.0)]
    assert [(e.symbol, e.event_time_ms) for e in single.events] == [("BTCUSDT", 1562305380000)]


@pytest.mark.parametrize("raw", [b"", b"null", b"42", b'"text"', b"[1, 2]", b'{"stream": 1}'])
def test_odd_payloads_never_raise(raw):
    result = binance.parse(raw, RECEIVED)
    assert result.events == ()
    assert result.errors


def test_subscribe_message_uses_unsigned_integer_id_and_market_streams():
    (message,) = binance.subscribe_messages(7)
    assert (
        message == '{"method":"SUBSCRIBE","params":["!forceOrder@arr","!markPrice@arr@1s"],"id":7}'
    )
    assert binance.stream_url("wss://fstream.binance.com/market/") == (
        "wss://fstream.binance.com/market/stream"
    )


def test_usdm_delivery_contract_is_not_mistaken_for_coin_margined(fixture_frame):
    liq = only_liquidation(parse(fixture_frame, "force_order_usdm_delivery.json"))
    assert liq.symbol == "BTCUSDT_261225"
    assert liq.notional_usd == pytest.approx(84010.0 * 0.05)


def test_non_latin_contract_names_are_real_and_kept(fixture_frame):
    # Binance lists "币安人生USDT"; the real recordings contain its liquidations.
    liq = only_liquidation(parse(fixture_frame, "force_order_unicode_symbol.json"))
    assert liq.symbol == "币安人生USDT"
    assert liq.liquidated_side == "short"


def test_kline_frame_forming_candle(fixture_frame):
    (candle,) = parse(fixture_frame, "kline_1m_forming.json").events
    assert (candle.symbol, candle.interval, candle.open_time_ms) == ("BTCUSDT", "1m", 1788936900000)
    assert (candle.open, candle.high, candle.low, candle.close) == (
        79095.4,
        79111.3,
        79080.6,
        79104.0,
    )
    assert candle.taker_buy_volume == pytest.approx(14.001)
    assert candle.volume == pytest.approx(42.797)
    assert candle.trades == 1079 and candle.closed is False


def test_rest_kline_row_and_open_interest_history(fixture_frame):
    row = orjson.loads(fixture_frame("rest_kline_row.json"))
    candle = binance.parse_rest_kline("BTCUSDT", "1m", row, now_ms=1789478280000)
    assert candle.closed and candle.close == 76953.6 and candle.taker_buy_volume == 3.2714
    assert binance.parse_rest_kline("BTCUSDT", "1m", row, now_ms=1789478250000).closed is False
    assert binance.parse_rest_kline("BTCUSDT", "1m", ["x"], now_ms=0) is None
    entries = [
        binance.parse_open_interest_hist(i)
        for i in orjson.loads(fixture_frame("rest_open_interest_hist.json"))
    ]
    assert [e.time_ms for e in entries] == [1583127900000, 1583128200000]  # number and string
    assert entries[0].open_interest == pytest.approx(20403.637)
    assert entries[0].open_interest_usd == pytest.approx(150570784.07809979)


# -- event times outside the window around receipt (24 h before, 5 min after) ----------------
def live_order(trade_time) -> str:
    """The live 2026 frame shape with a chosen trade time ``T`` (the standard library's JSON
    writes integers of any size, as a broken or hostile sender could)."""
    order = {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.190", "p": "82338.30",
             "ap": "82651.90", "X": "FILLED", "l": "0.155", "z": "0.190", "T": trade_time,
             "ps": "BTCUSDT", "st": 1}  # fmt: skip
    return json.dumps({"stream": "!forceOrder@arr",
                         "data": {"e": "forceOrder", "E": RECEIVED - 50, "o": order}})  # fmt: skip


@pytest.mark.parametrize(
    ("trade_time", "reason"),
    [
        (RECEIVED + 5 * 60_000 + 1, "time_in_future"),
        (RECEIVED + 86_400_000 * 365, "time_in_future"),
        (RECEIVED - 24 * 3_600_000 - 1, "time_too_old"),
        (2**63 + 1, "time_in_future"),  # does not fit 64 bits
        (2**64, "time_in_future"),
        ("1e30", "time_in_future"),
        (1_000, "time_too_old"),  # seconds or a counter, not epoch ms
    ],
)
def test_a_trade_time_outside_the_window_is_counted_and_skipped(trade_time, reason):
    result = binance.parse(live_order(trade_time), RECEIVED)
    assert result.events == ()
    assert result.errors == (reason,)
    assert result.carries_data  # still a data frame: the route delivers


@pytest.mark.parametrize("offset_ms", [5 * 60_000, 0, -24 * 3_600_000])
def test_trade_times_at_the_edges_of_the_window_are_kept(offset_ms):
    (liq,) = binance.parse(live_order(RECEIVED + offset_ms), RECEIVED).events
    assert liq.event_time_ms == RECEIVED + offset_ms


def test_without_a_receive_time_only_the_absolute_bounds_apply():
    assert binance.parse(live_order(RECEIVED + 86_400_000 * 30), 0).errors == ()
    assert binance.parse(live_order(2**64), 0).errors == ("time_in_future",)


def test_a_wider_window_is_bound_into_the_adapter():
    wide = binance.adapter(binance.TimeWindow(max_age_ms=48 * 3_600_000))
    old = live_order(RECEIVED - 30 * 3_600_000)
    assert binance.ADAPTER.parse(old, RECEIVED).errors == ("time_too_old",)
    assert wide.parse(old, RECEIVED).errors == ()


def test_one_mark_price_from_the_future_costs_only_itself(fixture_frame):
    raw = orjson.loads(fixture_frame("mark_price_arr_part1.json"))
    received = raw["data"][0]["E"] + DELAY
    raw["data"][1]["E"] = 2**64
    result = binance.parse(json.dumps(raw), received)
    assert result.errors == ("time_in_future",)
    assert len(result.events) == len(raw["data"]) - 1


def test_kline_times_and_counts_are_range_checked(fixture_frame):
    raw = orjson.loads(fixture_frame("kline_1m_forming.json"))
    received = raw["data"]["E"] + DELAY
    late = {**raw["data"], "k": {**raw["data"]["k"], "t": received + 3_600_000}}
    huge_count = {**raw["data"], "k": {**raw["data"]["k"], "n": 2**70}}
    huge_close = {**raw["data"], "k": {**raw["data"]["k"], "T": 2**64}}
    assert binance.parse(json.dumps(late), received).errors == ("time_in_future",)
    assert binance.parse(json.dumps(huge_count), received).errors == ("bad_number",)
    assert binance.parse(json.dumps(huge_close), received).errors == ("time_in_future",)


def test_rest_rows_with_impossible_times_are_dropped(fixture_frame):
    row = orjson.loads(fixture_frame("rest_kline_row.json"))
    assert binance.parse_rest_kline("BTCUSDT", "1m", [2**64, *row[1:]], now_ms=0) is None
    assert binance.parse_rest_kline("BTCUSDT", "1m", [*row[:8], 2**70, *row[9:]], 0).trades == 0
    (entry,) = orjson.loads(fixture_frame("rest_open_interest_hist.json"))[:1]
    assert binance.parse_open_interest_hist({**entry, "timestamp": 2**64}) is None
    assert binance.parse_open_interest_hist({**entry, "timestamp": 12}) is None


@pytest.mark.parametrize(
    ("name", "is_data"),
    [
        ("force_order_live_2026_wrapped.json", True),
        ("force_order_bad_numbers.json", True),  # broken, but a liquidation message
        ("error_frame.json", False),
        ("not_json.txt", False),
        ("unexpected_event.json", False),
        ("subscribe_ack.json", False),
    ],
)
def test_which_frames_carry_data(fixture_frame, name, is_data):
    assert parse(fixture_frame, name).carries_data is is_data
