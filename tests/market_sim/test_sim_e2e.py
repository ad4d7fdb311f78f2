"""End to end: the demo market on loopback and the real product engine in demo mode.

Every liquidation in the engine's clusters must have been emitted by the simulator: the engine
counts exactly the frames the simulator published, and no cluster holds more liquidations than
the truth's sampled ones in its price cell, side and symbol.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from heatmap_engine.clusters import CELL_OFFSET, cell_index
from heatmap_engine.config import Settings
from heatmap_engine.service import HeatmapService
from market_sim.demo import DemoMarket, start_demo_market
from market_sim.hub import wait_until

WINDOW_PCT = 0.02


@pytest.fixture
def demo() -> Iterator[DemoMarket]:
    market = start_demo_market(seed=7, speed=60, prefill_minutes=20)
    try:
        yield market
    finally:
        market.stop()


@pytest.fixture
def service(demo: DemoMarket, tmp_path: Path) -> Iterator[HeatmapService]:
    env = {
        "HEATMAP_BINANCE_WS_URL": demo.ws_market_base,
        "HEATMAP_BINANCE_REST_URL": demo.rest_base,
        "HEATMAP_UPDATE_INTERVAL": "0.1",
        "HEATMAP_MIN_CLUSTER_SIZE": "3",
        # the history store (on by default) gets a fresh folder: simulated liquidations must
        # never mix with a stored real history, nor a stored history into this check
        "HEATMAP_DATA_DIR": str(tmp_path),
    }
    svc = HeatmapService(Settings.from_env(env), mode="demo", event_time=True).start()
    try:
        yield svc
    finally:
        assert svc.stop(5.0), "service threads did not stop"


def clusters(svc: HeatmapService) -> list[tuple[str, object]]:
    return [(symbol, c) for symbol, snap in svc.snapshots().items() for c in snap.clusters]


def sampled_truth(demo: DemoMarket, symbol: str) -> list[dict]:
    query = {"symbol": symbol, "sampled": "1"}
    body = requests.get(f"{demo.rest_base}/sim/truth/liquidations", params=query, timeout=5)
    return body.json()["liquidations"]


def test_demo_market_feeds_the_real_engine_only_what_it_emitted(
    demo: DemoMarket, service: HeatmapService
) -> None:
    assert wait_until(lambda: clusters(service), 10.0), "no clusters within 10 s"
    assert service.status()["state"] == "demo"
    demo.runner.stop()  # freeze the market: every published frame is now on its way
    published = demo.market.published_force_orders
    assert published > 0 and demo.runner.missed == 0

    def engine_total() -> int:
        return service.status()["engine"]["liquidations"]

    assert wait_until(lambda: engine_total() == published, 10.0), (engine_total(), published)
    assert demo.sim.truth.sampled == published < demo.sim.truth.total
    skipped = service.status()["engine"]["skipped"].get("coin_margined", {}).get("count", 0)
    assert skipped == demo.market.published_coin_margined
    assert service.status()["engine"]["duplicates"] == 0

    found = clusters(service)
    assert found
    for symbol, cluster in found:
        cell = cluster.cluster_id // 2 - CELL_OFFSET
        records = [r for r in sampled_truth(demo, symbol) if r["liquidated_side"] == cluster.side]
        prices = np.array([float(r["price"]) for r in records])
        in_cell = int((cell_index(prices, WINDOW_PCT) == cell).sum()) if len(prices) else 0
        assert cluster.liquidation_count <= in_cell, (symbol, cluster)
        assert cluster.price_low <= cluster.price_level < cluster.price_high
