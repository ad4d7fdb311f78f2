"""What an operator reads: the app's log when Binance is unreachable, and the threads it runs."""

from __future__ import annotations

import io
import logging
import os
import random
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers import ROOT, free_port, wait_until

from heatmap_engine.config import Settings
from heatmap_engine.exchanges import binance
from heatmap_engine.feed import LiveFeed
from heatmap_engine.logsetup import PlainFormatter, configure_logging
from heatmap_engine.service import HeatmapService

ANSI = "\x1b["


def test_colour_codes_only_reach_a_terminal():
    coloured = "\x1b[36mGET /api/heatmap/BTCUSDT HTTP/1.1\x1b[0m"  # as werkzeug writes a 304
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, coloured, (), None)
    assert ANSI not in PlainFormatter("%(message)s", strip=True).format(record)
    assert ANSI in PlainFormatter("%(message)s", strip=False).format(record)
    stream = io.StringIO()  # not a terminal
    handler = configure_logging(Settings.from_env({}), stream, force=True)
    try:
        assert isinstance(handler.formatter, PlainFormatter) and handler.formatter.strip
        assert configure_logging(Settings.from_env({}), stream) is None  # pytest's logging stays
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize(
    ("env", "level"), [({}, logging.WARNING), ({"HEATMAP_ACCESS_LOG": "1"}, logging.INFO)]
)
def test_access_lines_only_when_asked_for(env, level):
    configure_logging(Settings.from_env(env), io.StringIO())
    try:
        assert logging.getLogger("werkzeug").getEffectiveLevel() == level
    finally:
        logging.getLogger("werkzeug").setLevel(logging.NOTSET)


@pytest.mark.slow
def test_the_app_offline_says_unreachable_once_and_nothing_per_poll(tmp_path):
    """``python app.py`` pointed at a loopback port where nothing listens, polled like a tab."""
    dead, port = free_port(), free_port()
    env = {**os.environ, "HEATMAP_BINANCE_WS_URL": f"ws://127.0.0.1:{dead}/market",
           "HEATMAP_BINANCE_REST_URL": f"http://127.0.0.1:{dead}", "HEATMAP_PORT": str(port),
           "HEATMAP_DATA_DIR": str(tmp_path / "data"), "HEATMAP_FEED_BACKOFF_MAX_SECONDS": "0.5",
           "HEATMAP_FEED_BACKOFF_INITIAL_SECONDS": "0.1", "HEATMAP_PRICE_STALE_SECONDS": "1",
           "HEATMAP_REST_POLL_SECONDS": "0.2"}  # fmt: skip
    log = tmp_path / "app.log"
    with log.open("w") as out:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:

        def health() -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                    return 200
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0

        wait_until(lambda: health() == 503, timeout=60)
        for _ in range(10):  # an open tab and a monitor polling while retries go on
            assert health() == 503
            time.sleep(0.3)
        wait_until(lambda: "cannot reach Binance REST" in log.read_text(), timeout=20)
    finally:
        app.terminate()
        app.wait(20)
    text = log.read_text()
    assert ANSI not in text
    assert text.count("cannot reach Binance streams") == 1, text
    assert text.count("cannot reach Binance REST") == 1, text
    assert text.count("Dash is running") <= 1
    assert "GET /api/health" not in text  # no access lines by default
    assert "disconnected" not in text and "lost the connection" not in text


class FailsAtOnce(random.Random):
    """A random source that ends whatever thread draws from it (as an unforeseen bug would)."""

    def uniform(self, a: float, b: float) -> float:
        raise SystemExit  # escapes every ``except Exception``: the thread ends


# the test ends the feed's supervisor on purpose, with an exception that escapes its loop boundary
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_threads_are_listed_and_a_dead_feed_supervisor_is_a_problem(tmp_path):
    url = f"ws://127.0.0.1:{free_port()}/market"  # nothing listens: the first attempt fails

    def source(sink):
        return LiveFeed(binance.ADAPTER, url, sink, name="market", rng=FailsAtOnce())

    settings = Settings.from_env({"HEATMAP_DATA_DIR": str(tmp_path / "data"),
                                  "HEATMAP_BINANCE_REST_URL": f"http://127.0.0.1:{free_port()}",
                                  "HEATMAP_SYMBOLS": "BTCUSDT"})  # fmt: skip
    service = HeatmapService(settings, source_factory=source).start()
    try:
        wait_until(lambda: not service.threads()["heatmap-feed-market"])
        threads = service.threads()
        named = ("heatmap-engine", "heatmap-rest", "heatmap-history", "heatmap-backfill",
                 "heatmap-levels-refresh")  # fmt: skip
        assert {name: threads[name] for name in named} == dict.fromkeys(named, True)
        assert service.problems() == ["thread heatmap-feed-market has stopped"]
        assert service.status()["threads"]["heatmap-feed-market"] is False
    finally:
        service.stop(5.0)
    assert service.problems() == []  # a stopped service has no problems to report
    assert service.threads()["heatmap-levels-refresh"] is False  # ended with the service
