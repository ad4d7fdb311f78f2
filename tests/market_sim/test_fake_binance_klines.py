"""`GET /fapi/v1/klines` of the fake and the time selection behind it (§1.9)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from market_sim import series
from market_sim.fake_binance import FakeBinance

MakeFake = Callable[..., FakeBinance]
NOW_MS = 1_795_000_020_000
MINUTE = 60_000


@pytest.fixture
def fake(make_fake: MakeFake) -> FakeBinance:
    return make_fake(clock=lambda: NOW_MS / 1000)


def klines(fake: FakeBinance, **params: Any) -> requests.Response:
    params = {"symbol": "BTCUSDT", "interval": "1m", **params}
    return requests.get(f"{fake.rest_base}/fapi/v1/klines", params=params, timeout=2)


def test_default_limit_ends_with_the_forming_candle(fake: FakeBinance) -> None:
    rows = klines(fake).json()
    assert len(rows) == 500
    assert rows[-1][0] == NOW_MS // MINUTE * MINUTE
    assert all(b[0] - a[0] == MINUTE for a, b in itertools.pairwise(rows))
    types = [int, str, str, str, str, str, int, str, int, str, str, str]
    assert all([type(value) for value in row] == types for row in rows)
    for row in rows:
        open_, high, low, close = (Decimal(v) for v in row[1:5])
        assert low <= min(open_, close) <= max(open_, close) <= high
        assert row[6] == row[0] + MINUTE - 1
        assert Decimal(row[9]) <= Decimal(row[5])  # taker buy base <= volume
    assert all(a[4] == b[1] for a, b in itertools.pairwise(rows))  # close == next open


@pytest.mark.parametrize(("limit", "weight"), [(99, 1), (100, 2), (500, 5), (1000, 5), (1500, 10)])
def test_limit_sets_row_count_and_weight(fake: FakeBinance, limit: int, weight: int) -> None:
    response = klines(fake, limit=limit)
    assert len(response.json()) == limit
    assert response.headers["X-MBX-USED-WEIGHT-1M"] == str(weight)  # first request: fresh fake


def test_start_time_selects_forward_and_end_time_bounds(fake: FakeBinance) -> None:
    start = NOW_MS - 10 * MINUTE - 30_000  # mid-candle: the first row opens after it
    rows = klines(fake, startTime=start, limit=3).json()
    assert [row[0] for row in rows] == [start + 30_000 + i * MINUTE for i in range(3)]
    bounded = klines(fake, startTime=start, endTime=start + 149_999).json()
    assert [row[0] for row in bounded] == [start + 30_000, start + 90_000]
    unbounded = klines(fake, startTime=start).json()
    assert len(unbounded) == 11 and unbounded[-1][0] == NOW_MS // MINUTE * MINUTE


def test_end_time_alone_gives_the_rows_before_it(fake: FakeBinance) -> None:
    end = NOW_MS - 100 * MINUTE
    rows = klines(fake, endTime=end, limit=5).json()
    assert rows[-1][0] == end // MINUTE * MINUTE and len(rows) == 5


def test_same_request_gives_the_same_rows(fake: FakeBinance) -> None:
    params = {"interval": "1h", "startTime": NOW_MS - 50 * 3_600_000, "limit": 20}
    assert klines(fake, **params).json() == klines(fake, **params).json()


def test_injected_rows_are_filtered_by_time_and_limit(fake: FakeBinance) -> None:
    rows = [[t, "1", "2", "0.5", "1.5", "10", t + MINUTE - 1, "15", 3, "5", "7.5", "0"]
            for t in range(0, 20 * MINUTE, MINUTE)]  # fmt: skip
    fake.set_klines("ETHUSDT", rows)
    served = klines(fake, symbol="ETHUSDT", startTime=5 * MINUTE, limit=4).json()
    assert [row[0] for row in served] == [5 * MINUTE, 6 * MINUTE, 7 * MINUTE, 8 * MINUTE]
    assert klines(fake, symbol="ETHUSDT", limit=2).json() == rows[-2:]
    assert klines(fake, symbol="ETHUSDT", endTime=MINUTE).json() == rows[:2]


def test_set_klines_rejects_rows_of_the_wrong_shape(fake: FakeBinance) -> None:
    with pytest.raises(ValueError, match="12 columns"):
        fake.set_klines("ETHUSDT", [[0, "1", "2"]])
    with pytest.raises(KeyError):
        fake.set_klines("NOPEUSDT", [])


def test_weekly_candles_open_on_monday_and_monthly_on_the_first() -> None:
    week_open = series.interval_floor("1w", NOW_MS)
    assert datetime.fromtimestamp(week_open / 1000, tz=UTC).strftime("%a %H:%M") == "Mon 00:00"
    month_open = series.interval_floor("1M", NOW_MS)
    opened = datetime.fromtimestamp(month_open / 1000, tz=UTC)
    assert (opened.day, opened.hour) == (1, 0)
    next_month = datetime.fromtimestamp(series.interval_shift("1M", month_open, 1) / 1000, tz=UTC)
    assert next_month.day == 1 and (next_month.month - opened.month) % 12 == 1


def test_monthly_open_times_step_across_a_year_end() -> None:
    times = series.select_open_times("1M", NOW_MS, None, None, 14)
    months = [datetime.fromtimestamp(t / 1000, tz=UTC) for t in times]
    assert all(m.day == 1 for m in months)
    assert len({(m.year, m.month) for m in months}) == 14
