"""Soak: the app against the simulated market for a long while; resident memory over time.

    make soak                      # 30 minutes
    SOAK_MINUTES=5 make soak       # a shorter try
    python scripts/soak.py --minutes 30 --speed 60 --every 10

Three processes, as in production: the simulated market (``python -m market_sim.demo``, an
hour prefilled, at ``--speed`` simulated seconds per wall second), the app under gunicorn (one
worker, eight threads, as the Procfile; ``HEATMAP_EXCHANGE_CLOCK=1`` so the engine follows the
simulator's clock; history in a fresh temporary folder) and this script, which polls like an
open dashboard tab and a bot (every 5 s: the heatmap callback, ``/api/heatmap/BTCUSDT`` with
its ETag, ``/api/stats``). It prints the worker's resident memory (VmRSS) when the app first
answers healthy and then every ``--every`` minutes, with the figures that explain it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POLL_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def get(url: str, headers: dict | None = None, body: dict | None = None) -> tuple[int, bytes, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={
        **(headers or {}), **({"Content-Type": "application/json"} if data else {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


class Tab:
    """An open dashboard tab (heatmap view) and a bot polling the API with its ETag."""

    def __init__(self, base: str):
        from dashboard.state import ViewState
        from layouts import ids

        self.base, self.ids = base, ids
        deps = json.loads(get(f"{base}/_dash-dependencies")[1])
        self.spec = next(d for d in deps if f"{ids.HEATMAP_GRAPH}.figure" in d["output"])
        self.state = ViewState("BTCUSDT").to_dict()
        self.rendered: dict = {}
        self.etag = ""
        self.answers: dict[int, int] = {}

    def _body(self) -> dict:
        ids = self.ids
        values = {f"{ids.STATE}.data": self.state, f"{ids.RENDERED}.data": self.rendered,
                  f"{ids.REFRESH}.n_intervals": 1}  # fmt: skip

        def fill(items: list) -> list:
            return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                   for part in self.spec["output"].strip(".").split("...")]  # fmt: skip
        return {"output": self.spec["output"], "outputs": outputs,
                "inputs": fill(self.spec["inputs"]), "state": fill(self.spec["state"]),
                "changedPropIds": [f"{ids.REFRESH}.n_intervals"]}  # fmt: skip

    def poll(self) -> dict:
        status, body, _ = get(f"{self.base}/_dash-update-component", body=self._body())
        if status == 200:
            self.rendered = json.loads(body)["response"][self.ids.RENDERED]["data"]
        self.answers[status] = self.answers.get(status, 0) + 1
        status, _, headers = get(f"{self.base}/api/heatmap/BTCUSDT", {"If-None-Match": self.etag})
        self.etag = headers.get("ETag", self.etag)
        self.answers[status] = self.answers.get(status, 0) + 1
        return json.loads(get(f"{self.base}/api/stats")[1])


def start(command: list[str], env: dict, log: Path, wait_for: str = "") -> subprocess.Popen:
    """A child process writing to ``log`` (never a pipe nobody reads, which would block it)."""
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while wait_for and wait_for not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command[2]} did not start; see {log}")
        time.sleep(0.2)
    return process


def describe(stats: dict) -> str:
    engine, history = stats.get("engine") or {}, stats.get("history") or {}
    writer = history.get("writer") or {}
    held = engine.get("events_held", 0)
    return (f"liquidations {engine.get('liquidations', 0):,}, held {held:,},"
            f" queue {stats.get('queue_depth', 0)}, writer queue {writer.get('queued', '?')},"
            f" database {history.get('size_bytes', 0) / 2**20:.1f} MiB")  # fmt: skip


def wait_healthy(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if get(f"{base}/api/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the app never answered healthy")


def soak(minutes: float, speed: float, every: float) -> None:
    market_port, app_port = free_port(), free_port()
    data = tempfile.TemporaryDirectory(prefix="soak-")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = Path(data.name)
    market = start([sys.executable, "-m", "market_sim.demo", "--port", str(market_port),
                    "--speed", str(speed), "--prefill-minutes", "60"], env, logs / "market.log",
                   "truth:")  # fmt: skip
    app_env = {**env, "HEATMAP_BINANCE_WS_URL": f"ws://127.0.0.1:{market_port}/market",
               "HEATMAP_BINANCE_REST_URL": f"http://127.0.0.1:{market_port}",
               "HEATMAP_DATA_DIR": str(Path(data.name) / "data"), "HEATMAP_EXCHANGE_CLOCK": "1",
               "HEATMAP_LOG_LEVEL": "WARNING"}  # fmt: skip
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    app = start([gunicorn, "--workers", "1", "--threads", "8", "--bind",
                 f"127.0.0.1:{app_port}", "app:create_server()"], app_env,
                logs / "app.log")  # fmt: skip
    base = f"http://127.0.0.1:{app_port}"
    try:
        wait_healthy(base, time.monotonic() + 120)
        (worker,) = children(app.pid)
        tab = Tab(base)
        started = time.monotonic()
        print(f"soak: {minutes:g} min, simulator at speed {speed:g}, gunicorn 1 worker x 8"
              f" threads, polls every {POLL_SECONDS:g} s", flush=True)  # fmt: skip
        marks = [m * every for m in range(int(minutes // every) + 1)]
        if marks[-1] < minutes:
            marks.append(minutes)
        for mark in marks:
            while (elapsed := time.monotonic() - started) < mark * 60:
                stats = tab.poll()
                time.sleep(max(0.0, min(POLL_SECONDS, mark * 60 - elapsed)))
            stats = tab.poll()
            print(f"{mark:5.1f} min  app RSS {rss_mib(worker):6.1f} MiB  (simulator"
                  f" {rss_mib(market.pid):6.1f} MiB)  {describe(stats)}", flush=True)  # fmt: skip
        print(f"answers seen: {dict(sorted(tab.answers.items()))}")
        warnings = [line for line in (logs / "app.log").read_text().splitlines()
                    if " WARNING " in line or " ERROR " in line]  # fmt: skip
        print(f"app log: {len(warnings)} warning/error lines" + "".join(
            f"\n  {line[:160]}" for line in warnings[-5:]))  # fmt: skip
    finally:
        app.send_signal(signal.SIGTERM)
        market.send_signal(signal.SIGINT)
        for process in (app, market):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        data.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=10.0, help="minutes between RSS lines")
    args = parser.parse_args()
    every = min(args.every, args.minutes)
    soak(args.minutes, args.speed, every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
