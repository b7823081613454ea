"""Retention: records older than ``retention_days`` are pruned from the log, in the background.

With a server that speaks the ASGI lifespan protocol, pruning starts at
start-up and runs once a day until shutdown (``start``/``stop``). Without one,
a prune starts with the first request to consentgate's own routes (the
banner's stylesheet is one, so any visited site gets there soon after start)
and again once a day. It runs as a task of its own; the log prunes in short
transactions off the event loop, so neither the loop nor a visitor's choice
waits for it. A failed prune is logged and tried again an hour later.
``consentgate prune`` (e.g. from cron) does the same on a schedule of your own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ._exceptions import StorageError
from .log import ConsentLog

__all__ = ["Retention"]

logger = logging.getLogger(__name__)

DAY = 24 * 60 * 60.0
RETRY = 60 * 60.0


class Retention:
    """Prunes ``log`` to ``days`` days, at most once per ``interval`` seconds."""

    def __init__(
        self,
        log: ConsentLog,
        days: int,
        *,
        interval: float = DAY,
        retry: float = RETRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.days = days
        self.interval = interval
        self.retry = retry
        self._clock = clock
        self._due = clock()
        #: The prune running now or last; kept so the task is not garbage-collected.
        self.task: asyncio.Task[None] | None = None
        self._schedule: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Prune now, then whenever one is due, until ``stop``."""
        if self._schedule is None:
            self._schedule = asyncio.get_running_loop().create_task(self._on_schedule())

    async def stop(self) -> None:
        """Stop the schedule and any prune under way (its transactions roll back)."""
        tasks = [task for task in (self._schedule, self.task) if task is not None]
        self._schedule = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_schedule(self) -> None:
        while True:
            self.poke()
            if self.task is not None:
                await asyncio.wait([self.task])
            await asyncio.sleep(max(self._due - self._clock(), 0.0))

    def poke(self) -> None:
        """Start a prune in the background if one is due; returns at once."""
        now = self._clock()
        if now < self._due or (self.task is not None and not self.task.done()):
            return
        self._due = now + self.interval
        self.task = asyncio.get_running_loop().create_task(self._prune())

    async def _prune(self) -> None:
        before = datetime.now(UTC) - timedelta(days=self.days)
        try:
            deleted = await self.log.prune(before)
        except StorageError as exc:
            self._due = self._clock() + self.retry
            logger.warning("pruning the consent log failed, will retry: %s", exc)
            return
        except Exception:
            # Nobody awaits this task: an unexpected error is reported here or nowhere.
            self._due = self._clock() + self.retry
            logger.exception("pruning the consent log failed, will retry")
            return
        if deleted:
            logger.info("pruned %d consent records older than %s", deleted, before.date())
