"""A restart answers at once and says "rebuilding" while the stored day of candles is loaded.

The engine thread is held (a command queued before start waits on a gate), so the candle load
cannot finish until the test lets it: the API must answer, healthy, with history "rebuilding",
and then "ready" with every stored candle of the day before the start's minute in memory.
"""

from __future__ import annotations

import threading

import pytest
from binance_frames import mark_price
from helpers import wait_until

from api.settings import ApiSettings
from app import create_app
from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.models import Candle, Liquidation
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

pytestmark = pytest.mark.slow
SYMBOLS = ("BTCUSDT", "ETHUSDT")
MINUTE = 60_000


def stored_day(path, now: int) -> dict[str, list[int]]:
    """Two days of candles per symbol and liquidations in and before the window; returns the
    open times the engine should hold: the last three hours before the start's minute (the
    page reads older ones from the store)."""
    store = SqliteStore(path)
    this_minute = now - now % MINUTE
    expected = {}
    for n, symbol in enumerate(SYMBOLS):
        opens = [this_minute - i * MINUTE for i in range(2 * 1440, 0, -1)]
        candles = [Candle("binance", symbol, "1m", t, t + MINUTE - 1, 10.0 + n, 11.0 + n,
                          9.0 + n, 10.5 + n, 1.0, 10.0, 0.5, 3) for t in opens]  # fmt: skip
        liqs = [Liquidation("binance", symbol, "long", 9.0 + n, 1.0, 9.0 + n, now - i * 600_000,
                            now) for i in range(12)]  # fmt: skip
        store.write_batch(liqs, candles=candles)
        expected[symbol] = opens[-3 * 60 :]
    store.close()
    return expected


def test_restart_serves_while_rebuilding_then_holds_the_stored_hours(tmp_path):
    now = wall_clock_ms()
    expected = stored_day(tmp_path / "heatmap.sqlite3", now)
    with FakeBinance() as fake:
        settings = Settings.from_env({
            "HEATMAP_SYMBOLS": ",".join(SYMBOLS), "HEATMAP_DATA_DIR": str(tmp_path),
            "HEATMAP_BINANCE_WS_URL": fake.ws_market_base,
            "HEATMAP_BINANCE_REST_URL": fake.rest_base, "HEATMAP_BACKFILL": "0",
            "HEATMAP_KLINE_STREAMS": "0", "HEATMAP_FEED_SILENCE_SECONDS": "600",
        })  # fmt: skip
        service = HeatmapService(settings)
        gate = threading.Event()
        service.call_in_engine(lambda: gate.wait(30))  # the engine's first item: held
        service.start()
        try:
            app = create_app(settings, service, start_engine=False,
                             api_settings=ApiSettings.from_env({}))  # fmt: skip
            client = app.server.test_client()
            # the liquidation window (the decay window: the last hour's 6 of 12) is rebuilt
            # before start returns
            assert service.status()["history"]["restored_on_start"] == 2 * 6
            rebuild = lambda: service.status()["history"]["candles_rebuild"]  # noqa: E731
            wait_until(lambda: rebuild()["symbols_done"] == len(SYMBOLS))
            assert fake.wait_for_subscribers("!markPrice@arr@1s")

            def healthy():  # frames until the feed is live
                fake.publish("!markPrice@arr@1s", [mark_price("BTCUSDT", 10.0, wall_clock_ms())])
                return service.feed_state() == "live"

            wait_until(healthy)
            health = client.get("/api/health")
            assert health.status_code == 200, health.json
            assert health.json["history"] == "rebuilding"
            stats = client.get("/api/stats").json
            assert stats["history_state"] == "rebuilding"
            assert service.engine.state.recent_candles("BTCUSDT") == ()
            gate.set()
            wait_until(lambda: client.get("/api/health").json.get("history") == "ready")
            assert client.get("/api/stats").json["history"]["state"] == "ready"
            for symbol in SYMBOLS:
                wait_until(lambda s=symbol: len(service.engine.state.recent_candles(s)) == 180)
                held = service.engine.state.recent_candles(symbol)
                assert [c.open_time_ms for c in held] == expected[symbol]
            assert rebuild()["candles"] == 2 * 180
        finally:
            gate.set()
            assert service.stop(5.0)
