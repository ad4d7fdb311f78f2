"""Backoff, watchdog and recording: pure pieces tested without sockets or sleeping."""

from __future__ import annotations

import random

from heatmap_engine.exchanges import binance
from heatmap_engine.feed_connection import watchdog_verdict
from heatmap_engine.network import backoff_delay
from heatmap_engine.recording import Recorder, ReplaySource, read_recording


def test_backoff_grows_exponentially_is_capped_and_jittered():
    rng = random.Random(7)
    delays = [backoff_delay(a, 1.0, 60.0, rng) for a in range(12)]
    for attempt, delay in enumerate(delays):
        step = min(60.0, 2.0**attempt)
        assert step / 2 <= delay <= step
    assert max(delays) <= 60.0
    assert len({round(d, 6) for d in delays[7:]}) > 1  # jitter: capped attempts still differ


def test_backoff_never_overflows_on_huge_attempt_counts():
    assert backoff_delay(10_000, 0.5, 30.0, random.Random(1)) <= 30.0


def test_watchdog_trips_only_after_the_silence_limit():
    assert not watchdog_verdict(now=100.0, last_data_at=90.0, silence_seconds=15.0)
    assert watchdog_verdict(now=105.0, last_data_at=90.0, silence_seconds=15.0)


def test_recording_round_trip_and_damaged_lines_are_skipped(tmp_path, fixture_frame):
    path = tmp_path / "rec" / "frames.jsonl"
    recorder = Recorder(path, flush_every=1)
    frames = [
        fixture_frame("force_order_live_2026_wrapped.json"),
        fixture_frame("not_json.txt"),
        fixture_frame("mark_price_arr_part1.json").encode(),
    ]
    # receive times shortly after each frame's event time (the fixtures come from two days)
    received = [1_791_565_603_200, 1_791_565_603_300, 1_788_936_948_100]
    for when, frame in zip(received, frames, strict=True):
        recorder.write(when, frame)
    recorder.close()
    with path.open("a") as handle:
        handle.write('{"received_at_ms": "broken"\n')
    replayed = list(read_recording(path))
    assert [t for t, _ in replayed] == received
    assert replayed[2][1] == frames[2].decode()

    events = []
    source = ReplaySource(path, binance.ADAPTER, events.extend)
    source.run()
    status = source.status()
    assert status["frames"] == 3
    assert status["parse_errors"] == {"not_json": 1}
    assert [type(e).__name__ for e in events] == ["Liquidation", "MarkPrice", "MarkPrice"]
    assert events[0].received_at_ms == received[0]  # the recorded receive time, not replay time


def test_streams_are_packed_into_connections_base_first():
    from heatmap_engine.feed_group import pack_streams

    extra = tuple(f"s{i}@kline_1m" for i in range(5))
    chunks = pack_streams(("!a", "!b"), extra, 3)
    assert chunks == [
        ("!a", "!b", "s0@kline_1m"),
        ("s1@kline_1m", "s2@kline_1m", "s3@kline_1m"),
        ("s4@kline_1m",),
    ]
    assert pack_streams((), (), 3) == [()]


def test_subscribe_messages_are_chunked_with_increasing_ids():
    import orjson

    streams = tuple(f"s{i}@kline_1m" for i in range(120))
    messages = [orjson.loads(m) for m in binance.subscribe_messages(100, streams)]
    assert [m["id"] for m in messages] == [100, 101, 102]
    assert [len(m["params"]) for m in messages] == [50, 50, 20]
    assert [s for m in messages for s in m["params"]] == list(streams)
