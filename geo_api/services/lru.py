"""A small thread-safe LRU cache (tiles, pages, computed feature collections)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRU:
    """Tiny thread-safe LRU cache, bounded by entries and optionally by bytes
    (``weigh(value)`` gives an entry's size; tiles are bounded so odd query strings cannot
    grow the cache without limit)."""

    def __init__(self, size: int, max_bytes: int | None = None,
                 weigh: Callable[[Any], int] | None = None):
        self.size, self.lock = size, threading.Lock()
        self.data: OrderedDict[Hashable, Any] = OrderedDict()
        self.max_bytes, self.weigh, self.nbytes = max_bytes, weigh, 0

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value):
        with self.lock:
            if self.weigh is not None:
                old = self.data.get(key)
                self.nbytes += self.weigh(value) - (self.weigh(old) if old is not None else 0)
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size or (
                    self.max_bytes is not None and self.nbytes > self.max_bytes
                    and len(self.data) > 1):
                _, dropped = self.data.popitem(last=False)
                if self.weigh is not None:
                    self.nbytes -= self.weigh(dropped)
        return value
