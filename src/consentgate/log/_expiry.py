"""Timing out the callers waiting for a group commit, with one timer per event loop.

A timer per waiting caller is what ``asyncio.timeout`` would give, and with
dozens of callers per batch the event loop's timer heap became a third of
what recording a consent cost the loop. Every caller of one log waits equally
long, so they expire in the order they started waiting: one queue in that
order and one timer, set for the oldest caller still waiting, do the same.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

__all__ = ["Expiry"]


class Expiry:
    """Sets ``TimeoutError`` on each watched future not done ``timeout`` seconds on.

    Used from its event loop's thread only.
    """

    __slots__ = ("loop", "timeout", "_timer", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self._waiting: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, waiter: asyncio.Future[Any]) -> None:
        waiting = self._waiting
        # Callers are answered about in the order they came: drop those answered.
        while waiting and waiting[0][1].done():
            waiting.popleft()
        deadline = self.loop.time() + self.timeout
        waiting.append((deadline, waiter))
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._expire)

    def __len__(self) -> int:
        """How many futures it still holds (done ones go lazily)."""
        return len(self._waiting)

    def _expire(self) -> None:
        self._timer = None
        now = self.loop.time()
        waiting = self._waiting
        while waiting:
            deadline, waiter = waiting[0]
            if not waiter.done():
                if deadline > now:
                    self._timer = self.loop.call_at(deadline, self._expire)
                    return
                waiter.set_exception(TimeoutError())
            waiting.popleft()
