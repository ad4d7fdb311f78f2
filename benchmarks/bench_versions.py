"""How often a poll gets "nothing changed": the API's 304 and the dashboard's 204, engine running.

    python benchmarks/bench_versions.py [--minutes 3] [--speed 1] [--symbols BTCUSDT,DOGEUSDT]

The simulated market runs in its own process (``python -m market_sim.demo``, an hour prefilled,
so the heatmap is full at once) and the real app (``create_app``, default settings: refresh
every 5 s, history on) follows it over loopback, exactly as it would Binance. Every 5 s, as an
open page and a polite bot do, each symbol is asked for:

* ``GET /api/heatmap/<symbol>`` with the last ``ETag`` in ``If-None-Match`` (304 or 200);
* the dashboard's refresh callback for the heatmap view, with what the page shows
  (``rendered-keys``): 204 when nothing changed, else 200;

and a bot asks the API every second (with its own ``ETag``).

Each time the snapshot's ``version`` moved, the cause is noted: the mark price (at the published
6 significant digits), the events in the window (a liquidation came or left), the cluster set,
or only the decayed figures (strength, weighted notional) of the same events. Prints figures,
never asserts. Left out: nginx's micro-cache in front, the other views (the time x price view
also follows the forming candle), several tabs, and the first poll of each symbol.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench_versions")
POLL_SECONDS = 5.0  # the page's refresh interval
BOT_POLL_SECONDS = 1.0  # a bot that polls the API faster than the engine refreshes


def start_market(port: int, speed: float) -> subprocess.Popen:
    """The simulator in its own process; returns once it serves."""
    command = [sys.executable, "-m", "market_sim.demo", "--port", str(port), "--speed",
               str(speed), "--prefill-minutes", "60"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("truth:"):
            return process
    raise RuntimeError("the simulated market did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refresh_body(app, state: dict, rendered: dict) -> dict:
    """The request the page sends for its 5 s refresh, with what it shows now."""
    from layouts import ids

    key = next(k for k in app.callback_map if f"{ids.HEATMAP_GRAPH}.figure" in k)
    spec = app.callback_map[key]
    values = {f"{ids.STATE}.data": state, f"{ids.RENDERED}.data": rendered,
              f"{ids.REFRESH}.n_intervals": 1}  # fmt: skip
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
               for part in key.strip(".").split("...")]  # fmt: skip

    def fill(items: list) -> list:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    changed = [f"{ids.REFRESH}.n_intervals"]
    return {"output": key, "outputs": outputs, "inputs": fill(spec["inputs"]),
            "state": fill(spec["state"]), "changedPropIds": changed}  # fmt: skip


def causes(before, after) -> list[str]:
    """What changed in a symbol's snapshot between two polls (several things can)."""
    decayed = lambda s: [(c.strength, c.weighted_notional) for c in s.clusters]  # noqa: E731
    found = []
    if after.current_price != before.current_price:
        found.append("mark price")
    if after.events_in_window != before.events_in_window:
        found.append("events in the window")
    if [c.cluster_id for c in after.clusters] != [c.cluster_id for c in before.clusters]:
        found.append("cluster set")
    elif decayed(after) != decayed(before):
        found.append("decayed figures")
    return found


