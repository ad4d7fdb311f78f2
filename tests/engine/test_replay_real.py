"""Real Binance liquidations (shared/data/real/binance-liq-moondev-recordings) replayed as frames.

The recordings are CSV rows of the forceOrder ``o`` object with ``USDT`` stripped from the symbol
(see that folder's README). The test rebuilds each row into the wire frame Binance sent, replays
the frames through the real parser and engine with ``ReplaySource``, and checks side mapping,
notional and duplicate handling against values computed here, independently, with Decimal.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation

import orjson
import pytest
from helpers import real_data_dir

from heatmap_engine.config import Settings
from heatmap_engine.engine import Engine
from heatmap_engine.exchanges import binance
from heatmap_engine.recording import ReplaySource

FILES = [
    "alejandro_2024-06_liquidations.csv",
    "bandsthobaby_2024-08_liquidations.csv",
    "paulius_2025-01_liquidations.csv",
    "neoparth_2025-06_liquidations_a.csv",
    "riftfern_2025-12_liquidations.csv",
]


def read_rows(name: str) -> tuple[list[list[str]], int]:
    """Rows with 12 or 13 columns and an integer trade time; counts the junk lines skipped."""
    rows, junk = [], 0
    with (real_data_dir("binance-liq-moondev-recordings") / name).open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) in (12, 13) and row[10].strip().isdigit():
                rows.append([c.strip() for c in row])
            else:
                junk += 1
    rows.sort(key=lambda r: int(r[10]))
    return rows, junk


def contract(symbol: str) -> str:
    return symbol if symbol.endswith(("USDC", "USDT")) else symbol + "USDT"


def to_frame(row: list[str]) -> str:
    sym, side, otype, tif, q, p, ap, status, last, z, t = row[:11]
    order = {"s": contract(sym), "S": side, "o": otype, "f": tif, "q": q, "p": p}
    if ap != "None":
        order["ap"] = ap
    order.update({"X": status, "l": last, "z": z, "T": int(t)})
    return orjson.dumps(
        {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": int(t) + 7, "o": order}}
    ).decode()


def expected_totals(rows):
    """Independent reading: unique orders, side by SELL/BUY, notional = z * (ap or p)."""
    seen, totals, bad = set(), defaultdict(lambda: [0, Decimal(0)]), 0
    dupes = 0
    for row in rows:
        sym = contract(row[0])
        if not sym.replace("_", "").isalnum() or not sym.isupper():
            bad += 1
            continue
        key = (sym, row[1], row[9], row[6] if row[6] != "None" else row[5], row[10])
        if key in seen:
            dupes += 1
            continue
        seen.add(key)
        try:
            price = Decimal(row[6]) if row[6] not in ("None", "0") else Decimal(row[5])
        except InvalidOperation:
            price = Decimal(row[5])
        side = {"SELL": "long", "BUY": "short"}[row[1]]
        totals[side][0] += 1
        totals[side][1] += Decimal(row[9]) * price
    return totals, dupes, bad


@pytest.mark.parametrize("name", FILES)
def test_replay_matches_an_independent_reading(name):
    rows, _junk = read_rows(name)
    assert rows, "recording is empty"
    engine = Engine(Settings.from_env({"HEATMAP_SYMBOLS": "all"}), event_time=True)
    source = ReplaySource(
        lambda: ((int(r[10]) + 50, to_frame(r)) for r in rows), binance.ADAPTER, engine.process
    )
    source.run()
    status, expected = engine.status(), expected_totals(rows)
    totals, dupes, bad = expected
    for side in ("long", "short"):
        assert status["by_side"][side]["count"] == totals[side][0]
        assert status["by_side"][side]["notional_usd"] == pytest.approx(
            float(totals[side][1]), rel=1e-9
        )
    assert status["duplicates"] == dupes
    assert source.status()["parse_errors"] == ({"bad_symbol": bad} if bad else {})
    assert source.status()["frames"] == len(rows)


def test_paulius_duplicates_are_counted_once():
    rows, _ = read_rows("paulius_2025-01_liquidations.csv")
    # column 11 is the logger's own usd_size (written twice at two scales), not wire data
    exact = Counter(tuple(r[:11]) for r in rows)
    engine = Engine(Settings.from_env({"HEATMAP_SYMBOLS": "all"}), event_time=True)
    ReplaySource(
        lambda: ((int(r[10]), to_frame(r)) for r in rows), binance.ADAPTER, engine.process
    ).run()
    assert engine.status()["liquidations"] == len(exact)
    assert engine.status()["duplicates"] == sum(n - 1 for n in exact.values())
    assert engine.status()["duplicates"] > 1000  # the README reports 1,668 duplicate rows


def test_replayed_clusters_hold_only_recorded_events():
    rows, _ = read_rows("paulius_2025-01_liquidations.csv")
    engine = Engine(
        Settings.from_env({"HEATMAP_SYMBOLS": "all", "HEATMAP_MIN_CLUSTER_SIZE": "3"}),
        event_time=True,
    )
    ReplaySource(
        lambda: ((int(r[10]), to_frame(r)) for r in rows), binance.ADAPTER, engine.process
    ).run()
    engine.refresh()
    now = engine.now_ms()
    clusters = [(s, c) for s, snap in engine.snapshots().items() for c in snap.clusters]
    assert clusters, "a 30-minute cascade window must produce clusters"
    for symbol, cluster in clusters:
        members = {
            (int(r[10]), r[1]) for r in rows
            if contract(r[0]) == symbol and now - int(r[10]) < 3_600_000
            and cluster.price_low <= float(r[6] if r[6] != "None" else r[5]) < cluster.price_high
            and {"SELL": "long", "BUY": "short"}[r[1]] == cluster.side
        }  # fmt: skip
        assert len(members) >= cluster.liquidation_count >= 3


@pytest.mark.parametrize("name", FILES)
def test_real_liquidations_parse_alike_cold_and_warm(name):
    rows, _ = read_rows(name)
    binance._MARK_SYMBOLS.clear()  # the parser's symbol memory: empty, so every frame
    binance._USDM_SYMBOLS.clear()  # goes through the checked path the first time
    frames = [(int(r[10]) + 50, to_frame(r)) for r in rows]
    cold = [binance.parse(raw, at) for at, raw in frames]
    assert binance._USDM_SYMBOLS, "the checked path taught the fast path no symbol"
    warm = [binance.parse(raw, at) for at, raw in frames]
    for c, w in zip(cold, warm, strict=True):
        assert (w.events, w.errors) == (c.events, c.errors)
    assert sum(len(c.events) for c in cold) > len(rows) / 2
