"""Why the history store could not write, in plain words, and how long to wait before retrying.

``classify`` names the cause of a failed write (SQLite's result code first, else the OS errno);
``CAUSES`` says each in the words ``/api/health`` and the page show. ``WriteHealth`` is the
writer's state (ok or failing, since when, why), its errors counted by cause, the capped,
jittered backoff between attempts, and one log line per change of state, never one per batch.
"""

from __future__ import annotations

import errno
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

log = logging.getLogger(__name__)

CAUSES: dict[str, str] = {
    "disk_full": "disk full",
    "read_only": "database is read-only",
    "no_permission": "no permission to write the data folder",
    "cannot_open": "cannot open the database files",
    "locked": "database is locked by another program",
    "io_error": "disk I/O error",
    "corrupt": "database file is damaged",
    "bad_item": "a value the database cannot store",
    "store_error": "database error",
}
# SQLite's primary result codes (the low byte of an extended code)
_SQLITE_CAUSES = {
    3: "no_permission",  # SQLITE_PERM
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read_only",  # SQLITE_READONLY
    10: "io_error",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    13: "disk_full",  # SQLITE_FULL
    14: "cannot_open",  # SQLITE_CANTOPEN
    23: "no_permission",  # SQLITE_AUTH
    26: "corrupt",  # SQLITE_NOTADB
}
_ERRNO_CAUSES = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EROFS: "read_only",
    errno.EACCES: "no_permission",
    errno.EPERM: "no_permission",
    errno.EIO: "io_error",
}
# the data itself refused: a NOT NULL or other constraint (NaN is stored as NULL), a value of a
# type or size SQLite cannot bind, an integer beyond 64 bits (OverflowError from the binding,
# orjson.JSONEncodeError from the batch's JSON array)
_ITEM_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError)
_VALUE_ERRORS = (OverflowError, orjson.JSONEncodeError)


def classify(exc: BaseException) -> str:
    """The cause of a failed write, a key of ``CAUSES``. ``bad_item`` means the data itself was
    refused (a number out of SQLite's range, a constraint): retrying the same item cannot help."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in _SQLITE_CAUSES:
            return _SQLITE_CAUSES[code & 0xFF]
        return "bad_item" if isinstance(exc, _ITEM_ERRORS) else "store_error"
    if isinstance(exc, OSError):
        return _ERRNO_CAUSES.get(exc.errno or 0, "io_error")
    if isinstance(exc, _VALUE_ERRORS):
        return "bad_item"
    return "store_error"


class WriteHealth:
    """The writer's health: ``ok`` or ``failing``; errors by cause; the delay before a retry."""

    def __init__(
        self,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ):
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.clock = clock
        self.jitter = jitter
        self.errors: Counter[str] = Counter()
        self.cause: str | None = None  # set while failing
        self.failing_since: float | None = None
        self.attempts = 0  # failed attempts in the current failing stretch
        self.retry_delay = 0.0  # before the next attempt

    @property
    def failing(self) -> bool:
        return self.cause is not None

    def failed(self, exc: BaseException, queued: int) -> float:
        """Counts the failure, logs it if the state or the cause changed; returns the delay
        before the next attempt: doubling from ``retry_initial``, capped at ``retry_max``, each
        drawn between half and all of that (jitter, so retries never beat in step)."""
        cause = classify(exc)
        self.errors[cause] += 1
        self.attempts += 1
        if cause != self.cause:
            log.error(
                "history store cannot write: %s (%s: %s); %d items stay queued and are retried",
                CAUSES[cause], type(exc).__name__, exc, queued,
                exc_info=cause == "store_error",  # unexpected: keep the traceback in the log
            )  # fmt: skip
        if self.failing_since is None:
            self.failing_since = self.clock()
        self.cause = cause
        ceiling = min(self.retry_max, self.retry_initial * 2 ** min(self.attempts - 1, 30))
        self.retry_delay = ceiling * (0.5 + 0.5 * self.jitter())
        return self.retry_delay

    def succeeded(self, queued: int) -> None:
        if self.cause is None:
            return
        log.warning(
            "history store writes again after %.1fs and %d failed attempts (%s); %d items left "
            "in the queue",
            self.clock() - (self.failing_since or self.clock()), self.attempts,
            CAUSES[self.cause], queued,
        )  # fmt: skip
        self.cause, self.failing_since, self.attempts = None, None, 0

    def problem(self, queued: int) -> str | None:
        """The failure in words for ``/api/health`` and the page, None while writes succeed."""
        if self.cause is None:
            return None
        return f"history not saved: {CAUSES[self.cause]} ({queued:,} items waiting, retrying)"

    def status(self) -> dict[str, Any]:
        return {
            "state": "failing" if self.failing else "ok",
            "last_error": CAUSES[self.cause] if self.cause else None,
            "failing_for_seconds": (
                None if self.failing_since is None else self.clock() - self.failing_since
            ),
            "failed_attempts": self.attempts,
            "retry_delay_seconds": self.retry_delay if self.failing else None,
            "errors": dict(self.errors),
            "errors_total": sum(self.errors.values()),
        }
