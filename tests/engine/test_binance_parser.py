"""One fixture file per Binance frame variant, through the real parser."""

from __future__ import annotations

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
    import orjson

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
