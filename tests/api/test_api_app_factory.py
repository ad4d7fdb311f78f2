"""The factory and the command line: nothing at import, the service on the server, CLI options."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import app as app_module
from api.settings import ApiSettings
from heatmap_engine.service import HeatmapService

ROOT = Path(__file__).resolve().parents[2]


def test_importing_app_starts_nothing():
    code = (
        "import threading, app; "
        "names = sorted(t.name for t in threading.enumerate()); "
        "assert names == ['MainThread'], names"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_service_is_stored_and_not_started_when_told(settings, service):
    dash_app = app_module.create_app(settings, service, start_engine=False,
                                     api_settings=ApiSettings.from_env({}))  # fmt: skip
    assert dash_app.server.extensions["heatmap"] is service
    assert service.started_at is None


def test_start_engine_starts_the_service_threads(settings):
    service = HeatmapService(settings, source_factory=_IdleSource)
    app_module.create_app(settings, service, api_settings=ApiSettings.from_env({}))
    try:
        assert service.started_at is not None
        assert "heatmap-engine" in {t.name for t in threading.enumerate()}
    finally:
        assert service.stop(5.0)


class _IdleSource:
    def __init__(self, sink):
        self.sink = sink

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 5.0) -> bool:
        return True

    def status(self) -> dict:
        return {"state": "connecting"}


def test_layout_is_a_swappable_function(client):
    assert callable(app_module._layout)
    assert client.get("/_dash-layout").get_json()["props"]["children"]


@pytest.mark.parametrize(
    ("argv", "host", "port"),
    [
        ([], None, None),
        (["--host", "0.0.0.0", "--port", "9000"], "0.0.0.0", 9000),
        (["--port", "9000", "serve"], None, 9000),
        (["serve", "--host", "::1"], "::1", None),
    ],
)
def test_cli_options(argv, host, port):
    args = app_module.build_parser().parse_args(argv)
    assert args.handler is app_module._serve
    assert getattr(args, "host", None) == host and getattr(args, "port", None) == port


def test_bad_settings_fail_fast_on_the_command_line(monkeypatch, capsys):
    monkeypatch.setenv("HEATMAP_UPDATE_INTERVAL", "never")
    with pytest.raises(SystemExit) as exit_info:
        app_module.main(["--port", "0"])
    assert exit_info.value.code == 2
    assert "HEATMAP_UPDATE_INTERVAL" in capsys.readouterr().err
