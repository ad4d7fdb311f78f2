"""The application factory and the command line.

``create_app()`` builds the Dash app, registers the JSON API on its Flask server and (unless told
not to) starts the engine service. Nothing is built, started or bound at import time.

    python app.py [--host H] [--port P]          # development server
    python app.py --demo [--speed 60]            # offline: a simulated market on loopback
    python app.py record --out frames.jsonl      # ingest and keep every raw frame
    python app.py replay frames.jsonl --speed 60 # a recording into a fresh store
    python app.py levels --candles C.csv --open-interest OI.csv [--range 7d]  # estimated levels
    gunicorn --workers 1 --threads 8 'app:create_server()'   # production (see Procfile)

One process ingests and writes history per data folder (``HEATMAP_DATA_DIR``): a second one (a
second gunicorn worker, another ``app.py``) is refused at start with a message and exit status 3,
as is an unusable folder; ``gunicorn --preload`` is refused too (see ``create_server``).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import dash
from dash import html
from flask import Flask

import callbacks
import layouts
from api import register_api
from api.settings import ApiSettings
from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.history.data_dir import EXIT_DATA_DIR, DataDirError, DataDirLock, reset_store
from heatmap_engine.history.runtime import DB_NAME
from heatmap_engine.logsetup import configure_logging
from heatmap_engine.service import HeatmapService

log = logging.getLogger(__name__)

SERVICE_EXTENSION = "heatmap"
DEMO_MAX_LEAD_SECONDS = 10.0  # simulated seconds the demo market may run ahead of the data
REFUSAL_LOCK_NAME = "heatmap.refusing.lock"  # held by the one worker that says "busy"
ASSETS = Path(__file__).resolve().parent / "assets"


def _layout(service: HeatmapService) -> html.Div:
    """The dashboard, built afresh for every page load (the universe may have grown)."""
    return layouts.page(service.symbols, history=service.settings.history)


def create_app(
    settings: Settings | None = None,
    service: HeatmapService | None = None,
    start_engine: bool = True,
    api_settings: ApiSettings | None = None,
) -> dash.Dash:
    """The Dash app with the API on ``app.server``; the service is in ``server.extensions``."""
    settings = settings or Settings.from_env()
    api_settings = api_settings or ApiSettings.from_env()
    service = service or HeatmapService(settings)
    app = dash.Dash(
        __name__,
        title="Liquidation heatmap",
        update_title=None,
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=False,
        meta_tags=[{"name": "color-scheme", "content": "dark"}],
        add_log_handler=False,  # its lines go through the root handler, once
    )
    callbacks.delivery.install(app)  # compression and cache lifetimes, before any other hook
    # Dash answers every other path with this page too, so /liquidation-heatmap?symbol=... works
    # and survives a reload; a dcc.Location inside reads the query string.
    app.layout = functools.partial(_layout, service)
    callbacks.register(app, service)
    app.server.extensions[SERVICE_EXTENSION] = service
    register_api(app.server, service, api_settings)
    if start_engine:
        service.start()
    return app


PRELOAD_REFUSED = (
    "gunicorn --preload is not supported: the app was built and its engine started in the "
    "master process, so this worker has none of the engine's threads (exchange connection, "
    "clusters, history writer) and would serve a frozen state. Run without --preload: "
    "gunicorn --workers 1 --threads 8 'app:create_server()'\n"
)


def create_server() -> Flask:
    """Gunicorn factory: ``gunicorn --workers 1 --threads 8 'app:create_server()'``; stops the
    engine at worker exit. A worker refused its data folder (another worker holds it, or it is
    unusable), or given a bad setting, logs why in one line and exits with status 3, on which
    gunicorn's master stops (rather than booting workers that fail again and again). A process
    forked after the engine started (``--preload``) exits the same way at once."""
    try:
        settings = Settings.from_env()
        configure_logging(settings)  # gunicorn configures only its own loggers
        app = create_app(settings)
    except (DataDirError, ConfigError) as exc:  # one line, and a master that stops
        _refuse_worker(exc)
    service: HeatmapService = app.server.extensions[SERVICE_EXTENSION]
    atexit.register(service.stop, 5.0)
    os.register_at_fork(after_in_child=functools.partial(_refuse_forked_child, service))
    return app.server


def _refuse_worker(exc: DataDirError | ConfigError) -> NoReturn:
    """Says why, then exits 3. Of several workers refused a busy folder at once, only the first
    exits: gunicorn's master stops on that exit, and a second exit 3 during its halt would end
    it with a traceback and status 1 (gunicorn 27); the others wait for the master's SIGTERM."""
    if isinstance(exc, DataDirError) and exc.cause == "busy" and exc.folder is not None:
        first = DataDirLock(exc.folder, REFUSAL_LOCK_NAME)  # held until this process exits
        try:
            first.acquire()
        except DataDirError:  # another worker is already saying it
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)
            time.sleep(10.0)  # well within gunicorn's worker timeout; then refuse anyway
            raise SystemExit(EXIT_DATA_DIR) from None
    log.error("%s", exc)
    raise SystemExit(EXIT_DATA_DIR) from None


