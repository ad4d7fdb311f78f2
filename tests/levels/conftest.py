"""Factories for the estimated-levels tests: settings, layouts, books and synthetic markets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from levels.support import T0

from heatmap_engine.levels import LevelsBook, LevelsSettings, load_brackets
from heatmap_engine.levels.layout import Layout
from heatmap_engine.levels.model import symbol_layout


@pytest.fixture
def settings_for() -> Callable[..., LevelsSettings]:
    def make(**fields) -> LevelsSettings:
        return LevelsSettings.from_env({}, **fields)

    return make


@pytest.fixture
def layout_for(settings_for) -> Callable[..., Layout]:
    def make(symbol: str = "BTCUSDT", **fields) -> Layout:
        return symbol_layout(settings_for(**fields), symbol, load_brackets())[0]

    return make


@pytest.fixture
def book_for(layout_for) -> Callable[..., LevelsBook]:
    """A book seeded with ``seed_contracts`` at ``T0`` and price ``price``."""

    def make(
        price: float = 100_000.0, seed_contracts: float = 0.0, gap_minutes: float = 360.0, **fields
    ) -> LevelsBook:
        book = LevelsBook(layout_for(**fields), gap_minutes * 60_000.0)
        book.add_open_interest(T0, seed_contracts, price)
        return book

    return make
