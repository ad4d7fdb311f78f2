"""Drives a `MarketSimulation` in scaled real time and publishes it through a `FakeBinance`.

One sim second is stepped every `1/speed` wall seconds (`speed` 0: as fast as possible) on one
named thread (`market-sim`, started by `start()`, joined by `stop(timeout)`). Publishing waits
while a client's bounded queue is full (`market_sim.hub`), so the market runs no faster than
its slowest client reads, and with `follow(lag)` no faster than that client has applied what
it read: when it falls behind its schedule it carries on from where it is (`lag_resets`), logs
once that it is slowed, and `effective_speed()` says how fast it really runs. After each step
the runner publishes, in this order, the second's sampled `!forceOrder@arr` frames, the two
`!markPrice@arr@1s` array messages and a `<symbol>@kline_1m` event for every kline stream a
client is subscribed to (the forming candle, or at a minute boundary the closing `x: true`
frame). `wire_frames()` is that list as a pure function (tests collect it without a server).

**Prefill (demo-only behaviour).** `prefill_until(ms)` simulates history as fast as possible
before serving, in 20-second steps (`MarketSimulation.step(20)`: the marks of every second
inside a step come from a Brownian bridge, liquidations happen in the second a mark reached
them, so the sampled stream keeps its 1-second meaning; about 5 x fewer numpy passes than
1-second steps): candles and open interest land in the REST history, and the sampled
forceOrder frames are held in a backlog. The backlog (and every frame sampled until then) is
sent as one quick burst, in time order with the frames' past trade times, when the first
client subscribes to `!forceOrder@arr`; from then on the stream is live and, like Binance's,
never replays: a frame published while nobody listens is gone (counted as `missed`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from market_sim.sim.frames import LIQUIDATION_STREAM, MARK_PRICE_STREAM, kline_stream
from market_sim.sim.market import MarketSimulation, TickOutput
from market_sim.sim.source import SimulatedMarket

logger = logging.getLogger(__name__)

Frames = list[tuple[str, list[Any]]]  # (stream, payloads in order)
PACE_WINDOW_SECONDS = 10.0  # effective speed is measured over this much wall time
SLOWED_SHARE = 0.9  # below this share of its speed the market counts as slowed
PREFILL_STEP_SECONDS = 20  # the prefill's step: 1-second marks inside, see sim/liquidation.py


class Publisher(Protocol):
    """What the runner needs from a FakeBinance."""

    def publish_many(self, stream: str, payloads: list[Any]) -> int: ...

    def subscribed_streams(self) -> set[str]: ...


def wire_frames(sim: MarketSimulation, output: TickOutput, subscribed: set[str] | None) -> Frames:
    """Everything one second publishes, in order; `subscribed` None means every kline stream."""
    frames: Frames = []
    if output.force_orders:
        frames.append((LIQUIDATION_STREAM, list(output.force_orders)))
    if subscribed is None or MARK_PRICE_STREAM in subscribed:
        frames.append((MARK_PRICE_STREAM, sim.mark_price_messages()))
    streams = [kline_stream(symbol) for symbol in sim.symbols]
    wanted = [i for i, s in enumerate(streams) if subscribed is None or s in subscribed]
    for i, payload in zip(wanted, sim.kline_payloads(wanted), strict=True):
        frames.append((streams[i], [payload]))
    return frames


def _is_usdm(frame: dict[str, Any]) -> bool:
    return frame["o"].get("st") == 1


class MarketRunner:
    """Steps the simulation on its own thread and publishes every second's frames."""

    def __init__(
        self,
        market: SimulatedMarket,
        speed: float = 1.0,
        *,
        max_lag_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0 (0 = as fast as possible)")
        self.market, self.sim, self.speed = market, market.sim, speed
        self.max_lag_seconds = max_lag_seconds
        self._clock = clock
        self._publisher: Publisher | None = None
        self._backlog: list[dict[str, Any]] | None = []  # None once the burst went out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.missed = 0  # forceOrder frames published while nobody was subscribed
        self.lag_resets = 0  # times it fell behind its schedule and carried on from there
        self.slowed = False  # running below its speed for the last few wall seconds
        self._pace: deque[tuple[float, int]] = deque()  # (wall, sim ms) after each tick
        self._consumer_lag: Callable[[], float | None] | None = None  # see follow()
        self.max_lead_seconds = 0.0
        self.prefill_seconds = 0.0  # wall time the demo's prefill took (set by the demo)

    def prefill_until(self, end_ms: int, step_seconds: int = PREFILL_STEP_SECONDS) -> int:
        """Simulate (as fast as possible) until sim time reaches `end_ms`; returns seconds run.

        Whole `step_seconds` steps where they fit on their grid, 1-second steps elsewhere
        (the same model; `MarketSimulation.step`)."""
        if self._thread is not None:
            raise RuntimeError("prefill must happen before start()")
        begin = self.sim.now_ms
        size = step_seconds * 1000
        while self.sim.now_ms < end_ms:
            now = self.sim.now_ms
            seconds = step_seconds if now % size == 0 and now + size <= end_ms else 1
            with self.market.lock:
                output = self.sim.step(seconds)
            self._hold(output.force_orders)
        return (self.sim.now_ms - begin) // 1000

    def _hold(self, force_orders: list[dict[str, Any]]) -> None:
        if self._backlog is not None:
            self._backlog.extend(force_orders)

    def start(self, publisher: Publisher) -> MarketRunner:
        """Publish through `publisher` and start stepping in real time; returns self."""
        if self._thread is not None:
            raise RuntimeError("runner already started")
        self._publisher = publisher
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="market-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop stepping and join the thread (raises TimeoutError if it does not end)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"market-sim thread did not stop within {timeout} s")
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # the loop boundary: log the traceback, the thread ends
            logger.exception("market simulation failed")

    def _loop(self) -> None:
        anchor_wall, anchor_sim = self._clock(), self.sim.now_ms
        while not self._stop.is_set():
            if self.speed > 0:
                due = anchor_wall + (self.sim.now_ms + 1000 - anchor_sim) / 1000 / self.speed
                wait = due - self._clock()
                if wait > 0 and self._stop.wait(wait):
                    return
                if -wait > self.max_lag_seconds:  # slowed down: carry on from here
                    anchor_wall, anchor_sim = self._clock(), self.sim.now_ms
                    self.lag_resets += 1
            self._tick()
            self._pace.append((self._clock(), self.sim.now_ms))
            self._note_pace()

    def effective_speed(self) -> float | None:
        """Simulated seconds per wall second over the last few wall seconds (None before)."""
        if len(self._pace) < 2:
            return None
        (wall0, sim0), (wall1, sim1) = self._pace[0], self._pace[-1]
        return (sim1 - sim0) / 1000 / (wall1 - wall0) if wall1 > wall0 else None

    def _note_pace(self) -> None:
        """Log once when the market falls below its speed (its clients read slower, or this
        machine is too slow), and once when it is back."""
        while len(self._pace) > 2 and self._pace[-1][0] - self._pace[0][0] > PACE_WINDOW_SECONDS:
            self._pace.popleft()
        effective = self.effective_speed()
        if self.speed <= 0 or effective is None:
            return
        if self._pace[-1][0] - self._pace[0][0] < PACE_WINDOW_SECONDS / 2:
            return
        slowed = effective < SLOWED_SHARE * self.speed
        if slowed != self.slowed:
            self.slowed = slowed
            if slowed:
                logger.warning(
                    "market simulation runs at %.0f sim s/s instead of %g: its clients read "
                    "slower (or this machine is too busy); it waits for them", effective,
                    self.speed,
                )  # fmt: skip
            else:
                logger.info("market simulation is back at speed %g", self.speed)

    def follow(self, lag_seconds: Callable[[], float | None], max_lead_seconds: float) -> None:
        """Never step while the consumer's data is more than `max_lead_seconds` (simulated)
        behind this market's clock, as `lag_seconds()` measures it (e.g. the product's
        `HeatmapService.feed_lag_seconds`): the kernel's socket buffers between the two can
        hold minutes of a fast demo, which no queue bound on this side can see."""
        self._consumer_lag, self.max_lead_seconds = lag_seconds, max_lead_seconds

    def _wait_for_consumer(self) -> bool:
        """False when stopped while waiting."""
        lag_of = self._consumer_lag
        while lag_of is not None and (lag := lag_of()) is not None and lag > self.max_lead_seconds:
            if self._stop.wait(0.005):
                return False
        return True

    def _tick(self) -> None:
        publisher = self._publisher
        assert publisher is not None
        if not self._wait_for_consumer():
            return
        subscribed = publisher.subscribed_streams()
        if self._backlog is not None and LIQUIDATION_STREAM in subscribed:
            self._publish_force_orders(publisher, self._backlog)
            logger.info("sent %d prefill liquidation frames", len(self._backlog))
            self._backlog = None
        with self.market.lock:
            output = self.sim.step()
        self.ticks += 1
        for stream, payloads in wire_frames(self.sim, output, subscribed):
            if stream != LIQUIDATION_STREAM:
                publisher.publish_many(stream, payloads)
            elif self._backlog is not None:
                self._backlog.extend(payloads)
            else:
                self._publish_force_orders(publisher, payloads)

    def _publish_force_orders(self, publisher: Publisher, payloads: list[dict[str, Any]]) -> None:
        if not payloads:
            return
        heard = publisher.publish_many(LIQUIDATION_STREAM, payloads) > 0
        usdm = sum(1 for frame in payloads if _is_usdm(frame))
        with self.market.lock:
            if heard:
                self.market.published_force_orders += usdm
                self.market.published_coin_margined += len(payloads) - usdm
            else:
                self.missed += len(payloads)

    def stats(self) -> dict[str, Any]:
        """Ticks, sim time, speed and what the stream delivered."""
        return {
            "sim_time_ms": self.sim.now_ms, "speed": self.speed, "ticks": self.ticks,
            "backlog": None if self._backlog is None else len(self._backlog),
            "published_force_orders": self.market.published_force_orders,
            "published_coin_margined": self.market.published_coin_margined,
            "missed": self.missed, "lag_resets": self.lag_resets,
            "effective_speed": self.effective_speed(), "slowed": self.slowed,
            "prefill_seconds": round(self.prefill_seconds, 2),
        }  # fmt: skip
