"""The application factory and the command line.

``create_app()`` builds the Dash app, registers the JSON API on its Flask server and (unless told
not to) starts the engine service. Nothing is built, started or bound at import time.

    python app.py [--host H] [--port P]          # development server
    gunicorn 'app:create_server()'               # production (see Procfile: one worker)
"""

from __future__ import annotations

import argparse
import atexit
import logging
from collections.abc import Callable, Sequence

import dash
from dash import html
from flask import Flask

from api import register_api
from api.settings import ApiSettings
from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.service import HeatmapService

log = logging.getLogger(__name__)

SERVICE_EXTENSION = "heatmap"


def _layout() -> html.Div:
    """Placeholder page until the dashboard lands; the dashboard replaces this function's body."""
    return html.Div(
        [
            html.H1("Liquidation heatmap"),
            html.P("The interactive dashboard is coming. Meanwhile the JSON API is live:"),
            html.Ul(
                [
                    html.Li(html.A("API documentation", href="/docs/")),
                    html.Li(html.A("/api/symbols", href="/api/symbols")),
                    html.Li(html.A("/api/heatmap/BTCUSDT", href="/api/heatmap/BTCUSDT")),
                    html.Li(html.A("/api/stats", href="/api/stats")),
                ]
            ),
        ]
    )


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
    app = dash.Dash(__name__, title="Liquidation heatmap", update_title=None)
    app.layout = _layout
    app.server.extensions[SERVICE_EXTENSION] = service
    register_api(app.server, service, api_settings)
    if start_engine:
        service.start()
    return app


def create_server() -> Flask:
    """Gunicorn factory: ``gunicorn 'app:create_server()'``. Stops the engine at worker exit."""
    app = create_app()
    service: HeatmapService = app.server.extensions[SERVICE_EXTENSION]
    atexit.register(service.stop, 5.0)
    return app.server


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings.from_env(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    app = create_app(settings)
    service: HeatmapService = app.server.extensions[SERVICE_EXTENSION]
    log.info("serving on http://%s:%d", settings.host, settings.port)
    try:
        app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)
    finally:
        service.stop(5.0)
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
    parser.set_defaults(handler=_serve)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = subcommands.add_parser("serve", help="run the web server (the default)")
    _add_server_options(serve, default=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)
    return parser


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
