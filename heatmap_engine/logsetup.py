"""Logging for the command-line entry points (``python app.py``, ``python -m heatmap_engine``).

* one handler on the root logger, at ``HEATMAP_LOG_LEVEL``;
* no ANSI colour codes unless the output is a terminal (werkzeug colours its access lines);
* access lines (werkzeug's dev server) only with ``HEATMAP_ACCESS_LOG=1``: a dashboard tab
  polls every 5 seconds, which would otherwise fill the log. Under gunicorn, ``gunicorn.conf.py``
  reads the same setting for gunicorn's own access log.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from heatmap_engine.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ACCESS_LOGGERS = ("werkzeug",)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class PlainFormatter(logging.Formatter):
    """A formatter that removes ANSI escape sequences (``strip`` False keeps them)."""

    def __init__(self, fmt: str = FORMAT, strip: bool = True):
        super().__init__(fmt)
        self.strip = strip

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return _ANSI.sub("", text) if self.strip else text


def configure_logging(
    settings: Settings, stream: TextIO | None = None, force: bool = False
) -> logging.Handler | None:
    """Install the handler and the levels; returns the handler. Like ``logging.basicConfig``,
    it leaves a root logger that someone else already configured (a test runner, a host
    application) alone unless ``force``; the access-line levels are set either way."""
    access = logging.INFO if settings.access_log else logging.WARNING
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).setLevel(access)
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not isinstance(h.formatter, PlainFormatter)]
    if foreign and not force:
        return None
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter(FORMAT, strip=not _is_terminal(stream)))
    for old in [h for h in root.handlers if isinstance(h.formatter, PlainFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler
