"""The view state and its URL form; the symbol search's aliases against the real resolver."""

from __future__ import annotations

import pytest

from dashboard.state import (
    DISTANCE_BOUNDS,
    LAYERS,
    LEVELS_RANGES,
    RANGES,
    VIEWS,
    ViewState,
    default_symbol,
    parse_query,
    symbol_aliases,
    symbol_options,
    to_query,
    with_controls,
)
from heatmap_engine.symbols import DEFAULT_SYMBOLS, SymbolResolver

RESOLVER = SymbolResolver(DEFAULT_SYMBOLS)


def parse(search: str | None) -> tuple[ViewState, str | None]:
    return parse_query(search, RESOLVER.resolve, "BTCUSDT")


def test_the_issue_example_round_trips():
    state, notice = parse("?symbol=ETHUSDT&min_strength=0.4")
    assert notice is None
    assert state == ViewState("ETHUSDT", min_strength=0.4)
    assert to_query(state) == "?symbol=ETHUSDT&min_strength=0.4"


@pytest.mark.parametrize("typed", ["pepe", "PEPEUSDT", "1000pepeusdt", "pepe/usdt"])
def test_a_typed_symbol_in_the_url_resolves_to_the_contract(typed):
    state, notice = parse(f"?symbol={typed}")
    assert (state.symbol, notice) == ("1000PEPEUSDT", None)
    assert to_query(state) == "?symbol=1000PEPEUSDT"


def test_every_parameter_round_trips_and_defaults_are_left_out():
    state = ViewState("SOLUSDT", 0.25, 2.5, "timeline", "24h", 2)
    assert parse(to_query(state))[0] == state
    assert to_query(ViewState("SOLUSDT")) == "?symbol=SOLUSDT"
    assert parse("")[0] == parse(None)[0] == ViewState("BTCUSDT")


def test_bad_values_fall_back_or_are_clamped():
    state, notice = parse(
        "?symbol=NOPE&min_strength=7&max_distance=nan&view=candles&range=2y&refresh=0"
    )
    assert state == ViewState("BTCUSDT", min_strength=1.0, refresh=1)
    assert "NOPE" in notice and "BTCUSDT" in notice
    assert parse("?max_distance=-3&min_strength=abc")[0].max_distance == DISTANCE_BOUNDS[0]
    assert parse("?min_strength=0.333")[0].min_strength == 0.35  # snapped to the 0.05 step


def test_controls_change_the_state_and_empty_values_keep_it():
    state = ViewState("BTCUSDT", 0.2, 5.0, "map", "4h")
    assert with_controls(state, None, None, None, None, None) == state
    moved = with_controls(state, "ETHUSDT", 0.5, 12.0, "table", "12h")
    assert moved == ViewState("ETHUSDT", 0.5, 12.0, "table", "12h")
    assert with_controls(state, None, None, None, "nope", "9y") == state


def test_state_survives_the_store_as_a_dict():
    state = ViewState("ETHUSDT", 0.4, 3.0, "timeline", "4h", 10)
    assert ViewState.from_dict(state.to_dict()) == state
    assert state.range_ms == RANGES["4h"][0] and state.interval == "3m"


def test_views_and_ranges_are_the_ones_offered():
    assert list(VIEWS) == ["estimated", "heatmap", "timeline", "map", "table"]
    assert ViewState("BTCUSDT").view == "estimated"  # the first view is the default
    assert VIEWS["estimated"] == "Heatmap (estimated)"
    assert all(VIEWS[v].startswith("Realized") for v in ("heatmap", "timeline"))
    assert set(LAYERS) == set(VIEWS)
    assert LAYERS["estimated"].startswith("Estimated layer")
    assert list(RANGES)[:4] == ["1h", "4h", "12h", "24h"]
    assert LEVELS_RANGES == ("12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y")


def test_the_estimated_view_choices_travel_in_the_url():
    state, _ = parse_query(
        "?symbol=BTCUSDT&levels_range=30d&preset=high&threshold=12&overlay=bands,dots",
        RESOLVER.resolve,
        "BTCUSDT",
    )
    assert (state.levels_range, state.preset, state.threshold) == ("30d", "high", 12.0)
    assert state.overlays == ["dots", "bands"]  # in the options' own order
    query = to_query(state)
    assert "levels_range=30d" in query and "preset=high" in query and "threshold=12" in query
    assert parse_query(query, RESOLVER.resolve, "BTCUSDT")[0] == state
    bad, _ = parse_query("?levels_range=9y&preset=mega&threshold=-4&overlay=x", RESOLVER.resolve,
                         "BTCUSDT")  # fmt: skip
    assert (bad.levels_range, bad.preset, bad.threshold, bad.overlay) == ("24h", "all", 0.0, "")
    moved = with_controls(state, None, None, None, None, None, "7d", "low", 30, [])
    assert (moved.levels_range, moved.preset, moved.threshold, moved.overlay) == (
        "7d", "low", 30.0, "")  # fmt: skip


def test_default_symbol_prefers_btc():
    assert default_symbol(["ETHUSDT", "BTCUSDT"]) == "BTCUSDT"
    assert default_symbol(["ETHUSDT", "SOLUSDT"]) == "ETHUSDT"
    assert default_symbol([]) == "BTCUSDT"


@pytest.mark.parametrize("contract", DEFAULT_SYMBOLS)
def test_every_search_alias_of_a_contract_resolves_to_it(contract):
    """The dropdown filters on these words in the browser; the resolver must agree."""
    for word in symbol_aliases(contract).split():
        assert RESOLVER.resolve(word) == contract, word


def test_options_carry_their_aliases():
    option = {o["value"]: o for o in symbol_options(DEFAULT_SYMBOLS)}["1000PEPEUSDT"]
    assert option["label"] == "1000PEPEUSDT"
    assert {"PEPE", "PEPEUSDT", "PEPE/USDT", "1000PEPE"} <= set(option["search"].split())


def test_stored_liquidations_read_by_hours_equal_one_read(tmp_path):
    """The dashboard caches complete past hours; what it returns must equal one plain read."""
    import time as _time
    from types import SimpleNamespace

    from callbacks import sources
    from heatmap_engine.history.sqlite_store import SqliteStore
    from heatmap_engine.models import Liquidation

    store = SqliteStore(tmp_path / "h.sqlite3")
    now = _time.time_ns() // 1_000_000
    events = [
        Liquidation("binance", "BTCUSDT", "long" if i % 2 else "short", 100.0 + i % 50, 1.0 + i,
                    (100.0 + i % 50) * (1.0 + i), now - i * 61_000, now)
        for i in range(1500)
    ]  # fmt: skip
    store.write_batch(events)
    service = SimpleNamespace(history=SimpleNamespace(store=store))
    for hours in (1, 4, 24):
        start, end = now - hours * 3_600_000 + 12_345, now
        for _ in range(2):  # the second read comes from the cache
            got = sources.liquidations(service, "BTCUSDT", start, end)
            want = [e for e in sorted(events, key=lambda e: e.event_time_ms)
                    if start <= e.event_time_ms <= end]  # fmt: skip
            assert list(got.times) == [e.event_time_ms for e in want]
            assert list(got.notionals) == [e.notional_usd for e in want]
    store.close()
