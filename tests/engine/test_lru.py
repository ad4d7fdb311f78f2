"""The one size-bounded LRU behind the stored-hours, model-result and levels-body caches."""

from __future__ import annotations

from heatmap_engine.lru import SizedLru


def test_by_entries_the_least_recently_used_leaves_first():
    lru = SizedLru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert len(lru) == 2 and lru.size == 2


def test_by_bytes_a_replaced_item_counts_once_and_the_newest_always_stays():
    lru = SizedLru(10, size_of=len)
    lru.put("a", b"xxxx")
    lru.put("a", b"xxxxxx")  # replaced: 6 bytes held, not 10
    assert lru.size == 6
    lru.put("b", b"yyyy")
    assert lru.size == 10 and lru.get("a") == b"xxxxxx"
    lru.put("huge", b"z" * 50)  # larger than the bound: kept alone
    assert (lru.get("a"), lru.get("b"), lru.get("huge")) == (None, None, b"z" * 50)
    assert lru.size == 50
    lru.clear()
    assert len(lru) == 0 and lru.size == 0 and lru.get("huge") is None
