"""``python -m heatmap_engine``: run the ingesting service alone (no web server).

It connects, keeps clusters and writes history until SIGINT/SIGTERM, logging a status line every
minute. Configuration comes from ``HEATMAP_*`` variables as for the web app. Exit status: 0
after a clean stop, 1 when the stop left something unwritten, 2 for a bad setting, 3 when the
data folder is unusable or held by another process.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.history.data_dir import EXIT_DATA_DIR, DataDirError
from heatmap_engine.logsetup import configure_logging
from heatmap_engine.service import HeatmapService


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log = logging.getLogger("heatmap_engine")
    try:
        service = HeatmapService(settings).start()
    except DataDirError as exc:  # one message naming HEATMAP_DATA_DIR and what to do
        log.error("%s", exc)
        return EXIT_DATA_DIR
    while not stop.wait(60.0):
        status = service.status()
        log.info(
            "state=%s liquidations=%d frames=%d",
            status["state"], status["engine"]["liquidations"], status["feed"].get("frames", 0),
        )  # fmt: skip
    return 0 if service.stop(10.0) else 1


if __name__ == "__main__":
    sys.exit(main())
