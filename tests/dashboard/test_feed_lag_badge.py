"""The feed badge says how far the data is behind once that exceeds a few seconds."""

from __future__ import annotations

from dashboard.summary import LAG_SHOWN_SECONDS, feed_status


def test_the_badge_names_the_lag_beyond_a_few_seconds() -> None:
    calm = feed_status("demo", 0.4, 15.0, LAG_SHOWN_SECONDS - 0.5)
    assert calm.tone == "ok" and "behind" not in calm.sub
    late = feed_status("demo", 0.4, 15.0, 75.0)
    assert late.tone == "warn" and late.sub == "last frame 0.4 s ago · data 75 s behind"
    down = feed_status("reconnecting", 40.0, 15.0, 600.0)
    assert down.tone == "warn" and down.sub.endswith("data 10 min behind")
    assert "behind" not in feed_status("live", 0.4, 15.0, None).sub
