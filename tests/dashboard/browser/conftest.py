"""Fixtures of the browser tests: ``python app.py`` as a subprocess on a free loopback port
against the fake Binance, the made-up market published over its websocket, and Debian's
Chromium driven by Playwright (never a downloaded browser).

Without Chromium (or Playwright) the tests skip, saying why; with ``HEATMAP_REQUIRE_BROWSER=1``
(CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from helpers import free_port

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM = os.environ.get("HEATMAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LAPTOP = {"width": 1440, "height": 900}


def chromium_or_skip() -> str:
    """The Chromium binary; skips when missing, or fails under ``HEATMAP_REQUIRE_BROWSER=1``."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -r requirements-dev.txt)"
        else:
            return CHROMIUM
    else:
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("HEATMAP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (HEATMAP_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@dataclass
class RunningApp:
    base: str
    proc: subprocess.Popen
    log_path: Path
    exchange_host: str = ""  # host:port of the exchange the app was pointed at

    def api(self, path: str) -> dict:
        return requests.get(self.base + path, timeout=5).json()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_for(condition: Callable[[], object], timeout: float, what: str, app: RunningApp):
    """Polls ``condition`` until it holds; fails with the app's log when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert app.proc.poll() is None, f"app.py exited while waiting for {what}\n{app.log_tail()}"
        try:
            value = condition()
            if value:
                return value
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{app.log_tail()}")


def start_app(exchange, data_dir: Path, symbols: str) -> RunningApp:
    return start_app_on(exchange.ws_market_base, exchange.rest_base, data_dir, symbols)


def start_app_on(ws_url: str, rest_url: str, data_dir: Path, symbols: str) -> RunningApp:
    """``python app.py`` with the exchange at ``ws_url`` and ``rest_url``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(
        HEATMAP_BINANCE_WS_URL=ws_url,
        HEATMAP_BINANCE_REST_URL=rest_url,
        HEATMAP_UPDATE_INTERVAL="2",  # the page, refreshing every second, sees every version
        HEATMAP_DATA_DIR=str(data_dir),
        HEATMAP_SYMBOLS=symbols,
        HEATMAP_LOG_LEVEL="WARNING",
    )
    log_path = data_dir.parent / f"app-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    app = RunningApp(f"http://127.0.0.1:{port}", proc, log_path, ws_url.split("/")[2])
    wait_for(lambda: requests.get(app.base + "/api/symbols", timeout=2).ok, 60, "the API", app)
    return app


def start_demo_app(data_dir: Path, symbols: str) -> RunningApp:
    """``python app.py --demo``: the simulated market on loopback, its history (candles and
    open interest, which the estimated levels need) backfilled through the real client."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATMAP_")}
    env.update(HEATMAP_DATA_DIR=str(data_dir), HEATMAP_SYMBOLS=symbols, HEATMAP_LOG_LEVEL="WARNING")
    log_path = data_dir.parent / f"demo-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    app = RunningApp(f"http://127.0.0.1:{port}", proc, log_path)
    wait_for(lambda: requests.get(app.base + "/api/symbols", timeout=2).ok, 60, "the API", app)
    return app


def stop_app(app: RunningApp) -> None:
    app.proc.terminate()
    try:
        app.proc.wait(10)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        app.proc.wait(10)


class MarkPriceTicker:
    """Publishes the mark prices every second, as Binance does (the feed's silence watchdog
    reconnects a connection that stays quiet)."""

    def __init__(self, exchange, market_frames) -> None:
        self.exchange, self.frames = exchange, market_frames
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="test-mark-prices", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            now = int(time.time() * 1000)
            self.exchange.publish("!markPrice@arr@1s", self.frames.mark_prices(now))

    def __enter__(self) -> MarkPriceTicker:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5.0)


@pytest.fixture(scope="module")
def exchange() -> Iterator:
    from market_sim.fake_binance import FakeBinance

    fb = FakeBinance(ping_interval=30.0).start()
    try:
        yield fb
    finally:
        fb.stop()


@pytest.fixture(scope="module")
def live_app(exchange, market_frames) -> Iterator[RunningApp]:
    """The app as a subprocess, with the market published and clustered."""
    chromium_or_skip()
    with (
        tempfile.TemporaryDirectory(prefix="heatmap-dash-") as tmp,
        MarkPriceTicker(exchange, market_frames),
    ):
        app = start_app(exchange, Path(tmp) / "data", market_frames.symbols)
        try:
            assert exchange.wait_for_subscribers("!forceOrder@arr", timeout=30.0)
            now = int(time.time() * 1000)
            exchange.publish_many("!forceOrder@arr", market_frames.force_orders(now))

            def clustered() -> bool:
                body = app.api("/api/heatmap/BTCUSDT?max_distance=30")
                return len(body["clusters"]) >= 6 and body["current_price"] is not None

            wait_for(clustered, 60, "BTC clusters", app)
            yield app
        finally:
            stop_app(app)


@pytest.fixture
def publish_burst(exchange, market_frames) -> Callable[..., None]:
    """Publishes new liquidations now: (symbol, side, price, qty, count)."""

    def publish(symbol: str, side: str, price: float, qty: float, count: int) -> None:
        now = int(time.time() * 1000)
        payloads = market_frames.burst(now, symbol, side, price, qty, count)
        exchange.publish_many("!forceOrder@arr", payloads)

    return publish


@pytest.fixture(scope="module")
def demo_app() -> Iterator[RunningApp]:
    """The demo (simulated market) with BTC and ETH, once BTC's estimated levels can be read
    for every range the estimated view offers."""
    chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="heatmap-demo-") as tmp:
        app = start_demo_app(Path(tmp) / "data", "BTCUSDT,ETHUSDT")
        try:
            for range_name in ("24h", "30d"):
                path = f"/api/levels/BTCUSDT?range={range_name}"
                ready = lambda p=path: requests.get(app.base + p, timeout=30).ok  # noqa: E731
                wait_for(ready, 180, f"BTC's estimated levels ({range_name})", app)
            day = lambda: _hours_with_liquidations(app, "BTCUSDT") >= 20  # noqa: E731
            wait_for(day, 120, "a day of demo liquidations in the store", app)
            yield app
        finally:
            stop_app(app)


@pytest.fixture(scope="module")
def offline_app() -> Iterator[RunningApp]:
    """The app with the exchange's websocket and REST both at a loopback port where nothing
    listens, after its first failed connection."""
    chromium_or_skip()
    dead = free_port()  # bound, then closed: nothing listens there
    with tempfile.TemporaryDirectory(prefix="heatmap-offline-") as tmp:
        app = start_app_on(f"ws://127.0.0.1:{dead}/market", f"http://127.0.0.1:{dead}",
                           Path(tmp) / "data", "BTCUSDT,ETHUSDT")  # fmt: skip
        try:
            failed = lambda: app.api("/api/stats")["feed"]["last_disconnect_reason"]  # noqa: E731
            wait_for(failed, 30, "the first failed connection", app)
            yield app
        finally:
            stop_app(app)


def _hours_with_liquidations(app: RunningApp, symbol: str) -> int:
    """Distinct hours of the last 24 with a stored liquidation of ``symbol`` (history API)."""
    now_ms = int(time.time() * 1000)
    body = app.api(f"/api/liquidations/{symbol}?limit=5000")  # the last 24 h
    if not body.get("success"):
        return 0
    return len({(now_ms - row["time_ms"]) // 3_600_000 for row in body["liquidations"]})


@pytest.fixture(scope="module")
def app_under_test(live_app: RunningApp) -> RunningApp:
    """The app the ``page`` fixture's pages may talk to (a module can override it)."""
    return live_app


@pytest.fixture(scope="module")
def browser(app_under_test: RunningApp) -> Iterator:
    """One headless Chromium for the module, with a fresh profile (started after the app)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    args = [a for a in CHROMIUM_ARGS if a != "--headless"]  # Playwright passes its own
    with (
        tempfile.TemporaryDirectory(prefix="heatmap-chromium-") as profile,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=args,
            viewport=LAPTOP, accept_downloads=True,
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser, app_under_test: RunningApp) -> Iterator:
    """A fresh page; the test fails on console errors and on failed or foreign requests."""
    page = browser.new_page()
    problems: list[str] = []

    def console(message) -> None:
        if message.type in ("error", "assert"):
            problems.append(f"console {message.type}: {message.text}")

    def response(resp) -> None:
        if resp.status >= 400:
            problems.append(f"HTTP {resp.status} {resp.url}")

    def failed(request) -> None:
        aborted = "ERR_ABORTED" in (request.failure or "")
        if not (aborted and "/_dash-update-component" in request.url):  # a reload cancels those
            problems.append(f"request failed: {request.url} {request.failure}")

    def foreign(request) -> None:
        if not request.url.startswith((app_under_test.base, "data:", "blob:")):
            problems.append(f"request left the app: {request.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", response)
    page.on("requestfailed", failed)
    page.on("request", foreign)
    yield page
    page.close()
    assert problems == []


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """Saves a full-page screenshot under .artifacts/screenshots/ (look at them)."""

    def save(page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
