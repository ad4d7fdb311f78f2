"""The page's words while the feed is not live, and the charts and lists that use them."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard.heatmap import heatmap_figure
from dashboard.liqmap import liquidation_map_figure
from dashboard.outage import FeedFacts, cause, empty_text, outage, venue
from dashboard.points import Points
from dashboard.state import ViewState
from dashboard.timeline import timeline_figure

BINANCE = "wss://fstream.binance.com/stream"
QUIET = ("No liquidations", "no cluster yet", "No cluster", "No candles")


def facts(state: str, **fields) -> FeedFacts:
    return FeedFacts(state=state, url=fields.pop("url", BINANCE), **fields)


def notes(figure: dict) -> list[str]:
    go.Figure(figure)  # a figure Plotly accepts
    return [a["text"] for a in figure["layout"].get("annotations", []) if "<b>" not in a["text"]]


def test_never_connected_names_venue_host_cause_retry_and_that_nothing_is_live():
    down = outage(facts("reconnecting", reason="cannot reach fstream.binance.com: name not "
                        "resolved", next_retry_in=26.3))  # fmt: skip
    assert down.text == (
        "Cannot reach Binance (fstream.binance.com): name not resolved. "
        "Retrying within 26 s. Nothing shown here is live."
    )
    assert down.chart_text.split("<br>") == [  # a line per clause: phones are narrow
        "Cannot reach Binance (fstream.binance.com):", "name not resolved.",
        "Retrying within 26 s.", "Nothing shown here is live.",
    ]  # fmt: skip
    assert outage(facts("connecting")).chart_text.split("<br>")[0].endswith("…")


def test_raw_exception_text_never_reaches_the_page():
    raw = "error: ConnectionRefusedError: [Errno 111] Connection refused"
    down = outage(facts("reconnecting", url="ws://127.0.0.1:9/market/stream", reason=raw))
    assert down.headline == "Cannot reach Binance (127.0.0.1:9): the connection failed"
    assert "Errno" not in down.text and "ConnectionRefusedError" not in down.text
    assert cause(None) is None and cause("closed by server") == "closed by server"


def test_the_first_attempt_and_the_wait_for_first_data_say_nothing_is_live_yet():
    first = outage(facts("connecting"))
    assert first.headline == "Connecting to Binance (fstream.binance.com)…"
    waiting = outage(facts("subscribing", connects=1))
    assert waiting.headline.startswith("Connected to Binance") and "live yet" in waiting.detail


def test_a_lost_connection_says_how_old_the_data_is():
    down = outage(facts("reconnecting", connects=3, reason="closed by server",
                        next_retry_in=4.0, seconds_since_frame=185.0))  # fmt: skip
    assert down.headline == "Lost the connection to Binance (fstream.binance.com): closed by server"
    assert (
        down.detail
        == "Reconnecting within 4.0 s. Nothing shown here is live: the last data came 3 min ago."
    )


@pytest.mark.parametrize(
    ("state", "seconds", "silent"),
    [("live", 0.4, False), ("demo", 2.0, False), ("live", 14.9, False), ("live", 15.0, True),
     ("demo", 600.0, True)],
)  # fmt: skip
def test_a_live_feed_is_an_outage_only_once_silent_for_the_watchdog_limit(state, seconds, silent):
    down = outage(facts(state, connects=1, seconds_since_frame=seconds, silence_seconds=15.0))
    assert (down is not None) == silent
    if silent:
        assert down.headline.startswith("No data from") and "not live" not in down.headline


def test_stopped_feeds_replays_and_fresh_reconnections():
    assert outage(facts("stopped")).headline == (
        "The feed from Binance (fstream.binance.com) is not running"
    )
    assert outage(facts("replay", mode="replay")) is None
    fresh = facts("subscribing", connects=2, seconds_since_frame=1.0)  # a rollover's new socket
    assert outage(fresh) is None


def test_the_demo_names_its_simulated_market():
    demo = FeedFacts(state="reconnecting", mode="demo", url="ws://127.0.0.1:8765/ws")
    assert venue(demo) == "the demo market (127.0.0.1:8765)"
    assert venue(FeedFacts(state="idle", url="")) == "Binance"


def test_from_status_reads_the_feed_stats_fields():
    status = {"url": BINANCE, "connects": 0, "last_disconnect_reason": "timed out",
              "next_retry_in": 9.5, "seconds_since_last_frame": None}  # fmt: skip
    read = FeedFacts.from_status("reconnecting", "live", status, 15.0)
    assert read == FeedFacts("reconnecting", "live", BINANCE, 0, "timed out", 9.5, None, 15.0)
    assert FeedFacts.from_status("idle", "live", {}, 15.0).connects == 0


def unreachable() -> str:
    return outage(facts("reconnecting", reason="name not resolved", next_retry_in=26)).chart_text


def test_empty_charts_say_the_feed_is_down_not_that_the_market_was_quiet(unpriced, now_ms):
    text = unreachable()
    doge = unpriced.snapshot("DOGEUSDT")  # no liquidation at all
    for figure in (
        heatmap_figure(doge, "DOGEUSDT", 0.0, 10.0, text),
        heatmap_figure(None, "DOGEUSDT", 0.0, 10.0, text),
        timeline_figure(
            [], Points.empty(), None, ViewState("DOGEUSDT"), now_ms - 1, now_ms, outage=text
        ),
        liquidation_map_figure(Points.empty(), None, "DOGEUSDT", "in the last 1h", "m", text),
    ):
        shown = notes(figure)
        assert shown == [text], shown
        assert not any(q in n for n in shown for q in QUIET)


def test_history_off_and_the_outage_share_one_note(now_ms):
    text = unreachable()
    figure = timeline_figure([], Points.empty(), None, ViewState("BTCUSDT"), now_ms - 1, now_ms,
                             history=False, outage=text)  # fmt: skip
    (note,) = notes(figure)
    assert "HEATMAP_HISTORY=0" in note and note.endswith(text)


def test_bands_are_still_drawn_and_filters_still_explained_while_the_feed_is_down(btc):
    text = unreachable()
    figure = heatmap_figure(btc, "BTCUSDT", 0.0, 10.0, text)
    assert sum(len(t["y"]) for t in figure["data"] if t["type"] == "bar") > 0
    assert notes(figure) == []
    hidden = notes(heatmap_figure(btc, "BTCUSDT", 1.0, 0.5, text))
    assert len(hidden) == 1 and "hidden by the filters" in hidden[0]


def test_cluster_lists_say_filters_feed_or_nothing_yet(btc, unpriced):
    down = outage(facts("reconnecting", reason="timed out"))
    assert empty_text(btc, down) == "No cluster passes the filters"
    assert empty_text(unpriced.snapshot("DOGEUSDT"), down) == down.text
    assert empty_text(None, None) == "No clusters in the window yet"
