"""REST endpoints of the fake Binance: shapes, weights, errors, injected 429/418 (§1.8, §1.9)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from heatmap_engine.exchanges.binance_rest import BinanceRest, RestRateLimited
from market_sim.fake_binance import FakeBinance

MakeFake = Callable[..., FakeBinance]
NOW_S = 1_795_000_020.0  # 20 s into a UTC minute
WEIGHT = "x-mbx-used-weight-1m"


class ManualClock:
    def __init__(self, now: float = NOW_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def get(fake: FakeBinance, path: str, **params: Any) -> requests.Response:
    return requests.get(fake.rest_base + path, params=params, timeout=2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rest(make_fake: MakeFake, clock: ManualClock) -> FakeBinance:
    return make_fake(clock=clock)


def test_time_and_weight_header_increase_by_endpoint_weight(rest: FakeBinance) -> None:
    first = get(rest, "/fapi/v1/time")
    assert first.json() == {"serverTime": int(NOW_S * 1000)}
    assert first.headers["Content-Type"].startswith("application/json")
    used = [int(first.headers[WEIGHT])]
    for path, params in [
        ("/fapi/v1/premiumIndex", {}),  # 10 without symbol
        ("/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}),  # 1
        ("/fapi/v2/ticker/price", {}),  # 2
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 1000}),  # 5
        ("/futures/data/openInterestHist", {"symbol": "BTCUSDT", "period": "5m"}),  # 0
    ]:
        used.append(int(get(rest, path, **params).headers[WEIGHT]))
    assert used == [1, 11, 12, 14, 19, 19]
    assert rest.stats()["rest_used_weight_1m"] == 19


def test_weight_resets_each_minute(rest: FakeBinance, clock: ManualClock) -> None:
    get(rest, "/fapi/v1/premiumIndex")
    clock.now += 60
    assert get(rest, "/fapi/v1/time").headers[WEIGHT] == "1"


def test_injected_429_then_418_then_normal(rest: FakeBinance) -> None:
    rest.fail_next_rest(429, retry_after=7)
    rest.fail_next_rest(418, retry_after=120)
    limited = get(rest, "/fapi/v1/exchangeInfo")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {
        "code": -1003,
        "msg": "Too many requests; current limit is 2400 requests per minute. Please use the "
        "websocket for live updates to avoid polling the API.",
    }
    banned = get(rest, "/fapi/v1/premiumIndex", symbol="BTCUSDT")
    assert banned.status_code == 418
    until_ms = int(NOW_S * 1000) + 120_000
    assert banned.json()["msg"] == (
        f"Way too many requests; IP banned until {until_ms}. Please use the websocket for live "
        "updates to avoid bans."
    )
    assert WEIGHT in banned.headers
    assert get(rest, "/fapi/v1/time").status_code == 200
    assert [path for _, path, _ in rest.rest_requests] == [
        "/fapi/v1/exchangeInfo", "/fapi/v1/premiumIndex", "/fapi/v1/time"
    ]  # fmt: skip


def test_injected_failures_without_retry_after_and_count(rest: FakeBinance) -> None:
    rest.fail_next_rest(503, count=2)
    statuses = [get(rest, "/fapi/v1/time") for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert "Retry-After" not in statuses[0].headers
    assert statuses[0].json()["code"] == -1001


def test_exceeding_the_weight_limit_answers_429(make_fake: MakeFake, clock: ManualClock) -> None:
    fake = make_fake(clock=clock, rest_weight_limit=3)
    assert [get(fake, "/fapi/v1/time").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_premium_index_object_and_array(rest: FakeBinance) -> None:
    rest.set_mark_prices({"BTCUSDT": "65000.1"})
    one = get(rest, "/fapi/v1/premiumIndex", symbol="BTCUSDT").json()
    assert one["symbol"] == "BTCUSDT" and one["markPrice"] == "65000.10000000"
    assert set(one) == {
        "symbol", "markPrice", "indexPrice", "estimatedSettlePrice", "lastFundingRate",
        "interestRate", "nextFundingTime", "time",
    }  # fmt: skip
    assert one["nextFundingTime"] % (8 * 3_600_000) == 0 and one["time"] == int(NOW_S * 1000)
    every = {row["symbol"]: row for row in get(rest, "/fapi/v1/premiumIndex").json()}
    assert every["BTCUSDT"] == one
    assert every["BTCUSDT_261225"]["lastFundingRate"] == ""  # delivery: no funding
    assert every["BTCUSDT_261225"]["nextFundingTime"] == 0
    assert "SRMUSDT" not in every  # status CLOSE


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_ticker_price_object_and_array(rest: FakeBinance, version: str) -> None:
    rest.set_mark_prices({"ETHUSDT": "3012.34"})
    path = f"/fapi/{version}/ticker/price"
    assert get(rest, path, symbol="ETHUSDT").json() == {
        "symbol": "ETHUSDT", "price": "3012.34", "time": int(NOW_S * 1000)
    }  # fmt: skip
    prices = {row["symbol"]: row["price"] for row in get(rest, path).json()}
    assert prices["ETHUSDT"] == "3012.34" and "CATUSDT" in prices


@pytest.mark.parametrize(
    ("path", "params", "reply"),
    [
        ("/fapi/v1/premiumIndex", {"symbol": "NOPEUSDT"}, (-1121, "Invalid symbol.")),
        ("/fapi/v1/premiumIndex", {"symbol": "btcusdt"}, (-1121, "Invalid symbol.")),
        ("/fapi/v1/openInterest", {}, (-1102, "Mandatory parameter 'symbol' was not sent, "
                                              "was empty/null, or malformed.")),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT"}, (-1102, "Mandatory parameter 'interval' "
                                                           "was not sent, was empty/null, or "
                                                           "malformed.")),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "7m"}, (-1120, "Invalid interval.")),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 1501},
         (-1130, "Data sent for parameter 'limit' is not valid.")),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "startTime": "x"},
         (-1100, "Illegal characters found in parameter 'startTime'; legal range is "
                 "'^[0-9]{1,20}$'.")),
        ("/futures/data/openInterestHist", {"symbol": "BTCUSDT"},
         (-1102, "Mandatory parameter 'period' was not sent, was empty/null, or malformed.")),
        ("/futures/data/openInterestHist", {"symbol": "BTCUSDT", "period": "5m", "limit": 501},
         (-1130, "Data sent for parameter 'limit' is not valid.")),
    ],
)  # fmt: skip
def test_errors_use_binance_codes(
    rest: FakeBinance, path: str, params: dict[str, Any], reply: tuple[int, str]
) -> None:
    response = get(rest, path, **params)
    assert response.status_code == 400
    assert response.json() == {"code": reply[0], "msg": reply[1]}
    assert WEIGHT in response.headers


def test_open_interest_value_and_override(rest: FakeBinance) -> None:
    default = get(rest, "/fapi/v1/openInterest", symbol="BTCUSDT").json()
    assert set(default) == {"openInterest", "symbol", "time"} and float(default["openInterest"]) > 0
    rest.set_open_interest("BTCUSDT", "106269.634")
    assert get(rest, "/fapi/v1/openInterest", symbol="BTCUSDT").json()["openInterest"] == (
        "106269.634"
    )


def test_open_interest_hist_rows(rest: FakeBinance) -> None:
    rows = get(rest, "/futures/data/openInterestHist", symbol="ETHUSDT", period="1h").json()
    assert len(rows) == 30
    stamps = [row["timestamp"] for row in rows]
    assert all(isinstance(stamp, int) for stamp in stamps)
    assert all(later - earlier == 3_600_000 for earlier, later in itertools.pairwise(stamps))
    assert stamps[-1] <= NOW_S * 1000 < stamps[-1] + 3_600_000
    assert set(rows[0]) == {
        "symbol", "sumOpenInterest", "sumOpenInterestValue", "CMCCirculatingSupply", "timestamp"
    }  # fmt: skip
    start = stamps[-5]
    windowed = get(
        rest, "/futures/data/openInterestHist", symbol="ETHUSDT", period="1h", startTime=start
    ).json()
    assert [row["timestamp"] for row in windowed] == stamps[-5:]


def test_open_interest_hist_injected_rows_are_windowed(rest: FakeBinance) -> None:
    now_ms = int(NOW_S * 1000)
    rows = [
        {"symbol": "SOLUSDT", "sumOpenInterest": str(i), "sumOpenInterestValue": "1",
         "CMCCirculatingSupply": "1", "timestamp": now_ms - i * 300_000}
        for i in range(10)
    ]  # fmt: skip
    rest.set_open_interest("SOLUSDT", "5", hist_rows=rows)
    served = get(rest, "/futures/data/openInterestHist", symbol="SOLUSDT", period="5m", limit=3)
    assert [row["sumOpenInterest"] for row in served.json()] == ["2", "1", "0"]


def test_exchange_info_shape(rest: FakeBinance) -> None:
    info = get(rest, "/fapi/v1/exchangeInfo").json()
    assert info["timezone"] == "UTC"
    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
            "limit": 2400} in info["rateLimits"]  # fmt: skip
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.1"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert "notional" in filters["MIN_NOTIONAL"]
    assert (btc["contractType"], btc["status"], btc["deliveryDate"]) == (
        "PERPETUAL", "TRADING", 4133404800000
    )  # fmt: skip
    assert {"orderTypes", "timeInForce", "liquidationFee", "onboardDate", "underlyingType",
            "marginAsset", "pricePrecision", "quantityPrecision"} <= set(btc)  # fmt: skip


OI_HIST = "/futures/data/openInterestHist"


def oi_hist(fake: FakeBinance) -> requests.Response:
    return get(fake, OI_HIST, symbol="BTCUSDT", period="5m", limit=1)


def test_open_interest_hist_has_its_own_limit_of_requests_per_5_minutes(
    make_fake: MakeFake, clock: ManualClock
) -> None:
    fake = make_fake(clock=clock, oi_hist_limit=3)
    answers = [oi_hist(fake) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json() == {
        "code": -1003,
        "msg": "Too many requests; current limit is 3 requests per 5 minutes. "
        "Please use the websocket for live updates to avoid polling the API.",
    }
    assert all(a.headers[WEIGHT] == "0" for a in answers)  # weight 0 (§1.9)
    assert get(fake, "/fapi/v1/time").status_code == 200  # other endpoints are not limited
    assert fake.stats()["rest_oi_hist_requests_5m"] == 4
    clock.now = (clock.now // 300 + 1) * 300  # the next 5-minute window
    assert oi_hist(fake).status_code == 200
    assert fake.stats()["rest_oi_hist_requests_5m"] == 1


def test_continued_abuse_of_a_limit_bans_the_ip_with_418_for_every_endpoint(
    make_fake: MakeFake, clock: ManualClock
) -> None:
    fake = make_fake(clock=clock, oi_hist_limit=2, rest_ban_after=3)
    codes = [oi_hist(fake).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 429, 429, 418]  # the third refusal bans
    banned = get(fake, "/fapi/v1/time")
    until_ms = int(clock.now * 1000) + 120_000  # the first ban lasts 2 minutes
    assert banned.status_code == 418 and banned.json() == {
        "code": -1003,
        "msg": f"Way too many requests; IP banned until {until_ms}. "
        "Please use the websocket for live updates to avoid bans.",
    }
    assert fake.stats()["rest_bans"] == 1
    clock.now += 119
    assert get(fake, "/fapi/v1/time").status_code == 418
    clock.now = (clock.now // 300 + 1) * 300 + 1  # ban over, a fresh window
    assert oi_hist(fake).status_code == 200
    assert [oi_hist(fake).status_code for _ in range(4)] == [200, 429, 429, 429]
    again = get(fake, "/fapi/v1/time")
    assert (
        again.status_code == 418
        and f"until {int(clock.now * 1000) + 240_000}." in (again.json()["msg"])
    )  # the second ban lasts twice as long


def test_the_weight_limit_bans_too_after_continued_429s(
    make_fake: MakeFake, clock: ManualClock
) -> None:
    fake = make_fake(clock=clock, rest_weight_limit=2, rest_ban_after=2)
    codes = [get(fake, "/fapi/v1/time").status_code for _ in range(5)]
    assert codes == [200, 200, 429, 429, 418]
    clock.now += 60  # a new minute, but the 2-minute ban still holds
    assert get(fake, "/fapi/v1/time").status_code == 418


def test_the_real_client_backs_off_on_the_limit_and_stops_on_the_ban(
    make_fake: MakeFake,
) -> None:
    fake = make_fake(oi_hist_limit=2, rest_ban_after=2)  # the wall clock: the client's too
    client = BinanceRest(fake.rest_base, timeout=2)
    params = {"symbol": "BTCUSDT", "period": "5m", "limit": 1}
    for _ in range(2):
        assert len(client.get(OI_HIST, params)) == 1
    with pytest.raises(RestRateLimited) as limited:
        client.get(OI_HIST, params)
    assert not limited.value.banned and limited.value.until > time.time()
    client.blocked_until = 0.0  # do not wait out the back-off: abuse on purpose
    with pytest.raises(RestRateLimited):
        client.get(OI_HIST, params)
    client.blocked_until = 0.0
    with pytest.raises(RestRateLimited) as banned:
        client.get("/fapi/v1/time")
    assert banned.value.banned and banned.value.until >= time.time() + 110  # "banned until"
    with pytest.raises(RestRateLimited):  # and it keeps off until then, without asking
        client.get("/fapi/v1/time")
    assert fake.stats()["rest_requests"] == 5
