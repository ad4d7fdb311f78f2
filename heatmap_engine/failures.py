"""Unexpected failures inside background loops: logged once per kind, then counted.

A loop boundary (the engine applying an event, the REST thread, a feed supervisor) hands what it
caught to ``Failures.record``: the first failure of each kind (where, exception type) is logged
with its traceback at ERROR, repeats only at DEBUG, and ``as_dict()`` counts them all for
``/api/stats`` (kinds in words, never exception text).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter


class Failures:
    def __init__(self, log: logging.Logger):
        self._log = log
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, where: str, exc: BaseException) -> bool:
        """Count ``exc`` caught in ``where``; True when it was logged with its traceback."""
        kind = f"{where}: {type(exc).__name__}"
        with self._lock:
            self._counts[kind] += 1
            first = self._counts[kind] == 1
        if first:
            self._log.error("%s failed (logged once; repeats are counted)", where, exc_info=exc)
        else:
            self._log.debug("%s failed again: %r", where, exc)
        return first

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
