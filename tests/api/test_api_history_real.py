"""Real recordings replayed into the store and back out through the API.

A week of Binance BTCUSDT 1m klines (2025-10) and two weeks of 5m open interest (2026-05/06) are
served by the fake Binance's REST, fetched by the real ``Backfill`` into a real store, then read
through ``/api/candles`` and ``/api/open-interest`` and compared with the CSV files read here,
independently; hourly candles are compared with a pandas aggregation of the same file.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pandas as pd
import pytest
from helpers import real_data_dir

from heatmap_engine.exchanges.binance_rest import BinanceRest
from heatmap_engine.history.backfill import Backfill
from heatmap_engine.history.sqlite_store import SqliteStore
from market_sim.fake_binance import FakeBinance

KLINES = ("binance-um-klines-1m-2025-10", "BTC-USDT-1m.csv")
OPEN_INTEREST = ("binance-btcusdt-5m-oi-2026-05-06", "btcusdt_5m_oi_2026-05-25_to_06-08.csv")


def _ms(naive_utc: str) -> int:
    return int(datetime.fromisoformat(naive_utc).replace(tzinfo=UTC).timestamp() * 1000)


def _rows(folder: str, name: str) -> list[dict[str, str]]:
    with (real_data_dir(folder) / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _backfill(store: SqliteStore, end_ms: int, klines=None, open_interest=None) -> None:
    """The real Backfill, against the fake Binance serving the given rows, into ``store``."""

    def emit(items) -> None:
        items = list(items)
        store.write_batch([], [], [i for i in items if not isinstance(i, tuple)],
                          [i for i in items if isinstance(i, tuple)])  # fmt: skip

    with FakeBinance(clock=lambda: end_ms / 1000) as fake:
        if klines:
            fake.set_klines("BTCUSDT", klines, interval="1m")
        if open_interest:
            fake.set_open_interest("BTCUSDT", "1", open_interest)
        backfill = Backfill(
            BinanceRest(fake.rest_base), store, emit, kline_days=8 if klines else 0,
            oi_days=30 if open_interest else 0, clock=lambda: end_ms / 1000,
        )  # fmt: skip
        assert backfill.run(["BTCUSDT"])


@pytest.fixture(scope="module")
def klines() -> list[dict[str, str]]:
    return _rows(*KLINES)


@pytest.fixture
def kline_client(klines, make_history_client):
    rest_rows = [
        [_ms(r["datetime"]), r["open"], r["high"], r["low"], r["close"], r["volume"],
         _ms(r["datetime"]) + 59_999, "0", 0, "0", "0", "0"]
        for r in klines
    ]  # fmt: skip
    end_ms = rest_rows[-1][0] + 60_000
    client, _ = make_history_client(lambda store: _backfill(store, end_ms, klines=rest_rows))
    return client


def test_real_1m_klines_come_back_through_the_api(kline_client, klines, follow):
    url = "/api/candles/BTCUSDT?limit=5000&start=2025-10-23T00:00:00Z&end=2025-10-31"
    candles = follow(kline_client, url, "candles")
    got = [(c["open_time_ms"], c["open"], c["high"], c["low"], c["close"], c["volume"])
           for c in candles]  # fmt: skip
    expected = [(_ms(r["datetime"]), float(r["open"]), float(r["high"]), float(r["low"]),
                 float(r["close"]), float(r["volume"])) for r in klines]  # fmt: skip
    assert got == expected and len(got) == len(klines)
    assert candles[0]["open_time"] == "2025-10-23T11:09:00.000+00:00"


def test_real_1h_candles_are_the_pandas_aggregation_of_the_file(kline_client, klines, follow):
    url = "/api/candles/BTCUSDT?interval=1h&limit=50&start=2025-10-23T11:00:00Z&end=2025-10-31"
    hours = follow(kline_client, url, "candles")
    frame = pd.DataFrame(klines).astype(
        {c: float for c in ("open", "high", "low", "close", "volume")}
    )
    frame["datetime"] = pd.to_datetime(frame["datetime"], utc=True)
    expected = frame.resample("1h", on="datetime").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    assert [h["open_time_ms"] for h in hours] == [int(t.timestamp() * 1000) for t in expected.index]
    for hour, (_, row) in zip(hours, expected.iterrows(), strict=True):
        assert (hour["open"], hour["high"], hour["low"], hour["close"]) == (
            row["open"], row["high"], row["low"], row["close"])  # fmt: skip
        assert hour["volume"] == pytest.approx(row["volume"], rel=1e-12)
    assert len(hours) == 168  # 11:00 on the 23rd to 10:00 on the 30th, both partial


def test_real_open_interest_comes_back_through_the_api(make_history_client, follow):
    rows = _rows(*OPEN_INTEREST)
    hist = [{"symbol": "BTCUSDT",
             "sumOpenInterest": f"{float(r['oi_close']) / float(r['price_close']):.8f}",
             "sumOpenInterestValue": r["oi_close"], "timestamp": int(r["timestamp"])}
            for r in rows]  # fmt: skip
    end_ms = hist[-1]["timestamp"] + 300_000
    client, _ = make_history_client(lambda store: _backfill(store, end_ms, open_interest=hist))
    url = "/api/open-interest/BTCUSDT?period=5m&limit=1000&start=2026-05-25&end=2026-06-09"
    points = follow(client, url, "open_interest")
    assert [p["time_ms"] for p in points] == [int(r["timestamp"]) for r in rows]
    for point, row in zip(points, rows, strict=True):
        assert point["time"] == row["datetime_utc"].replace("Z", "+00:00")
        assert point["open_interest_usd"] == float(row["oi_close"])
        base = float(row["oi_close"]) / float(row["price_close"])
        assert point["open_interest"] == pytest.approx(base, abs=1e-8)
    assert len(points) == len(rows) == 4032
