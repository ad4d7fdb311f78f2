"""``LevelsTracker`` over a real SQLite store and a published-candles tuple like the engine's:
which candles count as closed, seeding, a young book built again once the store reaches back,
and readings that arrive before any price."""

from __future__ import annotations

import math

import numpy as np
import pytest
from levels.support import DAY_T0, MINUTE, fill_store

from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.levels import LevelsSettings, load_brackets
from heatmap_engine.levels.layout import placements
from heatmap_engine.levels.model import symbol_layout
from heatmap_engine.levels.tracker import LevelsTracker
from heatmap_engine.models import Candle, OpenInterest

HOUR = 60 * MINUTE


def candle(t: int, price: float = 100.0, closed: bool = True) -> Candle:
    return Candle("binance", "BTCUSDT", "1m", t, t + MINUTE - 1, price, price * 1.001,
                  price * 0.999, price, 10.0, 10.0 * price, 5.0, 10, closed)  # fmt: skip


class Wall:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "h.sqlite3")
    yield store
    store.close()


def make(published: dict, store=None, wall=None) -> LevelsTracker:
    return LevelsTracker(LevelsSettings.from_env({}), load_brackets(),
                         lambda s: published.get(s, ()), lambda: store,
                         wall or Wall())  # fmt: skip


def test_a_candle_counts_once_closed_or_once_the_next_one_opened():
    t = DAY_T0
    published = {"BTCUSDT": (candle(t), candle(t + MINUTE, closed=False))}
    tracker = make(published)  # no store: the book starts at the first polled reading
    tracker.add_reading(OpenInterest("binance", "BTCUSDT", t - MINUTE, 1_000.0))
    tracker.tick(["BTCUSDT"])
    assert tracker.bars_fed == 1  # the open candle waits
    published["BTCUSDT"] = (candle(t), candle(t + MINUTE, closed=False),
                            candle(t + 2 * MINUTE, closed=False))  # fmt: skip
    tracker.tick(["BTCUSDT"])
    assert tracker.bars_fed == 2  # a later candle opened: the previous one is closed
    tracker.tick(["BTCUSDT"])
    assert tracker.bars_fed == 2  # nothing new, nothing fed again
    snapshot = tracker.snapshot("BTCUSDT")
    assert snapshot.time_ms == t + 2 * MINUTE and snapshot.pending_bars == 2


def test_a_reading_before_any_price_waits_for_the_first_candle():
    published: dict = {}
    tracker = make(published)
    tracker.add_reading(OpenInterest("binance", "BTCUSDT", DAY_T0, 1_000.0))
    tracker.tick(["BTCUSDT"])
    assert tracker.readings_fed == 0 and tracker.snapshot("BTCUSDT") is None
    published["BTCUSDT"] = (candle(DAY_T0 - MINUTE), candle(DAY_T0 + MINUTE, closed=False))
    tracker.tick(["BTCUSDT"])
    assert tracker.readings_fed == 1
    assert tracker.unknown_share("BTCUSDT") == 1.0  # the first reading: all at unknown levels


def test_a_young_book_is_built_again_once_the_store_reaches_back(store):
    start = DAY_T0 + 3 * 24 * HOUR
    fill_store(store, "BTCUSDT", 30, start=start)  # the live stream's first half hour
    wall = Wall()
    tracker = make({}, store, wall)
    tracker.tick(["BTCUSDT"])
    young = tracker.snapshot("BTCUSDT")
    assert young is not None and young.unknown_share > 0.9  # a book of half an hour
    fill_store(store, "BTCUSDT", 3 * 1440, start=DAY_T0, seed=2)  # the backfill arrives
    tracker.tick(["BTCUSDT"])
    assert tracker.unknown_share("BTCUSDT") > 0.9  # asked again only a minute later
    wall.ms += 60_000
    version = tracker.version("BTCUSDT")
    tracker.tick(["BTCUSDT"])
    assert tracker.version("BTCUSDT") != version
    assert tracker.unknown_share("BTCUSDT") < 0.5  # two days of warm-up placed most of it


def test_a_seeded_book_keeps_only_its_pending_bars_placements(store):
    """Bars after the store's newest reading wait in the book for the next one; their
    placements (computed for the whole warm-up at once) are their own small arrays holding
    the cells a placement of those bars alone holds, so the book does not keep the warm-up's
    chunk of placements alive."""
    fill_store(store, "BTCUSDT", 1443)  # readings every 5 min to minute 1440, bars to 1442
    tracker = make({}, store)
    tracker.tick(["BTCUSDT"])
    book = tracker._books["BTCUSDT"].book
    waiting = book.pending
    assert [bar.open_ms for bar, _ in waiting] == [DAY_T0 + m * MINUTE for m in (1440, 1441, 1442)]
    lows, highs = (np.array([getattr(bar, k) for bar, _ in waiting]) for k in ("low", "high"))
    for (_, placed), alone in zip(waiting, placements(book.layout, lows, highs), strict=True):
        chunk = placed.chunk  # its own cells: one row, arrays that are no other's views
        assert len(chunk.start) == 1 and all(column.base is None for column in chunk)
        used = placed.share != 0  # a chunk's placements are as wide as its widest bar's
        assert np.array_equal(placed.buckets[used], alone.buckets[alone.share != 0])
        assert np.array_equal(placed.share[used], alone.share[alone.share != 0])
        assert placed.ends == alone.ends
        assert placed.long_usd == pytest.approx(alone.long_usd, rel=1e-12)


def test_every_layout_shares_one_array_of_offsets_and_ratios():
    settings, table = LevelsSettings.from_env({}), load_brackets()
    a, _ = symbol_layout(settings, "BTCUSDT", table)
    b, _ = symbol_layout(settings, "ETHUSDT", table)
    assert a is not b and a.offsets is b.offsets and a.ratios is b.ratios
    assert a.offsets.tolist() == list(range(len(a.offsets)))
    assert not a.ratios.flags.writeable
    assert np.allclose(a.ratios, [math.exp(i * a.g) for i in range(len(a.offsets))], rtol=1e-15)