def _refuse_forked_child(service: HeatmapService) -> None:
    """In a child forked while ``service`` runs: the threads stayed in the parent."""
    if service.running:
        os.write(2, PRELOAD_REFUSED.encode())
        os._exit(EXIT_DATA_DIR)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v is not None
    }
    settings = Settings.from_env(**overrides)
    configure_logging(settings)
    return settings


def _demo_service(settings: Settings, args: argparse.Namespace) -> tuple[HeatmapService, object]:
    """A simulated market on loopback, and a service in demo mode reading it via the real
    client. Demo history goes to a fresh folder of its own each run: it never mixes with real
    data, and one demo's simulated clock never leaks into the next."""
    from market_sim.demo import start_demo_market

    demo_dir = Path(settings.data_dir) / "demo"
    if settings.history:
        reset_store(demo_dir, DB_NAME)
    market = start_demo_market(
        seed=args.seed, speed=args.speed, prefill_minutes=args.prefill_minutes
    )
    demo_settings = dataclasses.replace(
        settings,
        binance_ws_url=market.ws_market_base,
        binance_rest_url=market.rest_base,
        data_dir=str(demo_dir),
        backfill_kline_days=market.history_days,  # the demo serves this much: take it all
    )
    # the demo market's simulated clock is the reference of the feed's lag, and the market
    # runs no further ahead of what the service has received than DEMO_MAX_LEAD_SECONDS
    service = HeatmapService(demo_settings, mode="demo", event_time=True, clock=market.clock_ms)
    market.follow(service.feed_lag_seconds, DEMO_MAX_LEAD_SECONDS)
    return service, market


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    market = None
    service = None
    stopped = True
    try:
        if getattr(args, "demo", False):
            service, market = _demo_service(settings, args)
        app = create_app(settings, service=service)
        service = app.server.extensions[SERVICE_EXTENSION]
        demo = " (demo)" if market else ""
        log.info("serving on http://%s:%d%s", settings.host, settings.port, demo)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop, as Ctrl-C is
        try:
            app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)
        except KeyboardInterrupt:
            log.info("interrupted: stopping")
    finally:
        if service is not None:
            stopped = service.stop(5.0)
        if market is not None:
            market.stop()
    return 0 if stopped else 1


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _record(args: argparse.Namespace) -> int:
    from heatmap_engine.cli import record

    status, stopped = record(_settings(args), args.out, args.seconds, _stop_on_signals())
    print(f"recorded {status['feed'].get('frames', 0)} frames to {args.out}")
    return 0 if stopped else 1


def _replay(args: argparse.Namespace) -> int:
    from heatmap_engine.cli import replay

    settings = _settings(args)
    if args.data_dir:
        settings = dataclasses.replace(settings, data_dir=args.data_dir)
    if not Path(args.file).is_file():
        log.error("no recording at %s", args.file)
        return 2
    status, stopped = replay(settings, args.file, args.replay_speed, _stop_on_signals())
    engine = status["engine"]
    print(
        f"replayed {status['feed'].get('frames', 0)} frames: {engine['liquidations']} liquidations"
        f" into {settings.data_dir}" + ("" if stopped else " (stop incomplete: see the log)")
    )
    return 0 if stopped else 1


