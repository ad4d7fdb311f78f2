"""What the history pages hold: every stored row of the range once, in order, bounded reads
(however long the range), cursors that keep their query, candles aggregated from 1m."""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest

from api.context import EXTENSION
from api.resources.candles import candle_record
from heatmap_engine.models import Candle, Liquidation

MINUTE = 60_000
DAY = 86_400_000
YEAR = 365 * DAY
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def liq(t: int, i: int, side: str = "long", notional: float | None = None) -> Liquidation:
    price = 50_000.0 + i % 97
    quantity = 0.01 + (i % 13) / 10
    notional = price * quantity if notional is None else notional
    return Liquidation("binance", "BTCUSDT", side, price, quantity, notional, t, t + 15)


def pages(client, url: str, cursor: str | None = None) -> list[dict]:
    """Follow next_cursor from ``url`` (and ``cursor``) to the end; every page's rows."""
    items = []
    for _ in range(10_000):
        body = client.get(url + (f"&cursor={cursor}" if cursor else "")).get_json()
        assert body["success"], body
        items += body["liquidations"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging never ended")


def keyset(liquidation: Liquidation) -> tuple:
    return (liquidation.event_time_ms, liquidation.quantity, liquidation.price)


def record_key(record: dict) -> tuple:
    return (record["time_ms"], record["quantity"], record["price"])


@pytest.fixture
def ten_years(make_history_client):
    """20,000 liquidations over ten years before T0, with runs of equal trade times (a page may
    end inside one), both sides and a spread of notionals."""
    events = [
        liq(T0 - 10 * YEAR + (i // 3) * (10 * YEAR // 7000), i, "long" if i % 4 else "short")
        for i in range(20_000)
    ]
    client, service = make_history_client(lambda store: store.write_batch(events))
    return client, service, events


def test_pages_hold_every_row_of_the_range_once_in_trade_time_order(ten_years):
    client, _, events = ten_years
    start, end = T0 - 6 * YEAR, T0 - 2 * YEAR
    url = f"/api/liquidations/BTCUSDT?start={start}&end={end}&side=long&min_notional=20000&limit=7"
    got = pages(client, url)
    expected = [
        e for e in events
        if start <= e.event_time_ms < end and e.liquidated_side == "long"
        and e.notional_usd >= 20_000
    ]  # fmt: skip
    assert [record_key(r) for r in got] == [keyset(e) for e in expected]  # stored order = id order
    assert len({r["id"] for r in got}) == len(got) > 100


def test_a_ten_year_range_with_a_small_limit_is_quick_and_reads_only_the_page(
    ten_years, monkeypatch
):
    client, service, events = ten_years
    store = service.history.store
    reads: list[tuple[int, int]] = []
    query = store.query_liquidations

    def spy(*args, **kwargs):
        rows = query(*args, **kwargs)
        reads.append((kwargs["limit"], len(rows)))
        return rows

    monkeypatch.setattr(store, "query_liquidations", spy)
    url = f"/api/liquidations/BTCUSDT?start=2000-01-01&end={T0}&limit=25"
    started = time.perf_counter()
    body = client.get(url).get_json()
    assert time.perf_counter() - started < 2.0  # generous: it reads 26 rows by index
    assert [record_key(r) for r in body["liquidations"]] == [keyset(e) for e in events[:25]]
    assert reads == [(26, 26)]
    every = pages(client, f"/api/liquidations/BTCUSDT?start=2000-01-01&end={T0}&limit=5000")
    assert [record_key(r) for r in every] == [keyset(e) for e in events]
    assert max(n for _, n in reads) <= 5001 and len(reads) == 1 + 4


def test_the_default_range_is_the_last_day_and_a_cursor_keeps_it(make_history_client):
    """Every 10 minutes over two days. Page 2 is asked for an hour later: its cursor still
    continues the first page's range, where re-applying the default would skip an hour."""
    events = [liq(T0 - 2 * DAY + i * 10 * MINUTE, i) for i in range(2 * 144)]
    client, _ = make_history_client(lambda store: store.write_batch(events))
    extensions = client.application.extensions
    extensions[EXTENSION] = dataclasses.replace(extensions[EXTENSION], clock_ms=lambda: T0)
    first = client.get("/api/liquidations/BTCUSDT?limit=3").get_json()
    assert (first["start"], first["end"]) == ("2025-12-31T00:00:00.000+00:00",
                                              "2026-01-01T00:00:00.000+00:00")  # fmt: skip
    day = [e for e in events if T0 - DAY <= e.event_time_ms < T0]
    assert [record_key(r) for r in first["liquidations"]] == [keyset(e) for e in day[:3]]
    extensions[EXTENSION] = dataclasses.replace(
        extensions[EXTENSION], clock_ms=lambda: T0 + 3_600_000
    )
    rest = pages(client, "/api/liquidations/BTCUSDT?limit=50", first["next_cursor"])
    assert [record_key(r) for r in rest] == [keyset(e) for e in day[3:]]


def test_a_cursor_belongs_to_its_query(history_client, stored):
    base = f"/api/liquidations/BTCUSDT?start={stored.past_ms - DAY}&end={stored.now_ms}"
    first = history_client.get(base + "&side=short&limit=2").get_json()
    cursor = first["next_cursor"]
    assert cursor is not None
    alone = history_client.get(f"/api/liquidations/BTCUSDT?cursor={cursor}&limit=2").get_json()
    repeated = history_client.get(f"{base}&side=short&limit=2&cursor={cursor}").get_json()
    assert alone == repeated and all(r["side"] == "short" for r in alone["liquidations"])
    assert alone["liquidations"][0]["id"] > first["liquidations"][-1]["id"]
    for other, word in [(f"{base}&side=long&cursor={cursor}", "side"),
                        (f"/api/liquidations/BTCUSDT?end=2026-01-01&cursor={cursor}", "end"),
                        (f"{base}&min_notional=5&cursor={cursor}", "min_notional"),
                        (f"/api/liquidations/ETHUSDT?cursor={cursor}", "symbol")]:  # fmt: skip
        response = history_client.get(other)
        assert response.status_code == 400 and word in response.get_json()["error"], other


def test_a_tampered_cursor_is_a_400(history_client, stored):
    url = f"/api/liquidations/BTCUSDT?start={stored.past_ms - DAY}&end={stored.now_ms}&limit=2"
    cursor = history_client.get(url).get_json()["next_cursor"]
    next_page = history_client.get(f"/api/liquidations/BTCUSDT?cursor={cursor}").get_json()
    for i in range(0, len(cursor) - 1, 3):  # the last character may only carry padding bits
        edited = cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1 :]
        response = history_client.get(f"/api/liquidations/BTCUSDT?cursor={edited}")
        assert response.status_code == 400, (i, edited)
        assert "not a cursor this server issued" in response.get_json()["error"]
    for broken in (cursor[:-4], cursor + "AAAA", cursor[:9] + "%2F" + cursor[10:], "x" * 600):
        assert history_client.get(f"/api/liquidations/BTCUSDT?cursor={broken}").status_code == 400
    assert next_page["success"] and next_page["count"] > 0


def test_1m_candles_and_open_interest_page_through_next_start(
    history_client, history_service, stored, follow
):
    store = history_service.history.store
    end = stored.now_ms + MINUTE
    candles = follow(
        history_client, f"/api/candles/BTCUSDT?limit=1000&start=2000-01-01&end={end}", "candles"
    )
    assert candles == [candle_record(c) for c in store.candles("BTCUSDT", "1m", 0, end, 10_000)]
    assert len(candles) == stored.candles
    points = follow(
        history_client,
        f"/api/open-interest/BTCUSDT?limit=100&start=2000-01-01&end={end}",
        "open_interest",
    )
    stored_oi = store.open_interest("BTCUSDT", "5m", 0, end, 10_000)
    assert [(p["time_ms"], p["open_interest"], p["open_interest_usd"]) for p in points] == [
        (o.time_ms, o.open_interest, o.open_interest_usd) for o in stored_oi
    ]
    assert len(points) == stored.open_interest


def aggregate(minutes: list[Candle], step_ms: int) -> list[dict]:
    """An independent aggregation: group 1m candles by their UTC-aligned bucket."""
    out = []
    for start, group in itertools.groupby(
        minutes, key=lambda c: c.open_time_ms // step_ms * step_ms
    ):
        group = list(group)
        out.append({
            "open_time_ms": start, "open": group[0].open, "high": max(c.high for c in group),
            "low": min(c.low for c in group), "close": group[-1].close,
            "volume": pytest.approx(sum(c.volume for c in group)),
            "quote_volume": pytest.approx(sum(c.quote_volume for c in group)),
            "taker_buy_volume": pytest.approx(sum(c.taker_buy_volume for c in group)),
            "trades": sum(c.trades for c in group),
        })  # fmt: skip
    return out


def _comparable(candle: dict) -> dict:
    return {k: v for k, v in candle.items() if k not in ("open_time", "closed")}


def test_hourly_candles_are_the_minutes_aggregated(history_client, history_service, stored, follow):
    end = stored.now_ms + MINUTE
    hours = follow(
        history_client,
        f"/api/candles/BTCUSDT?interval=1h&limit=7&start=2000-01-01&end={end}",
        "candles",
    )
    minutes = history_service.history.store.candles("BTCUSDT", "1m", 0, end, 10_000)
    assert [_comparable(h) for h in hours] == aggregate(minutes, 3_600_000)
    assert all(h["closed"] for h in hours[1:-1]) and len(hours) == 49


def test_long_candles_read_at_most_14_days_of_minutes_per_page(
    make_history_client, monkeypatch, follow
):
    """30 days of 1m candles from a midday: daily candles over a 10-year range come in pages of
    at most 14 days' minutes; a day the read cut short is rebuilt whole on the next page."""
    first = T0 + DAY // 2
    minutes = [Candle("binance", "BTCUSDT", "1m", first + m * MINUTE, first + m * MINUTE + 59_999,
                      100 + m % 50, 200 + m % 70, 50 - m % 30, 101 + m % 40, 1.0, 100.0, 0.5, 3)
               for m in range(30 * 1440)]  # fmt: skip
    client, service = make_history_client(lambda store: store.write_batch([], [], minutes, []))
    store = service.history.store
    counts: list[int] = []
    read = store.candles
    monkeypatch.setattr(store, "candles", lambda *a: counts.append(a[-1]) or read(*a))
    url = "/api/candles/BTCUSDT?interval=1d&limit=100&start=2000-01-01&end=9999-12-31"
    body = client.get(url).get_json()
    assert [c["open_time_ms"] for c in body["candles"]] == [T0 + d * DAY for d in range(14)]
    assert body["next_start_ms"] == T0 + 14 * DAY  # day 14 was cut: it starts the next page
    days = follow(client, url, "candles")
    assert [_comparable(d) for d in days] == aggregate(minutes, DAY)
    assert max(counts) == 20_160 + 1 and len(counts) == 1 + 3
