"""A small thread-safe LRU bounded by total weight (bytes, or entries).

The engine caches *stored bytes* and decoded records with it: immutable
content, so a hit can never be stale (see engine/reader.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LRU:
    """Least-recently-used eviction once the summed weights exceed ``max_weight``."""

    def __init__(self, max_weight: int) -> None:
        self.max_weight = max_weight
        self.weight = 0
        self._data: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            self._data.move_to_end(key)
            return hit[0]

    def put(self, key: Any, value: Any, weight: int = 1) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            self._data[key] = (value, weight)
            self.weight += weight
            while self.weight > self.max_weight and self._data:
                _, (_, w) = self._data.popitem(last=False)
                self.weight -= w

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.weight = 0
