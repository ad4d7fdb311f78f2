"""The history routes' parameters as pure functions: times, ranges, cursors, candle pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from api.envelope import ApiError
from api.query import parse_query
from api.resources.candles import CandlesQuery, candle_page
from api.resources.liquidation_cursor import CursorCodec, LiquidationQuery, liquidation_query
from api.resources.liquidations import LiquidationsQuery
from api.times import MAX_TIME_MS, MIN_TIME_MS, TIME_PATTERN, parse_time, time_range
from heatmap_engine.models import Candle

T = 1_769_601_600_000  # 2026-01-28T12:00:00Z


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1769601600000", T),
        ("2026-01-28T12:00:00Z", T),
        ("2026-01-28T12:00:00z", T),
        ("2026-01-28t12:00:00", T),  # no offset: UTC
        ("2026-01-28 12:00", T),
        ("2026-01-28T13:00:00+01:00", T),
        ("2026-01-28T07:30:00-0430", T),
        ("2026-01-28T12:00:00.250Z", T + 250),
        ("2026-01-28T12:00:00.2509999Z", T + 250),  # kept to the millisecond (floor)
        ("2026-01-28", T - 12 * 3_600_000),
        ("2000-01-01", MIN_TIME_MS),
        ("9999-12-31T23:59:59.999Z", MAX_TIME_MS),
    ],
)
def test_times_in_iso_8601_or_epoch_milliseconds(raw, expected):
    assert parse_time("start", raw) == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["not a time"]),
        ("yesterday", ["not a time"]),
        ("2026-01-28T12:00:00 01:00", ["%2B"]),  # what an unescaped + becomes
        ("2026-W05-3", ["not a time"]),
        ("20260128", ["out of range"]),  # digits are milliseconds: 1970
        ("1769601600", ["epoch seconds"]),
        ("-1", ["not a time"]),
        ("2026-02-29", ["not a real date"]),
        ("2026-01-28T24:00", ["not a real date"]),
        ("2026-01-28T12:00+24:00", ["not a real date"]),
        ("1999-12-31T23:59:59.999Z", ["out of range"]),
        ("99999999999999999", ["not a time"]),
        ("2026-01-28T12:00:00\n", ["not a time"]),
        ("١٧٦٩٦٠١٦٠٠٠٠٠", ["not a time"]),  # other scripts' digits
    ],
)
def test_other_times_are_a_400_saying_what_is_allowed(raw, words):
    with pytest.raises(ApiError) as info:
        parse_time("end", raw)
    assert info.value.status == 400
    assert all(w in info.value.message for w in ["end=", "ISO 8601", *words]), info.value.message


moments = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(moments, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_every_iso_form_of_an_instant_is_that_instant(moment, offset_minutes):
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    for text in (moment.isoformat(), local.isoformat(), local.isoformat(timespec="milliseconds"),
                 moment.replace(tzinfo=None).isoformat(), str(expected)):  # fmt: skip
        assert parse_time("at", text) == expected, text


GRAMMAR = TIME_PATTERN.removeprefix("^").removesuffix("$")


@given(st.from_regex(GRAMMAR, fullmatch=True))
def test_whatever_the_spec_pattern_allows_is_a_time_in_the_window(raw):
    """The spec's pattern is exactly the server's grammar: every match is accepted (no date
    that does not exist, no epoch number out of range), as an instant inside the window."""
    assert MIN_TIME_MS <= parse_time("at", raw) <= MAX_TIME_MS


@given(st.text(max_size=40))
def test_text_outside_the_spec_pattern_is_refused(raw):
    if re.fullmatch(GRAMMAR, raw):
        return
    with pytest.raises(ApiError, match="allowed: an ISO 8601 time"):
        parse_time("at", raw)


@pytest.mark.parametrize(
    ("raw", "valid"),
    [("2024-02-29", True), ("2000-02-29", True), ("2400-02-29T00:00Z", True),
     ("2100-02-29", False), ("2026-02-29", False), ("2026-04-31", False), ("2026-12-31", True),
     ("2026-01-28T23:59:59.999999999-23:59", True), ("2026-01-28T12:00+24:00", False),
     ("2026-01-28T12:60", False), ("2026-01-28T12:00:60", False), ("946684800000", True),
     ("946684799999", False), ("253402300799999", True), ("253402300800000", False),
     ("0946684800000", False)],
)  # fmt: skip
def test_the_pattern_knows_the_calendar_and_the_window(raw, valid):
    assert bool(re.fullmatch(GRAMMAR, raw)) is valid


def test_an_offset_past_the_window_reads_as_its_end():
    assert parse_time("at", "2000-01-01T00:30%2B01:00".replace("%2B", "+")) == MIN_TIME_MS
    assert parse_time("at", "9999-12-31T23:59:59-05:00") == MAX_TIME_MS


def test_a_range_defaults_to_the_last_day_and_must_not_be_empty():
    assert time_range(None, None, T) == time_range(T - 86_400_000, T, 0)
    assert time_range(None, T, 0).start_ms == T - 86_400_000
    for start, end in ((T, T), (T + 1, T)):
        with pytest.raises(ApiError, match="must be before end"):
            time_range(start, end, 0)


def _liquidations(**args: str) -> LiquidationsQuery:
    return parse_query(LiquidationsQuery, MultiDict(args))


def test_enums_and_limits_are_exact():
    assert _liquidations().side is None and _liquidations(side="short").side == "short"
    assert parse_query(CandlesQuery, MultiDict()).interval == "1m"
    assert _liquidations().limit == 1000 and _liquidations(limit="5000").limit == 5000
    for raw in ("0", "5001", "+5", "1e3", " 5", "5.0", "", "99999999999", "５"):
        with pytest.raises(ApiError, match="limit"):
            _liquidations(limit=raw)
    for raw in ("Long", "long ", "", "both"):
        with pytest.raises(ApiError, match="long, short"):
            _liquidations(side=raw)


QUERY = LiquidationQuery("BTCUSDT", T - 86_400_000, T, "long", 2500.0)
KEY = b"a test key, not the server's"
CODEC = CursorCodec(lambda: KEY)


def test_a_cursor_carries_its_query_and_keyset():
    assert CODEC.decode(CODEC.encode(QUERY, (T - 5, 42))) == (QUERY, (T - 5, 42))
    query, after = liquidation_query(
        "BTCUSDT", {}, CODEC.decode(CODEC.encode(QUERY, (T - 5, 42))), 0
    )
    assert (query, after) == (QUERY, (T - 5, 42))
    fresh, none = liquidation_query("BTCUSDT", {"min_notional": 2500.0}, None, T)
    assert none is None and fresh == LiquidationQuery("BTCUSDT", T - 86_400_000, T, None, 2500.0)


def test_a_cursor_of_another_key_is_not_one_of_ours():
    other = CursorCodec(lambda: b"another server's key").encode(QUERY, (T - 5, 42))
    with pytest.raises(ApiError, match="not a cursor this server issued"):
        CODEC.decode(other)


@given(st.data())
def test_no_edit_of_a_cursor_turns_it_into_another_page(data):
    cursor = CODEC.encode(QUERY, (T - 5, 42))
    i = data.draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    char = data.draw(st.sampled_from("AQgw_-09azZ."))
    edited = cursor[:i] + char + cursor[i + 1 :]
    try:
        assert CODEC.decode(edited) == (QUERY, (T - 5, 42))  # only padding bits changed
    except ApiError as exc:
        assert exc.status == 400 and "not a cursor this server issued" in exc.message


def minutes(start_ms: int, count: int, skip: range = range(0)) -> list[Candle]:
    return [Candle("binance", "X", "1m", start_ms + m * 60_000, start_ms + m * 60_000 + 59_999,
                   1.0, 2.0, 0.5, 1.5, 1.0, 1.0, 0.5, 1)
            for m in range(count) if m not in skip]  # fmt: skip


def fetcher(rows: list[Candle], reads: list[int]):
    def fetch(start_ms: int, end_ms: int, count: int) -> list[Candle]:
        reads.append(count)
        return [c for c in rows if start_ms <= c.open_time_ms < end_ms][:count]

    return fetch


def test_candle_pages_skip_gaps_and_align_to_whole_candles():
    hour = 3_600_000
    rows = minutes(T, 600, skip=range(120, 400))  # a gap of 280 minutes
    reads: list[int] = []
    span = time_range(T + 1, T + 10 * hour, 0)  # starts 1 ms in: the first whole hour is T+1h
    page, next_ms = candle_page(fetcher(rows, reads), "1h", span, 2)
    assert [c.open_time_ms for c in page] == [T + hour, T + 6 * hour] and reads == [121]
    assert next_ms == T + 7 * hour and all(c.open_time_ms % hour == 0 for c in page)
    page, next_ms = candle_page(fetcher(rows, reads), "1m", time_range(T, T + 10 * hour, 0), 150)
    assert len(page) == 150 and next_ms == rows[150].open_time_ms == T + 430 * 60_000
