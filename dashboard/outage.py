"""Whether what the page shows is live, and when it is not, why, in a trader's words (pure).

Built from the feed's status (``heatmap_engine.feed_stats.FeedStats.as_dict``: ``state``,
``connects``, ``last_disconnect_reason``, ``next_retry_in``, ``url``,
``seconds_since_last_frame``). While no data ever arrived, or the feed is down or silent, the
page shows the banner, the charts show it in place of their quiet-market notes (which would be
false then) and the "updated … · vN" time is marked as not live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dashboard import theme
from heatmap_engine.models import Snapshot

LIVE_STATES = ("live", "demo")
DOWN_STATES = ("idle", "stopped")


@dataclass(frozen=True, slots=True)
class FeedFacts:
    state: str  # the service's feed state: live, demo, connecting, reconnecting, ...
    mode: str = "live"  # the service's mode: live, demo, replay
    url: str = ""
    connects: int = 0  # successful connections so far; 0 = never connected
    reason: str | None = None  # why the last connection ended (plain words)
    next_retry_in: float | None = None  # seconds the feed waits before its next attempt
    seconds_since_frame: float | None = None  # None = no frame ever
    silence_seconds: float = 15.0  # the feed restarts a connection this long silent

    @classmethod
    def from_status(
        cls, state: str, mode: str, feed: Mapping[str, Any], silence_seconds: float
    ) -> FeedFacts:
        """From the service's feed state and mode and its source's ``status()`` dict."""
        return cls(
            state=state,
            mode=mode,
            url=str(feed.get("url") or ""),
            connects=int(feed.get("connects") or 0),
            reason=feed.get("last_disconnect_reason"),
            next_retry_in=feed.get("next_retry_in"),
            seconds_since_frame=feed.get("seconds_since_last_frame"),
            silence_seconds=silence_seconds,
        )


@dataclass(frozen=True, slots=True)
class Outage:
    """``headline`` (what is wrong), ``detail`` (what happens next, how old the data is)."""

    headline: str
    detail: str

    @property
    def text(self) -> str:
        return f"{self.headline}. {self.detail}"

    @property
    def chart_text(self) -> str:
        """For a chart's centred note: the same words, a line per clause (a phone is narrow)."""
        head = self.headline.split(": ", 1)
        if len(head) == 2:
            head[0] += ":"
        lines = [*head, *self.detail.split(". ")]
        return "<br>".join(line if line.endswith((".", ":", "…")) else f"{line}." for line in lines)


def venue(facts: FeedFacts) -> str:
    """Who the feed talks to, and where: ``Binance (fstream.binance.com)``."""
    name = "the demo market" if facts.mode == "demo" else "Binance"
    parts = urlsplit(facts.url)
    host = parts.hostname or ""
    if host and parts.port:
        host = f"{host}:{parts.port}"
    return f"{name} ({host})" if host else name


def cause(reason: str | None) -> str | None:
    """The reason in words: ``cannot reach <host>: name not resolved`` -> ``name not resolved``
    (the page names the host itself). Raw exception text (``error: …``) is never shown: the log
    has it."""
    if not reason:
        return None
    text = reason.strip()
    if text.lower().startswith("error:"):
        return "the connection failed"
    if text.lower().startswith("cannot reach ") and ": " in text:
        text = text.split(": ", 1)[1]
    return text


def _retry(facts: FeedFacts, verb: str) -> str:
    if facts.next_retry_in is None:
        return f"{verb} now."
    return f"{verb} within {theme.fmt_age(max(facts.next_retry_in, 1.0))}."


def _age(facts: FeedFacts) -> str:
    if facts.seconds_since_frame is None:
        return "Nothing shown here is live."
    ago = theme.fmt_age(facts.seconds_since_frame)
    return f"Nothing shown here is live: the last data came {ago} ago."


def outage(facts: FeedFacts) -> Outage | None:
    """None while data flows; else what is wrong and what happens next."""
    where = venue(facts)
    if facts.mode == "replay":
        return None
    if facts.state in LIVE_STATES:
        silent = facts.seconds_since_frame
        if silent is None or silent < facts.silence_seconds:
            return None
        limit = theme.fmt_age(facts.silence_seconds)
        detail = f"The connection is restarted after {limit} of silence. {_age(facts)}"
        return Outage(f"No data from {where} for {theme.fmt_age(silent)}", detail)
    if facts.state in DOWN_STATES:
        return Outage(f"The feed from {where} is not running", _age(facts))
    why = cause(facts.reason)
    if facts.connects == 0:
        if why is None:
            return Outage(f"Connecting to {where}…", "Nothing shown here is live yet.")
        return Outage(f"Cannot reach {where}: {why}", f"{_retry(facts, 'Retrying')} {_age(facts)}")
    if facts.state == "reconnecting":
        lost = f"Lost the connection to {where}" + (f": {why}" if why else "")
        return Outage(lost, f"{_retry(facts, 'Reconnecting')} {_age(facts)}")
    silent = facts.seconds_since_frame
    if silent is None:  # connected, the first data not yet in
        return Outage(f"Connected to {where}, waiting for data", "Nothing shown here is live yet.")
    if silent < facts.silence_seconds:  # a new connection right after the last data
        return None
    return Outage(f"Reconnected to {where}, waiting for data", _age(facts))


def empty_text(snapshot: Snapshot | None, down: Outage | None) -> str:
    """What a list of clusters says when it is empty: the filters, the feed, or no cluster."""
    if snapshot and snapshot.clusters:
        return "No cluster passes the filters"
    if down is not None:
        return down.text
    return "No clusters in the window yet"
