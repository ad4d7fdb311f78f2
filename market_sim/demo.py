"""An offline demo market: the simulated market behind the fake Binance, on loopback.

    demo = start_demo_market(speed=60)  # an hour of market per minute, a day prefilled
    ... point HEATMAP_BINANCE_WS_URL / HEATMAP_BINANCE_REST_URL at demo.ws_market_base /
    demo.rest_base ...
    demo.stop()

`python -m market_sim.demo --port 9000 --speed 60 --prefill-minutes 1440` prints the two base URLs
and serves until Ctrl-C. Nothing starts at import.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from market_sim.fake_binance import FakeBinance
from market_sim.sim.market import MarketSimulation
from market_sim.sim.params import SimConfig
from market_sim.sim.runner import MarketRunner
from market_sim.sim.source import SimulatedMarket
from market_sim.universe import NAMED_SYMBOLS

logger = logging.getLogger(__name__)
DEFAULT_PREFILL_MINUTES = 24 * 60.0  # fully simulated history before the live market
DEFAULT_HISTORY_DAYS = 30.0  # REST history in all (the older part on a cheaper path)


@dataclass
class DemoMarket:
    """A running demo: the fake server, the simulation and the runner that drives it."""

    fake: FakeBinance
    market: SimulatedMarket
    runner: MarketRunner

    @property
    def ws_market_base(self) -> str:
        """`ws://127.0.0.1:PORT/market`, for `HEATMAP_BINANCE_WS_URL`."""
        return self.fake.ws_market_base

    @property
    def rest_base(self) -> str:
        """`http://127.0.0.1:PORT`, for `HEATMAP_BINANCE_REST_URL`."""
        return self.fake.rest_base

    @property
    def sim(self) -> MarketSimulation:
        return self.market.sim

    @property
    def history_days(self) -> float:
        """How many days of REST history (klines, open interest) the market serves."""
        first = self.market.view.first_minute_ms
        return (self.sim.now_ms - first) / 86_400_000

    def clock_ms(self) -> int:
        """The market's simulated clock (epoch ms): "now" for whoever reads it."""
        return self.sim.now_ms

    def follow(self, lag_seconds: Callable[[], float | None], max_lead_seconds: float) -> None:
        """Keep the market at most `max_lead_seconds` of simulated time ahead of a consumer's
        data (`MarketRunner.follow`), e.g. the product's `HeatmapService.feed_lag_seconds`."""
        self.runner.follow(lag_seconds, max_lead_seconds)

    def stats(self) -> dict[str, object]:
        """The runner's pace and what the fake's bounded queues did (see market_sim.hub)."""
        fake = self.fake.stats()
        keys = ("frames_dropped", "slow_consumer_closes", "publish_waits",
                "publish_wait_seconds", "queued_frames_max")  # fmt: skip
        return {**self.runner.stats(), **{key: fake[key] for key in keys}}

    def export_truth(self, path: str | Path) -> int:
        """Every liquidation and the open book as JSON lines (see docs/simulator.md)."""
        return self.market.export_truth(path)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the simulation thread, then the server (idempotent)."""
        try:
            self.runner.stop(timeout)
        finally:
            self.fake.stop(timeout)


def _prefilled(config: SimConfig, speed: float, live_start: int, catch_up: bool) -> MarketRunner:
    """A runner whose market has simulated everything before `live_start` (and, with
    `catch_up`, the wall-clock time the prefill itself took)."""
    started = time.monotonic()
    runner = MarketRunner(SimulatedMarket(MarketSimulation(config)), speed)
    built = time.monotonic()
    runner.prefill_until(live_start)
    if catch_up:
        runner.prefill_until(int(time.time() * 1000))
    done = time.monotonic()
    runner.prefill_seconds = done - started
    logger.info(
        "demo market: %.1f h of %d symbols simulated in %.1f s, %.0f days of older history "
        "drawn in %.1f s", (runner.sim.now_ms - config.start_ms) / 3_600_000,
        len(config.symbols), done - built, config.older_days, built - started,
    )  # fmt: skip
    return runner


def start_demo_market(
    seed: int = 7,
    speed: float = 1.0,
    prefill_minutes: float = DEFAULT_PREFILL_MINUTES,
    symbols: Sequence[str] | None = None,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    start_ms: int | None = None,
    history_days: float = DEFAULT_HISTORY_DAYS,
    **options: float,
) -> DemoMarket:
    """Simulate `prefill_minutes` of full history (at least, from a 5-minute boundary), with
    `history_days` in all of cheaper older history before it, then serve it live at `speed`.

    The market starts at `start_ms` (default: now) with the prefilled history before it; with
    the default start and `speed >= 1`, the time the prefill took is simulated too, so sim time
    starts level with the wall clock. `options` go to `SimConfig` (e.g. `vol_scale`).
    """
    if prefill_minutes < 0 or history_days < 0:
        raise ValueError("prefill_minutes and history_days must be >= 0")
    live_start = int(time.time() * 1000) if start_ms is None else start_ms
    full_start = live_start - int(prefill_minutes * 60_000)
    full_start -= full_start % 300_000  # whole candles and open-interest periods
    older_days = max(0.0, history_days - (live_start - full_start) / 86_400_000)
    config = SimConfig(
        symbols=tuple(s.upper() for s in symbols) if symbols else NAMED_SYMBOLS, seed=seed,
        start_ms=full_start, older_days=older_days, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    runner = _prefilled(config, speed, live_start, catch_up=start_ms is None and speed >= 1)
    market = runner.market
    fake = FakeBinance(symbols=list(config.symbols), host=host, port=port, clock=market.clock)
    fake.attach_market(market)
    fake.start()
    try:
        runner.start(fake)
    except BaseException:
        fake.stop()
        raise
    return DemoMarket(fake, market, runner)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: serve a demo market in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Simulated Binance USDⓈ-M market on loopback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--speed", type=float, default=1.0, help="sim seconds per wall second")
    parser.add_argument("--prefill-minutes", type=float, default=DEFAULT_PREFILL_MINUTES)
    parser.add_argument("--history-days", type=float, default=DEFAULT_HISTORY_DAYS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--symbols", default="", help="comma list (default: the 28 named)")
    parser.add_argument("--truth-file", default="", help="write the truth here on exit (JSONL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] or None
    demo = start_demo_market(
        args.seed, args.speed, args.prefill_minutes, symbols, args.port, host=args.host,
        history_days=args.history_days,
    )  # fmt: skip
    print(f"HEATMAP_BINANCE_WS_URL={demo.ws_market_base}", flush=True)
    print(f"HEATMAP_BINANCE_REST_URL={demo.rest_base}", flush=True)
    print(f"truth: {demo.rest_base}/sim/truth/summary  (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
        if args.truth_file:
            lines = demo.export_truth(args.truth_file)
            print(f"wrote {lines} truth lines to {args.truth_file}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
