"""The rule that makes the engine's status tree fit for the public ``/api/stats``.

It works by key over the whole tree (every nested mapping and list), so a status field added
anywhere in the engine follows it without a change here:

1. A key named ``path`` or ``private``, or ending in ``_path`` or ``_detail``, is dropped with
   everything under it: file paths and raw details are for the log and the operator.
2. A key named ``error`` or ending in ``_error`` whose value is text holds an exception's words:
   the text is replaced by its category (``error_category``: "name not resolved", "connection
   refused", "disk full" ...), and the raw text is logged once.
3. Everything else is kept. Name a field so that this rule does the right thing: a reason meant
   for the public (in plain words, no path, no exception text) ends in ``_reason``; a raw one
   ends in ``_detail``; a count of failures by category is a mapping (``errors``).

``HEATMAP_STATS_DETAILS=1`` turns the rule off, for an operator whose port is not public.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

_DROPPED_NAMES = frozenset({"path", "private"})
_DROPPED_SUFFIXES = ("_path", "_detail")
_LOGGED_MAX = 256
# (words in the lower-cased text, category), first match wins
_CATEGORIES = (
    (("name or service not known", "nodename nor servname", "name resolution",
      "getaddrinfo", "no address associated"), "name not resolved"),
    (("connection refused", "errno 111"), "connection refused"),
    (("timed out", "timeout"), "timed out"),
    (("connection reset", "broken pipe", "remotely closed", "connection aborted"),
     "connection lost"),
    (("certificate", "ssl"), "TLS failed"),
    (("no space left", "database or disk is full", "disk full", "errno 28"), "disk full"),
    (("read-only", "readonly", "errno 30"), "read-only storage"),
    (("permission denied", "errno 13"), "permission denied"),
    (("database is locked",), "database locked"),
    (("429", "too many requests", "rate limit"), "rate limited"),
    (("418", "banned"), "banned by the exchange"),
    (("json", "expecting value"), "unreadable answer"),
)  # fmt: skip
OTHER = "failed (the server log has the details)"


def error_category(text: str) -> str:
    """The category of an exception's text, in plain words."""
    lowered = text.lower()
    for words, category in _CATEGORIES:
        if any(word in lowered for word in words):
            return category
    return OTHER


def _dropped(key: Any) -> bool:
    return key in _DROPPED_NAMES or (isinstance(key, str) and key.endswith(_DROPPED_SUFFIXES))


def _is_free_text_error(key: Any, value: Any) -> bool:
    return isinstance(value, str) and (key == "error" or str(key).endswith("_error"))


class PublicStatus:
    """Applies the rule; remembers which raw texts it has logged (each once)."""

    def __init__(self, details: bool = False):
        self.details = details
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, tree: Any) -> Any:
        if self.details:
            return tree
        return self._public(tree)

    def _public(self, tree: Any) -> Any:
        if isinstance(tree, list):
            return [self._public(item) for item in tree]
        if not isinstance(tree, Mapping):
            return tree
        out: dict[str, Any] = {}
        for key, value in tree.items():
            if isinstance(value, Mapping | list):
                if not _dropped(key):
                    out[key] = self._public(value)
            elif _is_free_text_error(key, value):
                self._log_once(key, value)
                out[key] = error_category(value)
            elif not _dropped(key):
                out[key] = value
        return out

    def _log_once(self, where: str, text: str) -> None:
        with self._lock:
            if text in self._logged or len(self._logged) >= _LOGGED_MAX:
                return
            self._logged.add(text)
        log.warning("status %s: %s (shown in /api/stats as %r)", where, text,
                    error_category(text))  # fmt: skip