class Poller:
    """One symbol, polled like a page and a bot would."""

    def __init__(self, app, symbol: str):
        from dashboard.state import ViewState

        self.app, self.symbol = app, symbol
        self.client = app.server.test_client()
        self.state = ViewState(symbol).to_dict()
        self.etag: str | None = None
        self.rendered: dict = {}
        self.snapshot = None
        self.api: Counter[int] = Counter()
        self.page: Counter[int] = Counter()
        self.causes: Counter[str] = Counter()
        self.bot_etag: str | None = None
        self.bot: Counter[int] = Counter()

    def bot_poll(self) -> None:
        headers = {"If-None-Match": self.bot_etag} if self.bot_etag else {}
        response = self.client.get(f"/api/heatmap/{self.symbol}", headers=headers)
        self.bot_etag = response.headers.get("ETag", self.bot_etag)
        self.bot[response.status_code] += 1

    def poll(self, count: bool) -> None:
        from layouts import ids

        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = self.client.get(f"/api/heatmap/{self.symbol}", headers=headers)
        self.etag = response.headers.get("ETag", self.etag)
        body = refresh_body(self.app, self.state, self.rendered)
        page = self.client.post("/_dash-update-component", json=body)
        if page.status_code == 200:
            self.rendered = page.get_json()["response"][ids.RENDERED]["data"]
        snapshot = self.app.server.extensions["heatmap"].snapshot(self.symbol)
        if count:
            self.api[response.status_code] += 1
            self.page[page.status_code] += 1
            if self.snapshot is not None and snapshot.version != self.snapshot.version:
                found = causes(self.snapshot, snapshot)
                self.causes.update(found)
                self.causes["moves"] += 1
                if found == ["mark price"]:
                    self.causes["the mark price alone"] += 1
        self.snapshot = snapshot

    def report(self) -> None:
        polls = sum(self.api.values())
        snap = self.snapshot
        print(f"{self.symbol}: {polls} polls; {snap.events_in_window} liquidations in the window,"
              f" {len(snap.clusters)} clusters, version {snap.version}")  # fmt: skip
        share = lambda n: f"{n} ({100 * n / polls:.0f} %)" if polls else "0"  # noqa: E731
        print(f"  API 304 Not Modified: {share(self.api[304])}  (200: {self.api[200]})")
        print(f"  dashboard 204 nothing changed: {share(self.page[204])}  (200: {self.page[200]})")
        bot = sum(self.bot.values())
        print(f"  a bot polling every {BOT_POLL_SECONDS:g} s: {self.bot[304]} of {bot} answers 304"
              f" ({100 * self.bot[304] / max(1, bot):.0f} %)")  # fmt: skip
        moved = self.causes.pop("moves", 0)
        why = ", ".join(f"{k} {v}" for k, v in self.causes.most_common()) or "-"
        print(f"  version moved {moved} times; what had changed: {why}")


def run(minutes: float, speed: float, symbols: list[str]) -> None:
    import app as app_module
    from heatmap_engine.config import Settings

    port = free_port()
    market = start_market(port, speed)
    data = tempfile.TemporaryDirectory(prefix="bench-versions-")
    env = {**os.environ, "HEATMAP_BINANCE_WS_URL": f"ws://127.0.0.1:{port}/market",
           "HEATMAP_BINANCE_REST_URL": f"http://127.0.0.1:{port}",
           "HEATMAP_DATA_DIR": data.name}  # fmt: skip
    app = app_module.create_app(Settings.from_env(env))
    service = app.server.extensions["heatmap"]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            (s := service.snapshot(sym)) is not None and s.clusters for sym in symbols
        ):
            time.sleep(0.5)
        pollers = [Poller(app, symbol) for symbol in symbols]
        for poller in pollers:
            poller.poll(count=False)  # a page opens: its first answer is always a 200
        end = time.monotonic() + minutes * 60
        next_tick, ticks = time.monotonic() + BOT_POLL_SECONDS, 0
        while time.monotonic() < end:
            time.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick += BOT_POLL_SECONDS
            ticks += 1
            for poller in pollers:
                poller.bot_poll()
                if ticks % round(POLL_SECONDS / BOT_POLL_SECONDS) == 0:
                    poller.poll(count=True)
        refresh = service.settings.update_interval
        print(f"{minutes:g} min against the simulator at speed {speed:g}, polls every"
              f" {POLL_SECONDS:g} s, engine refresh every {refresh:g} s")  # fmt: skip
        for poller in pollers:
            poller.report()
    finally:
        service.stop(10.0)
        market.terminate()
        market.wait(10)
        data.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--symbols", default="BTCUSDT,DOGEUSDT")
    args, _ = parser.parse_known_args()
    logging.basicConfig(level=logging.WARNING)
    run(args.minutes, args.speed, [s.strip().upper() for s in args.symbols.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
