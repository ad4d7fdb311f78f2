"""The cluster table (sorting, CSV) and the statistics cards, against the API's own payloads."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

from api.resources.heatmap import best_payload, heatmap_payload
from dashboard import theme
from dashboard.summary import FEED_STATES, as_of, feed_status, stats
from dashboard.table import (
    COLUMN_KEYS,
    COLUMNS,
    DEFAULT_SORT,
    PHONE_COLUMNS,
    cell_class,
    clusters_csv,
    display_row,
    header_classes,
    next_sort,
    sort_clusters,
    table_caption,
)


@pytest.mark.parametrize("column", COLUMN_KEYS)
@pytest.mark.parametrize("descending", [True, False])
def test_every_column_sorts(btc, column, descending):
    rows = sort_clusters(btc.clusters, column, descending)
    assert sorted(c.cluster_id for c in rows) == sorted(c.cluster_id for c in btc.clusters)
    attribute = "last_updated_ms" if column == "last_updated" else column
    keys = [(getattr(c, attribute), c.cluster_id) for c in rows]
    assert keys == sorted(keys, reverse=descending)


def test_unknown_distances_sort_last_and_unknown_columns_fall_back(btc):
    no_price = [dataclasses.replace(c, distance_from_price=None) for c in btc.clusters[:2]]
    rows = sort_clusters([*no_price, *btc.clusters[2:]], "distance_from_price", False)
    assert [c.distance_from_price for c in rows[-2:]] == [None, None]
    assert sort_clusters(btc.clusters, "nope", True) == sort_clusters(
        btc.clusters, "price_level", True
    )


def test_clicking_a_header_sorts_then_flips():
    first = next_sort(None, "strength")
    assert first == {"column": "strength", "descending": True}
    assert next_sort(first, "strength") == {"column": "strength", "descending": False}
    assert next_sort(first, "side") == {"column": "side", "descending": False}
    classes = header_classes(first)
    assert classes[COLUMN_KEYS.index("strength")] == "hm-sort sorted-desc"
    assert classes.count("hm-sort") == len(COLUMN_KEYS) - 1
    assert header_classes(DEFAULT_SORT)[COLUMN_KEYS.index("price_level")].endswith("desc")


def test_csv_holds_what_is_shown_in_the_api_field_names(btc):
    shown = sort_clusters(btc.filtered(0.3, 10.0), "strength", True)
    rows = list(csv.DictReader(io.StringIO(clusters_csv("BTCUSDT", shown))))
    assert list(rows[0]) == ["symbol", *COLUMN_KEYS]
    api = {c["cluster_id"]: c for c in heatmap_payload("BTCUSDT", btc, 0.3, 10.0, 0)["clusters"]}
    assert [int(r["cluster_id"]) for r in rows] == [c.cluster_id for c in shown]
    for row in rows:
        expected = api[int(row["cluster_id"])]
        assert float(row["strength"]) == expected["strength"]
        assert float(row["total_notional"]) == expected["total_notional"]
        assert row["last_updated"] == expected["last_updated"]
        assert row["side"] == expected["side"]


def test_display_row_formats_every_column(btc):
    row = display_row(max(btc.clusters, key=lambda c: c.strength))
    assert set(row) == set(COLUMN_KEYS)
    assert row["side"] == "Long" and row["strength"] == "1.00" and row["price_level"] == "84,101.3"


def test_stat_cards_agree_with_the_api_payload(btc):
    cards = stats(btc, 0.2, 8.0)
    body = heatmap_payload("BTCUSDT", btc, 0.2, 8.0, btc.computed_at_ms)
    longs = sum(1 for c in body["clusters"] if c["side"] == "long")
    assert cards["price"].value == "90,000.0"
    assert cards["total"].value == str(body["total_clusters"])
    assert cards["total"].sub == f"of {body['clusters_before_filters']} in the window"
    assert (cards["long"].value, cards["short"].value) == (
        str(longs),
        str(body["total_clusters"] - longs),
    )
    assert cards["window"].value == str(btc.events_in_window)


def test_best_card_is_the_apis_best(btc):
    best = best_payload("BTCUSDT", btc, 0.2, 8.0, 0)["best"]
    card = stats(btc, 0.2, 8.0)["best"]
    assert card.value == f"{best['price_level']:,.1f}" and card.tone == best["side"]
    assert f"score {best['score']:.2f}" in card.sub and best["position"] in card.sub
    cluster = next(c for c in btc.clusters if c.cluster_id == best["cluster_id"])
    assert theme.fmt_usd(cluster.total_notional) in card.sub  # size beside the strength
    expected = best["strength"] / (1 + best["distance_from_price"])
    assert "score = strength / (1 + distance %)" in card.hint
    assert card.hint.count(f"{expected:.2f}") >= 1 and f"{best['strength']:.2f}" in card.hint


def test_cards_before_the_first_refresh_and_without_a_price(unpriced):
    assert {s.value for s in stats(None, 0.0, 10.0).values()} == {"—"}
    no_price = stats(unpriced.snapshot("BTCUSDT"), 0.0, 10.0)
    assert no_price["price"].sub == "no mark price yet"
    assert no_price["best"].sub == "no price yet"


@pytest.mark.parametrize(
    ("state", "label", "tone"),
    [("live", "Live", "ok"), ("demo", "Demo", "ok"), ("reconnecting", "Reconnecting", "warn"),
     ("subscribing", "Connecting", "warn"), ("idle", "Offline", "bad"),
     ("stopped", "Offline", "bad")],
)  # fmt: skip
def test_feed_states(state, label, tone):
    status = feed_status(state, 1.25, 15.0)
    assert (status.value, status.tone, status.sub) == (label, tone, "last frame 1.2 s ago")
    assert state in FEED_STATES


def test_a_silent_live_feed_warns_and_no_frame_says_so():
    assert feed_status("live", 42.0, 15.0).tone == "warn"
    assert feed_status("live", 42.0, 15.0).sub == "last frame 42 s ago"
    assert feed_status("live", None, 15.0).sub == "no frame yet"
    assert feed_status("weird", 1.0, 15.0).value == "Weird"


def test_as_of_names_time_and_version(btc):
    assert as_of(btc) == f"updated 12:00:00 UTC · v{btc.version}"
    assert as_of(None) == "no data yet"


@pytest.mark.parametrize(
    ("count", "words"), [(0, "0 clusters"), (1, "1 cluster"), (2, "2 clusters")]
)
def test_the_caption_counts_in_words(count, words):
    caption = table_caption(count, "BTCUSDT", {"column": "strength", "descending": True})
    assert caption == f"{words} of BTCUSDT · sorted by Strength ↓"


def test_a_phone_shows_the_columns_a_trader_reads_first():
    assert PHONE_COLUMNS == (
        "side", "price_level", "distance_from_price", "total_notional", "strength"
    )  # fmt: skip
    classes = {c.key: cell_class(c) for c in COLUMNS}
    assert classes["side"] is None and classes["price_level"] == "num"
    assert classes["cluster_id"] == "num wide-only" and classes["last_updated"] == "wide-only"
