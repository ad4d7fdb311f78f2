"""One process ingests and writes per data folder: every other one is refused at start, clearly.

Real processes on one fresh ``HEATMAP_DATA_DIR``: three ``python -m heatmap_engine`` at once
(twenty rounds), gunicorn with three workers against the fake Binance, a second gunicorn beside
a running one, and ``gunicorn --preload``.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import ROOT, free_port, wait_until

from heatmap_engine.history.data_dir import EXIT_DATA_DIR, LOCK_NAME
from heatmap_engine.history.runtime import DB_NAME
from heatmap_engine.history.schema import MIGRATIONS
from market_sim.fake_binance import FakeBinance

pytestmark = pytest.mark.slow
REFUSED = re.compile(r"\(HEATMAP_DATA_DIR\) is in use by another process \(pid (\d+)\)")
LIQ = "!forceOrder@arr"


def environment(data_dir: Path, fake: FakeBinance | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(
        HEATMAP_DATA_DIR=str(data_dir),
        HEATMAP_BINANCE_WS_URL=fake.ws_market_base if fake else "ws://127.0.0.1:9/market",
        HEATMAP_BINANCE_REST_URL=fake.rest_base if fake else "http://127.0.0.1:9",
        HEATMAP_BACKFILL="0",
        HEATMAP_FEED_BACKOFF_INITIAL_SECONDS="0.1",
        HEATMAP_FEED_BACKOFF_MAX_SECONDS="0.5",
    )
    return env


def gunicorn(data_dir: Path, fake: FakeBinance, *options: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "--graceful-timeout",
               "10", "--bind", f"127.0.0.1:{port}", *options, "app:create_server()"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=environment(data_dir, fake), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    return proc, port


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """The output of a process that ends by itself within ``timeout``."""
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"{proc.args[2:4]} did not end by itself:\n{output[-3000:]}")
    return output


def test_three_processes_opening_one_fresh_folder_at_once_one_holds_it(tmp_path):
    for round_ in range(20):
        data_dir = tmp_path / f"round-{round_}"
        procs = [
            subprocess.Popen([sys.executable, "-m", "heatmap_engine"], cwd=ROOT,
                             env=environment(data_dir), text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
            for _ in range(3)
        ]  # fmt: skip
        try:
            wait_until(lambda procs=procs: sum(p.poll() is not None for p in procs) >= 2, 60)
            (winner,) = [p for p in procs if p.poll() is None]
            for loser in (p for p in procs if p is not winner):
                output = loser.communicate()[0]
                assert loser.returncode == EXIT_DATA_DIR, output
                assert [int(pid) for pid in REFUSED.findall(output)] == [winner.pid], output
                assert "--workers 1" in output and "Traceback" not in output
            assert (data_dir / LOCK_NAME).read_text().strip() == str(winner.pid)
            winner.send_signal(signal.SIGTERM)
            output = winner.communicate(timeout=30)[0]
            assert winner.returncode == 0, output
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        db = sqlite3.connect(data_dir / DB_NAME)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.close()


def connections(fake: FakeBinance) -> int:
    return sum(fake.stats()["connections_by_route"].values())


def test_gunicorn_with_three_workers_stops_with_the_refusal_and_one_connection(tmp_path):
    with FakeBinance() as fake:
        proc, _ = gunicorn(tmp_path / "data", fake, "--workers", "3")
        output = finish(proc)
        assert proc.returncode == EXIT_DATA_DIR, output
        holders = REFUSED.findall(output)
        booted = set(re.findall(r"Booting worker with pid: (\d+)", output))
        assert len(holders) == 1 and set(holders) <= booted, "one message, naming a worker"
        assert "gunicorn --workers 1 --threads N" in output
        assert "Worker failed to boot" in output
        assert connections(fake) <= 1, "a refused worker connected to the exchange"


def test_a_second_gunicorn_beside_a_running_one_is_refused_and_never_connects(tmp_path):
    data_dir = tmp_path / "data"
    with FakeBinance() as fake:
        first, port = gunicorn(data_dir, fake, "--workers", "1", "--threads", "4")
        try:
            assert fake.wait_for_subscribers(LIQ, timeout=60)
            one_service = connections(fake)
            holder = (data_dir / LOCK_NAME).read_text().strip()
            second, _ = gunicorn(data_dir, fake, "--workers", "2")
            output = finish(second)
            assert second.returncode == EXIT_DATA_DIR, output
            assert REFUSED.findall(output) == [holder], output
            assert connections(fake) == one_service, "the refused server connected too"
            assert fake.stats()["open_connections"] == one_service
            answer = requests.get(f"http://127.0.0.1:{port}/api/symbols", timeout=10)
            assert answer.status_code == 200, "the first server stopped serving"
        finally:
            first.send_signal(signal.SIGTERM)
            output = finish(first, 30)
        assert first.returncode == 0, output


def test_gunicorn_preload_is_refused_with_a_message(tmp_path):
    with FakeBinance() as fake:
        proc, _ = gunicorn(tmp_path / "data", fake, "--preload", "--workers", "1")
        output = finish(proc)
        assert proc.returncode == EXIT_DATA_DIR, output
        assert output.count("gunicorn --preload is not supported") == 1, output
        assert "Run without --preload" in output