def _levels(args: argparse.Namespace) -> int:
    """The estimated-levels JSON of two CSV files on stdout; bad input: one line, exit 2."""
    import sys

    import orjson

    from api.levels_payload import coinglass_payload, levels_payload
    from heatmap_engine.levels.cli import levels_from_files
    from heatmap_engine.levels.series import LevelsInputError

    try:
        result = levels_from_files(
            args.candles,
            args.open_interest,
            at=args.at,
            range_name=args.range,
            preset=args.preset,
            symbol=args.symbol,
        )
    except (LevelsInputError, ConfigError) as exc:
        print(f"app.py levels: error: {exc}", file=sys.stderr)
        return 2
    body = coinglass_payload(result) if args.format == "coinglass" else levels_payload(result)
    sys.stdout.buffer.write(orjson.dumps(body) + b"\n")
    return 0


def _add_levels_command(subcommands) -> None:
    from heatmap_engine.levels import PRESETS, RANGES_MS

    levels = subcommands.add_parser(
        "levels", help="estimated liquidation levels from CSV files, as JSON on stdout"
    )
    levels.add_argument(
        "--candles", required=True, help="CSV: open_time, open, high, low, close[, volume, …]"
    )
    levels.add_argument("--open-interest", required=True, help="CSV: time, open_interest_usd")
    levels.add_argument("--at", default=None, help="end of the range (default: the last candle)")
    levels.add_argument("--range", default="7d", choices=list(RANGES_MS))
    levels.add_argument(
        "--preset", default=None, choices=PRESETS, help="leverage tiers (HEATMAP_LEVELS_PRESET)"
    )
    levels.add_argument("--symbol", default=None, help="contract, for its leverage brackets")
    levels.add_argument("--format", default="levels", choices=("levels", "coinglass"))
    levels.set_defaults(handler=_levels)


def _add_server_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    # A subcommand's options default to SUPPRESS, so they never erase the same top-level option.
    parser.add_argument(
        "--host", default=default, help="bind address (default HEATMAP_HOST or 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=default, help="port (default HEATMAP_PORT or 8004)"
    )


def build_parser() -> argparse.ArgumentParser:
    """``app.py [--host H] [--port P]`` serves; subcommands (``record``, ``replay``) go on
    ``subcommands``: each sets ``handler`` with ``set_defaults``."""
    parser = argparse.ArgumentParser(prog="app.py", description=__doc__.splitlines()[0])
    _add_server_options(parser)
    _add_demo_options(parser)
    parser.set_defaults(handler=_serve)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = subcommands.add_parser("serve", help="run the web server (the default)")
    _add_server_options(serve, default=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)
    record = subcommands.add_parser("record", help="ingest and record every raw frame (JSONL)")
    record.add_argument("--out", required=True, help="JSON lines file to append frames to")
    record.add_argument("--seconds", type=float, default=None, help="stop after this long")
    record.set_defaults(handler=_record)
    replay = subcommands.add_parser("replay", help="replay a recording into a fresh store")
    replay.add_argument("file", help="a recording made by `app.py record`")
    replay.add_argument(
        "--speed", dest="replay_speed", type=float, default=0.0, help="1 = recorded pace, 0 = max"
    )
    replay.add_argument("--data-dir", default=None, help="store folder (default HEATMAP_DATA_DIR)")
    replay.set_defaults(handler=_replay)
    _add_levels_command(subcommands)
    return parser


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo", action="store_true", help="serve a simulated market (offline, loopback only)"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="demo market speed factor")
    parser.add_argument("--seed", type=int, default=7, help="demo market random seed")
    parser.add_argument(
        "--prefill-minutes", type=float, default=1440.0, help="demo history to simulate first"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        parser.error(str(exc))  # exits with status 2 and the variable's name in the message
        raise
    except DataDirError as exc:  # one message naming HEATMAP_DATA_DIR and what to do
        log.error("%s", exc)
        return EXIT_DATA_DIR


if __name__ == "__main__":
    raise SystemExit(main())
