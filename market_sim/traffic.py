"""Full-universe market traffic from the fake Binance, for scale benchmarks.

    traffic = start_traffic(symbols=570)  # a FakeBinance listing 570 perpetuals, publishing
    # HEATMAP_SYMBOLS=all HEATMAP_BINANCE_WS_URL=traffic.ws_market_base
    # HEATMAP_BINANCE_REST_URL=traffic.rest_base
    traffic.stop()

`python -m market_sim.traffic --symbols 570 [--port 9000] [--liquidations-per-second 5]
[--kline-seconds 2] [--seconds N]` prints the two base URLs and serves in the foreground.

What it sends, every second of its clock (the wall clock unless one is injected):

* `!markPrice@arr@1s`: an entry for every listed perpetual, split over several array
  messages as Binance does (at most `MARK_MESSAGE_ENTRIES` = 300 crypto entries per message,
  then the TradFi message), so a client must merge them (protocol reference §1.5);
* `<symbol>@kline_1m` for every kline stream some client subscribed to, one update per symbol
  every `kline_seconds` (2 by default, the symbols staggered over those seconds), and the
  closed candle (`x: true`) at a symbol's first update of a new minute;
* `!forceOrder@arr`: Poisson(`liquidations_per_second`) liquidations a second (5 by default),
  on distinct symbols (at most one per symbol per second, §1.4), half longs and half shorts,
  log-normal notionals around 5,000 USD.

REST answers from the fake's generated series: `exchangeInfo` (the `symbols` perpetuals plus
the entries a universe filter must skip), klines and `openInterestHist` (the same price path
as the streams), with Binance's weights and limits; `premiumIndex` and `ticker/price` answer
each symbol's listed price, the centre of its waves (not the streamed mark).

What it does not model: a market. Prices are the fake's smooth deterministic waves (a few
percent over days; no volatility clustering, jumps or correlation), liquidations are drawn
uniformly over the symbols with no link to price moves or to a position book (no cascades, no
ground truth), open interest is a smooth function too, there are no COIN-M or partially filled
liquidation events, and it never falls behind by replaying: a second it could not publish in
time is skipped (counted in `skipped_seconds`). Memory stays flat: nothing is kept but each
symbol's current minute, and the fake's send queues are bounded (`market_sim.hub`).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from market_sim import series
from market_sim.fake_binance import FakeBinance
from market_sim.sim import frames, render
from market_sim.sim.frames import LIQUIDATION_STREAM, MARK_PRICE_STREAM, kline_stream
from market_sim.universe import ContractSpec, build_contracts, default_universe

logger = logging.getLogger(__name__)

MARK_MESSAGE_ENTRIES = 300
LIQUIDATION_USD = (np.log(5_000.0), 1.2)  # log-normal notional (median, sigma)


@dataclass
class TrafficStats:
    ticks: int = 0
    mark_messages: int = 0
    kline_events: int = 0
    liquidations: int = 0
    skipped_seconds: int = 0
    last_kline_minute: dict[str, int] = field(default_factory=dict)


class Traffic:
    """The publisher: `tick(now_ms)` sends one second; `start()` runs it once a second."""

    def __init__(
        self,
        fake: FakeBinance,
        contracts: Sequence[ContractSpec],
        *,
        liquidations_per_second: float = 5.0,
        kline_seconds: int = 2,
        seed: int = 7,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if liquidations_per_second < 0 or kline_seconds < 1:
            raise ValueError("liquidations_per_second >= 0 and kline_seconds >= 1")
        self.fake, self.contracts = fake, list(contracts)
        self.symbols = [spec.symbol for spec in self.contracts]
        self.base = {spec.symbol: Decimal(spec.mark_price) for spec in self.contracts}
        self.decimals = {
            spec.symbol: (max(0, -spec.tick.adjusted()), max(0, -spec.step.adjusted()))
            for spec in self.contracts
        }
        self.liquidations_per_second, self.kline_seconds = liquidations_per_second, kline_seconds
        self.rng = np.random.default_rng(seed)
        self._clock = clock
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- one second -----------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        """Publish the second that ends at `now_ms` (a whole second)."""
        marks = {s: series.path_price(s, self.base[s], now_ms) for s in self.symbols}
        self._publish_marks(now_ms, marks)
        self._publish_liquidations(now_ms, marks)
        self._publish_klines(now_ms)
        self.stats.ticks += 1

    def _publish_marks(self, now_ms: int, marks: dict[str, float]) -> None:
        entries = [frames.mark_entry(s, now_ms, p, p, p * 0.9999, 0.0001) for s, p in marks.items()]
        messages = [entries[k : k + MARK_MESSAGE_ENTRIES]
                    for k in range(0, len(entries), MARK_MESSAGE_ENTRIES)]  # fmt: skip
        messages.append(frames.tradfi_message(now_ms))
        self.fake.publish_many(MARK_PRICE_STREAM, messages)
        self.stats.mark_messages += len(messages)

    def _publish_liquidations(self, now_ms: int, marks: dict[str, float]) -> None:
        count = min(len(self.symbols), int(self.rng.poisson(self.liquidations_per_second)))
        if not count:
            return
        picks = self.rng.choice(len(self.symbols), size=count, replace=False)
        usd = self.rng.lognormal(*LIQUIDATION_USD, size=count)
        offsets = np.sort(self.rng.integers(0, 1000, size=count))
        events = []
        for k, index in enumerate(picks.tolist()):
            symbol = self.symbols[index]
            spec = self.contracts[index]
            long = bool(self.rng.random() < 0.5)
            price = marks[symbol] * (0.9995 if long else 1.0005)
            lots = max(1, round(usd[k] / price / float(spec.step)))
            pd, qd = self.decimals[symbol]
            quantity = render.lots(lots, qd)
            limit = price * (0.99 if long else 1.01)
            events.append(frames.force_order(
                symbol, "SELL" if long else "BUY", quantity=quantity, last_fill=quantity,
                limit_price=render.price(limit, float(spec.tick), pd),
                fill_price=render.price(price, float(spec.tick), pd),
                trade_ms=now_ms - 1000 + int(offsets[k]), event_ms=now_ms,
            ))  # fmt: skip
        self.fake.publish_many(LIQUIDATION_STREAM, events)
        self.stats.liquidations += len(events)

    def _publish_klines(self, now_ms: int) -> None:
        subscribed = self.fake.subscribed_streams()
        second = now_ms // 1000
        for index, spec in enumerate(self.contracts):
            stream = kline_stream(spec.symbol)
            if stream not in subscribed or (second + index) % self.kline_seconds:
                continue
            minute = series.interval_floor("1m", now_ms - 1)
            last = self.stats.last_kline_minute.get(spec.symbol)
            payloads = []
            if last is not None and last != minute:
                payloads.append(self._kline(spec, last, now_ms, closed=True))
            payloads.append(self._kline(spec, minute, now_ms, closed=False))
            self.stats.last_kline_minute[spec.symbol] = minute
            self.fake.publish_many(stream, payloads)
            self.stats.kline_events += len(payloads)

    def _kline(self, spec: ContractSpec, open_ms: int, now_ms: int, *, closed: bool):
        """A `kline` event from the same row REST `klines` serves for that minute."""
        row = series.kline_row(spec.symbol, self.base[spec.symbol], "1m", open_ms,
                               open_ms + 60_000 if closed else now_ms, tick=spec.tick,
                               step=spec.step)  # fmt: skip
        return _kline_event(spec.symbol, row, now_ms, closed)

    # ---- the thread -----------------------------------------------------------------------

    def start(self) -> Traffic:
        if self._thread is not None:
            raise RuntimeError("traffic already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="market-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"market-traffic thread did not stop within {timeout} s")
        self._thread = None

    def _run(self) -> None:
        try:
            next_second = int(self._clock()) + 1
            while not self._stop.wait(max(0.0, next_second - self._clock())):
                now = int(self._clock())
                if now > next_second:  # could not keep up: skip, never replay
                    self.stats.skipped_seconds += now - next_second
                    next_second = now
                self.tick(next_second * 1000)
                next_second += 1
        except Exception:  # the loop boundary: log the traceback, the thread ends
            logger.exception("market traffic failed")


def _kline_event(symbol: str, row: list[Any], event_ms: int, closed: bool) -> dict[str, Any]:
    count = row[8]
    return {"e": "kline", "E": event_ms, "s": symbol, "k": {
        "t": row[0], "T": row[6], "s": symbol, "i": "1m", "f": 1 if count else -1,
        "L": count if count else -1, "o": row[1], "c": row[4], "h": row[2], "l": row[3],
        "v": row[5], "n": count, "x": closed, "q": row[7], "V": row[9], "Q": row[10], "B": "0",
    }}  # fmt: skip


@dataclass
class RunningTraffic:
    """A started fake and its publisher; `stop()` ends both."""

    fake: FakeBinance
    traffic: Traffic

    @property
    def ws_market_base(self) -> str:
        return self.fake.ws_market_base

    @property
    def rest_base(self) -> str:
        return self.fake.rest_base

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.traffic.stop(timeout)
        finally:
            self.fake.stop(timeout)


def traffic_server(
    symbols: int = 570, port: int = 0, *, host: str = "127.0.0.1", **options: Any
) -> tuple[FakeBinance, Traffic]:
    """A started FakeBinance listing `symbols` perpetuals and its (not yet started) traffic."""
    names = default_universe(symbols)
    fake = FakeBinance(symbols=names, host=host, port=port).start()
    contracts = [spec for spec in build_contracts(names) if spec.symbol in set(names)]
    return fake, Traffic(fake, contracts, **options)


def start_traffic(symbols: int = 570, port: int = 0, **options: Any) -> RunningTraffic:
    """`traffic_server` with the publisher running once a second."""
    fake, traffic = traffic_server(symbols, port, **options)
    try:
        traffic.start()
    except BaseException:
        fake.stop()
        raise
    return RunningTraffic(fake, traffic)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: serve full-universe traffic in the foreground until Ctrl-C (or `--seconds`)."""
    parser = argparse.ArgumentParser(description="Full-universe Binance traffic on loopback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--symbols", type=int, default=570, help="perpetuals to list and send")
    parser.add_argument("--liquidations-per-second", type=float, default=5.0)
    parser.add_argument("--kline-seconds", type=int, default=2, help="seconds between updates")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after (0: Ctrl-C)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    running = start_traffic(
        args.symbols, args.port, host=args.host,
        liquidations_per_second=args.liquidations_per_second, kline_seconds=args.kline_seconds,
    )  # fmt: skip
    print(f"HEATMAP_BINANCE_WS_URL={running.ws_market_base}", flush=True)
    print(f"HEATMAP_BINANCE_REST_URL={running.rest_base}", flush=True)
    try:
        threading.Event().wait(args.seconds or None)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        stats = running.traffic.stats
        print(f"sent {stats.ticks} s: {stats.mark_messages} mark messages, "
              f"{stats.kline_events} kline events, {stats.liquidations} liquidations, "
              f"{stats.skipped_seconds} s skipped", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
