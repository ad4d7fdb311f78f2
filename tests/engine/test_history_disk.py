"""History on a real small filesystem: filled and freed while liquidations stream, read-only or
full at start, a permission the service's user lacks, a stop while the writer is blocked.

The filesystem is a real tmpfs the test mounts (``mounts.tmpfs``): filling it makes SQLite's
writes fail with ENOSPC, which it reports as SQLITE_FULL, exactly as on a full disk. Read-only
means a read-only mount (as root, chmod would not stop a write). These need root; CI runs as
root, elsewhere they skip, saying why.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from binance_frames import force_order, mark_price
from helpers import ROOT, free_port, wait_until
from mounts import fill, read_only_file, remount_read_only, require_root, tmpfs

from api.settings import ApiSettings
from app import create_app
from callbacks import sources
from dashboard.summary import feed_status
from heatmap_engine.config import Settings
from heatmap_engine.engine import wall_clock_ms
from heatmap_engine.history.data_dir import EXIT_DATA_DIR
from heatmap_engine.history.runtime import DB_NAME
from heatmap_engine.history.sqlite_store import SqliteStore
from heatmap_engine.service import HeatmapService
from market_sim.fake_binance import FakeBinance

LIQ = "!forceOrder@arr"
pytestmark = pytest.mark.slow


@pytest.fixture
def fake():
    with FakeBinance() as server:
        yield server


def engine_env(fake: FakeBinance | None, data_dir: Path) -> dict[str, str]:
    """Settings for a service on ``data_dir``; without ``fake``, exchange addresses nothing
    listens on (the refused starts never get that far)."""
    ws = fake.ws_market_base if fake else "ws://127.0.0.1:9/market"
    rest = fake.rest_base if fake else "http://127.0.0.1:9"
    return {
        "HEATMAP_SYMBOLS": "BTCUSDT",
        "HEATMAP_BINANCE_WS_URL": ws,
        "HEATMAP_BINANCE_REST_URL": rest,
        "HEATMAP_UPDATE_INTERVAL": "0.1",
        "HEATMAP_PRICE_STALE_SECONDS": "3600",
        "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.02",
        "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.1",
        "HEATMAP_DATA_DIR": str(data_dir),
        "HEATMAP_BACKFILL": "0",
    }


def quantity(i: int) -> float:
    """The i-th liquidation's quantity as the frame carries it (6 decimals) and parses back."""
    return float(f"{1.0 + i / 1000:.6f}")


class Stream:
    """Publishes distinct liquidations (and a mark price now and then) on its own thread,
    as the exchange would, remembering each (trade time, quantity) it sent."""

    def __init__(self, fake: FakeBinance):
        self.fake = fake
        self.sent: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.base_ms = wall_clock_ms()

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.005):
            qty = quantity(i)
            t = self.base_ms + i
            if self.fake.publish(LIQ, force_order("BTCUSDT", "SELL", 60_000.0, qty, t)):
                self.sent.append((t, qty))
            if i % 50 == 0:
                self.fake.publish("!markPrice@arr@1s", [mark_price("BTCUSDT", 60_000.0, t)])
            i += 1


def health(client) -> tuple[int, str | None]:
    response = client.get("/api/health")
    return response.status_code, response.get_json().get("error")


def stored(db: Path) -> list[tuple[int, float]]:
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return reader.execute("SELECT event_time_ms, quantity FROM liquidations").fetchall()
    finally:
        reader.close()


def test_a_full_disk_filled_then_freed_while_liquidations_stream_loses_none(fake, tmp_path):
    with tmpfs(tmp_path / "data", "8m") as data_dir:
        settings = Settings.from_env(engine_env(fake, data_dir))
        app = create_app(settings, api_settings=ApiSettings.from_env({}))
        service: HeatmapService = app.server.extensions["heatmap"]
        client = app.server.test_client()
        try:
            assert fake.wait_for_subscribers(LIQ)
            with Stream(fake) as stream:
                wait_until(lambda: health(client)[0] == 200 and len(stream.sent) > 100)
                filler = fill(data_dir)
                _, reason = wait_until(lambda: (h := health(client))[0] == 503 and h)
                assert "history not saved: disk full" in reason
                sent_when_full = len(stream.sent)
                wait_until(lambda: len(stream.sent) > sent_when_full + 200)
                writer = client.get("/api/stats").get_json()["history"]["writer"]
                assert writer["state"] == "failing" and writer["last_error"] == "disk full"
                assert writer["errors"]["disk_full"] >= 1 and writer["queued"] > 0
                assert writer["oldest_queued_seconds"] > 0
                badge = feed_status(*sources.feed(service))
                assert badge.tone == "bad" and "disk full" in badge.sub
                filler.unlink()
                wait_until(lambda: health(client)[0] == 200, timeout=30)
            wait_until(lambda: service.status()["engine"]["liquidations"] == len(stream.sent))
            wait_until(lambda: service.status()["history"]["writer"]["queued"] == 0)
            writer = client.get("/api/stats").get_json()["history"]["writer"]
            assert writer["state"] == "ok" and writer["dropped_total"] == 0
        finally:
            assert service.stop(10.0)
        rows = stored(data_dir / DB_NAME)
        assert len(rows) == len(set(rows)), "a liquidation was stored twice"
        assert set(rows) == set(stream.sent), "a liquidation sent was not stored"
        assert len(stream.sent) > sent_when_full + 200


# -- refused at start ------------------------------------------------------------------------


