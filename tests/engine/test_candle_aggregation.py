"""Candles merged into longer intervals: ``aggregate_table`` (columns) gives what
``aggregate_candles`` (objects) gives, and both what the definition says, worked out by hand."""

from __future__ import annotations

import random

import pytest

from heatmap_engine.candle_book import candle_row, rows_table
from heatmap_engine.candles import aggregate_candles, aggregate_table
from heatmap_engine.models import Candle

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000  # a whole hour
MIN = 60_000


def minute(i: int, o, h, low, c, volume, closed=True, short=0) -> Candle:
    t = T0 + i * MIN
    return Candle("binance", "BTCUSDT", "1m", t, t + MIN - 1 - short, o, h, low, c, volume,
                  volume * c, volume / 4, i + 1, closed)  # fmt: skip


def table(candles) -> list[tuple]:
    return aggregate_table(rows_table([candle_row(c) for c in candles]), "5m").tolist()


def test_five_minute_buckets_by_hand():
    ones = [
        minute(0, 10.0, 12.0, 9.0, 11.0, 0.1),
        minute(1, 11.0, 15.0, 10.0, 14.0, 0.2),
        minute(4, 14.0, 14.5, 8.0, 9.0, 0.7, closed=False),  # the bucket's last, still forming
        minute(5, 9.0, 9.5, 8.5, 9.25, 1.0),
        minute(9, 9.25, 10.0, 9.0, 9.5, 3.0),
    ]
    five = 5 * MIN
    volume = (0.1 + 0.2) + 0.7  # left to right, as floats add
    quote = (0.1 * 11.0 + 0.2 * 14.0) + 0.7 * 9.0
    taker = (0.1 / 4 + 0.2 / 4) + 0.7 / 4
    assert table(ones) == [
        (T0, T0 + five - 1, 10.0, 15.0, 8.0, 9.0, volume, quote, taker, 1 + 2 + 5, False),
        (T0 + five, T0 + 2 * five - 1, 9.0, 10.0, 8.5, 9.5, 4.0, 9.25 + 28.5, 1.0, 16, True),
    ]
    # a bucket whose last minute ends early is not closed; nothing in, nothing out
    assert table([minute(0, 1.0, 1.0, 1.0, 1.0, 1.0, short=5)])[0][-1] is False
    assert table([]) == []


@pytest.mark.parametrize("interval", ["1m", "3m", "5m", "15m", "1h", "4h"])
def test_the_table_equals_the_objects_to_the_last_bit(interval):
    rng = random.Random(interval)
    ones, t = [], T0
    for _ in range(2_000):
        t += MIN * rng.choice([1, 1, 1, 2, 9])  # with holes
        o = rng.uniform(1.0, 2.0)
        ones.append(Candle("binance", "X", "1m", t, t + MIN - 1 - rng.choice([0, 0, 7]), o,
                           o + rng.random(), o - rng.random(), o + 0.1, rng.random() * 1e3,
                           rng.random() * 1e6, rng.random(), rng.randint(0, 99),
                           rng.random() < 0.9))  # fmt: skip
    expected = [candle_row(c) for c in aggregate_candles(ones, interval)]
    got = aggregate_table(rows_table([candle_row(c) for c in ones]), interval).tolist()
    assert got == expected
