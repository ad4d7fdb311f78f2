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


_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Nothing in the tests may reach beyond loopback: any other address fails loudly."""
    import socket

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not host.startswith(_LOOPBACK) and not host.startswith("/"):
            raise AssertionError(f"test tried to reach {address!r} beyond loopback")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
