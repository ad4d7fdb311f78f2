"""The application factory and the command line.

``create_app()`` builds the Dash app, registers the JSON API on its Flask server and (unless told
not to) starts the engine service. Nothing is built, started or bound at import time.

    python app.py [--host H] [--port P]          # development server
    python app.py --demo [--speed 60]            # offline: a simulated market on loopback
    python app.py record --out frames.jsonl      # ingest and keep every raw frame
    python app.py replay frames.jsonl --speed 60 # a recording into a fresh store
    gunicorn 'app:create_server()'               # production (see Procfile: one worker)
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import functools
import logging
import shutil
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import dash
from dash import html
from flask import Flask

import callbacks
import layouts
from api import register_api
from api.settings import ApiSettings
from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.logsetup import configure_logging
from heatmap_engine.service import HeatmapService

log = logging.getLogger(__name__)

SERVICE_EXTENSION = "heatmap"
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
    # Dash answers every other path with this page too, so /liquidation-heatmap?symbol=... works
    # and survives a reload; a dcc.Location inside reads the query string.
    app.layout = functools.partial(_layout, service)
    callbacks.register(app, service)
    app.server.extensions[SERVICE_EXTENSION] = service
    register_api(app.server, service, api_settings)
    if start_engine:
        service.start()
    return app


def create_server() -> Flask:
    """Gunicorn factory: ``gunicorn 'app:create_server()'``. Stops the engine at worker exit."""
    settings = Settings.from_env()
    configure_logging(settings)  # gunicorn configures only its own loggers
    app = create_app(settings)
    service: HeatmapService = app.server.extensions[SERVICE_EXTENSION]
    atexit.register(service.stop, 5.0)
    return app.server


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
    shutil.rmtree(demo_dir, ignore_errors=True)
    market = start_demo_market(
        seed=args.seed, speed=args.speed, prefill_minutes=args.prefill_minutes
    )
    demo_settings = dataclasses.replace(
        settings,
        binance_ws_url=market.ws_market_base,
        binance_rest_url=market.rest_base,
        data_dir=str(demo_dir),
    )
    return HeatmapService(demo_settings, mode="demo", event_time=True), market


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    market = None
    service = None
    if getattr(args, "demo", False):
        service, market = _demo_service(settings, args)
    app = create_app(settings, service=service)
    service = app.server.extensions[SERVICE_EXTENSION]
    log.info("serving on http://%s:%d%s", settings.host, settings.port, " (demo)" if market else "")
    try:
        app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)
    finally:
        service.stop(5.0)
        if market is not None:
            market.stop()
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _record(args: argparse.Namespace) -> int:
    from heatmap_engine.cli import record

    status = record(_settings(args), args.out, args.seconds, _stop_on_signals())
    print(f"recorded {status['feed'].get('frames', 0)} frames to {args.out}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from heatmap_engine.cli import replay

    settings = _settings(args)
    if args.data_dir:
        settings = dataclasses.replace(settings, data_dir=args.data_dir)
    status = replay(settings, args.file, args.replay_speed, _stop_on_signals())
    engine = status["engine"]
    print(
        f"replayed {status['feed'].get('frames', 0)} frames: {engine['liquidations']} liquidations"
        f" into {settings.data_dir}"
    )
    return 0


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
    return parser


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo", action="store_true", help="serve a simulated market (offline, loopback only)"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="demo market speed factor")
    parser.add_argument("--seed", type=int, default=7, help="demo market random seed")
    parser.add_argument(
        "--prefill-minutes", type=float, default=60.0, help="demo history to simulate first"
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


if __name__ == "__main__":
    raise SystemExit(main())
