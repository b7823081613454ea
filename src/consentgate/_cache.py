"""Memo tables bounded in entries and in bytes.

Most of what consentgate caches is keyed on what a visitor sends (a cookie, a
Host, an Accept-Language), so an entry's size is the client's to choose: a
cache bounded only in entries lets one client pin gigabytes with large headers.
A :class:`Memo` bounds both, and does not cache a call whose arguments are over
``max_key_bytes`` at all (it still answers it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo", "size_of"]

R = TypeVar("R")

#: What an entry costs beyond its key and value: the dict slot, the tuples, the objects.
ENTRY_OVERHEAD = 200


def size_of(value: object) -> int:
    """Roughly how many bytes ``value`` holds: strings and bytes by length, one level of
    tuples and sets by their items; anything else counts as a small object."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, tuple | frozenset):
        return sum(len(v) if isinstance(v, str | bytes) else 16 for v in value) + 8 * len(value)
    return 16


class Memo(Generic[R]):
    """``func`` with its results remembered, least recently used dropped first.

    ``value_bytes`` says what a result costs (the default counts it as small);
    a single result over an eighth of ``max_bytes`` is not kept, so one entry
    never flushes the rest.
    """

    __slots__ = (
        "_bytes",
        "_data",
        "_func",
        "_lock",
        "_value_bytes",
        "max_bytes",
        "max_entries",
        "max_key_bytes",
    )

    def __init__(
        self,
        func: Callable[..., R],
        *,
        max_entries: int,
        max_bytes: int,
        max_key_bytes: int,
        value_bytes: Callable[[R], int] | None = None,
    ) -> None:
        self._func = func
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_key_bytes = max_key_bytes
        self._value_bytes = value_bytes
        # Insertion order is recency: a hit is popped and put back at the end.
        self._data: dict[tuple[Hashable, ...], tuple[R, int]] = {}
        self._bytes = 0
        # Apps may read consent from a thread pool: storing and evicting take turns.
        self._lock = threading.Lock()

    def __call__(self, *args: Hashable) -> R:
        data = self._data
        hit = data.pop(args, None)
        if hit is not None:
            data[args] = hit
            return hit[0]
        key_bytes = sum(map(size_of, args))
        if key_bytes > self.max_key_bytes:
            return self._func(*args)
        value = self._func(*args)
        size = key_bytes + ENTRY_OVERHEAD
        if self._value_bytes is not None:
            size += self._value_bytes(value)
        if size * 8 > self.max_bytes:
            return value
        with self._lock:
            old = data.pop(args, None)
            if old is not None:
                self._bytes -= old[1]
            data[args] = (value, size)
            self._bytes += size
            while len(data) > self.max_entries or self._bytes > self.max_bytes:
                try:
                    oldest = next(iter(data))
                except (StopIteration, RuntimeError):  # a hit in another thread moved it
                    if not data:
                        self._bytes = 0
                    break
                evicted = data.pop(oldest, None)
                if evicted is not None:
                    self._bytes -= evicted[1]
        return value

    @property
    def bytes(self) -> int:
        """What the entries held now cost, as counted."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
