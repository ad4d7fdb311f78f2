"""One thread-safe least-recently-used map bounded by a size: by entries (each counts 1) or by
bytes (``size_of`` an item). The caches of stored hours, model results and response bodies."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class SizedLru:
    """Items least recently used leave first once the sizes exceed ``max_size``; the newest
    item always stays, however large."""

    def __init__(self, max_size: int, size_of: Callable[[Any], int] = lambda item: 1) -> None:
        self.max_size, self.size, self._size_of = max_size, 0, size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, item: Any) -> None:
        size = self._size_of(item)
        with self._lock:
            old = self._items.pop(key, None)
            self.size += size - (old[1] if old else 0)
            self._items[key] = (item, size)
            while self.size > self.max_size and len(self._items) > 1:
                self.size -= self._items.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0