def entry_points(tmp_path: Path) -> dict[str, list[str]]:
    recording = tmp_path / "frames.jsonl"
    recording.write_text("")
    py = sys.executable
    # fmt: off
    return {
        "app.py": [py, "app.py", "--port", str(free_port())],
        "app.py --demo": [py, "app.py", "--demo", "--port", str(free_port())],
        "python -m heatmap_engine": [py, "-m", "heatmap_engine"],
        "app.py record": [py, "app.py", "record", "--out", str(tmp_path / "r.jsonl")],
        "app.py replay": [py, "app.py", "replay", str(recording)],
        "gunicorn": [py, "-m", "gunicorn", "--no-control-socket", "--workers", "1", "--bind",
                     f"127.0.0.1:{free_port()}", "app:create_server()"],
    }
    # fmt: on


def run_refused(command: list[str], data_dir: Path, **env: str) -> str:
    """Runs ``command`` on ``data_dir``; asserts the one clear refusal; returns the output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    environment.update(engine_env(None, data_dir), **env)
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_DATA_DIR, output
    assert output.count("(HEATMAP_DATA_DIR)") == 1, output
    assert "Traceback" not in output, output
    return output


@pytest.mark.parametrize(
    "entry", ["app.py", "app.py --demo", "python -m heatmap_engine", "app.py record",
              "app.py replay", "gunicorn"],
)  # fmt: skip
def test_a_read_only_data_folder_is_refused_with_one_message(tmp_path, entry):
    with tmpfs(tmp_path / "data", "1m") as data_dir:
        remount_read_only(data_dir)
        output = run_refused(entry_points(tmp_path)[entry], data_dir)
        assert "the folder is read-only" in output and "remount it read-write" in output


@pytest.mark.parametrize("entry", ["python -m heatmap_engine", "gunicorn"])
def test_a_read_only_database_is_refused_at_start(tmp_path, entry):
    with tmpfs(tmp_path / "data", "4m") as data_dir:
        SqliteStore(data_dir / DB_NAME).close()
        with read_only_file(data_dir / DB_NAME):
            output = run_refused(entry_points(tmp_path)[entry], data_dir)
        assert "the database is read-only" in output


def test_a_full_data_folder_is_refused_at_start(tmp_path):
    with tmpfs(tmp_path / "data", "1m") as data_dir:
        fill(data_dir)
        output = run_refused(entry_points(tmp_path)["python -m heatmap_engine"], data_dir)
        assert "disk full" in output and "free space" in output


def test_a_folder_the_user_may_not_write_is_refused_at_start(tmp_path):
    require_root()
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*nobody, sys.executable, "-c", "import heatmap_engine"], cwd=ROOT,
                           capture_output=True, check=False)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this checkout's Python (setpriv or permissions)")
    data_dir = tmp_path / "root-owned"
    data_dir.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    output = run_refused([*nobody, *entry_points(tmp_path)["python -m heatmap_engine"]], data_dir)
    assert "no permission to write" in output


# -- stop --------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["python -m heatmap_engine", "app.py"])
def test_a_stop_that_leaves_history_unwritten_says_so_and_exits_1(fake, tmp_path, entry):
    with tmpfs(tmp_path / "data", "4m") as data_dir:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
        environment.update(engine_env(fake, data_dir))
        log_path = tmp_path / "service.log"
        with log_path.open("w") as log_file:
            child = subprocess.Popen(entry_points(tmp_path)[entry], cwd=ROOT, env=environment,
                                     stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            assert fake.wait_for_subscribers(LIQ, timeout=60)
            fill(data_dir)
            base = wall_clock_ms()
            frames = [force_order("BTCUSDT", "SELL", 60_000.0, quantity(i), base + i)
                      for i in range(2000)]  # fmt: skip
            fake.publish_many(LIQ, frames)
            wait_until(lambda: "history store cannot write: disk full" in log_path.read_text())
            child.send_signal(signal.SIGTERM)
            assert child.wait(60) == 1
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        output = log_path.read_text()
        assert "stop incomplete" in output and "history items not written (disk full)" in output
        assert "Traceback" not in output, output


def test_stop_while_the_writer_is_blocked_writes_everything_in_order(fake, tmp_path):
    settings = Settings.from_env(engine_env(fake, tmp_path / "data"))
    service = HeatmapService(settings).start()
    db = tmp_path / "data" / DB_NAME
    base = wall_clock_ms()
    frames = [force_order("BTCUSDT", "BUY", 60_000.0, quantity(i), base + i) for i in range(3000)]
    writer = service.history.writer
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        assert fake.wait_for_subscribers(LIQ)
        fake.publish_many(LIQ, frames[:1000])
        wait_until(lambda: writer.status()["written"].get("liquidations"))
        blocker.execute("BEGIN IMMEDIATE")  # another program holds the database's write lock
        fake.publish_many(LIQ, frames[1000:2000])
        wait_until(lambda: writer.status()["state"] == "failing")
        assert "history not saved: database is locked by another program" in service.problems()[0]
        fake.publish_many(LIQ, frames[2000:])
        wait_until(lambda: service.source.status()["frames"] >= 3000)
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(service.stop(60.0)))
        stopper.start()
        # the stop has ended the feed and the engine and now waits for the writer, which still
        # holds what it could not write; the store is still open under it
        wait_until(lambda: not any(t.is_alive() for t in service._threads))
        assert service.source.status()["state"] == "stopped"
        assert writer.alive and writer.queued > 0 and stopper.is_alive()
        assert service.history.store.get_meta("last_alive_ms") is not None  # still open
        blocker.execute("ROLLBACK")
        stopper.join(60)
    finally:
        blocker.close()
        service.stop(10.0)
    assert result == [True]
    assert sorted(stored(db)) == [(base + i, quantity(i)) for i in range(3000)]
    final = service.status()["history"]["writer"]
    assert final["state"] == "stopped" and final["lost_at_stop"] == 0
    assert final["written"]["liquidations"] == 3000
