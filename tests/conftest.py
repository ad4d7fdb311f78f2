"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import FIXTURES


@pytest.fixture
def fixture_frame() -> Callable[[str], str]:
    def load(name: str) -> str:
        return (FIXTURES / "binance" / name).read_text().strip()

    return load
