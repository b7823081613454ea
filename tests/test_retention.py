"""retention_days: the background prune, its schedule, and that nobody waits for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from consentgate import StorageError
from consentgate._retention import Retention

from .helpers import RecordingLog, client_for, make_app, make_config, make_record
from .stores import Store

pytestmark = pytest.mark.anyio


class PruneLog(RecordingLog):
    """Counts prunes; each waits for ``release`` and may fail."""

    def __init__(self) -> None:
        super().__init__()
        self.prunes: list[datetime] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def prune(self, before: datetime) -> int:
        self.prunes.append(before)
        await self.release.wait()
        if self.fail:
            raise StorageError("disk full")
        return await super().prune(before)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle(retention: Retention) -> None:
    assert retention.task is not None
    await retention.task


async def test_prunes_at_the_first_poke_then_once_an_interval() -> None:
    log, clock = PruneLog(), Clock()
    retention = Retention(log, 30, interval=100, clock=clock)
    retention.poke()
    await settle(retention)
    assert len(log.prunes) == 1
    expected = datetime.now(UTC) - timedelta(days=30)
    assert abs(log.prunes[0] - expected) < timedelta(seconds=5)
    clock.now += 99
    retention.poke()
    await settle(retention)
    assert len(log.prunes) == 1
    clock.now += 1
    retention.poke()
    await settle(retention)
    assert len(log.prunes) == 2


async def test_a_running_prune_is_not_started_twice() -> None:
    log, clock = PruneLog(), Clock()
    log.release.clear()
    retention = Retention(log, 30, interval=0, clock=clock)
    retention.poke()
    await asyncio.sleep(0)
    retention.poke()
    await asyncio.sleep(0)
    assert len(log.prunes) == 1
    log.release.set()
    await settle(retention)


async def test_a_failed_prune_is_logged_and_retried_sooner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log, clock = PruneLog(), Clock()
    log.fail = True
    retention = Retention(log, 30, interval=1000, retry=10, clock=clock)
    retention.poke()
    await settle(retention)
    assert "pruning the consent log failed, will retry: disk full" in caplog.text
    clock.now += 10
    log.fail = False
    retention.poke()
    await settle(retention)
    assert len(log.prunes) == 2


async def test_a_request_does_not_wait_for_the_prune() -> None:
    log = PruneLog()
    log.release.clear()
    app = make_app(make_config(store=log, retention_days=30, cookie_max_age=30 * 86400))
    async with client_for(app) as client:
        response = await asyncio.wait_for(client.get("/_consent/preferences"), timeout=5)
        assert response.status_code == 200
        await asyncio.sleep(0)  # the prune task's first step (Python 3.12 runs it no sooner)
        assert len(log.prunes) == 1  # started, and still waiting
        log.release.set()
        await asyncio.sleep(0.01)


async def test_without_retention_days_nothing_is_pruned() -> None:
    log = PruneLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await client.get("/_consent/preferences")
    await asyncio.sleep(0.01)
    assert log.prunes == []


async def test_the_middleware_prunes_old_records_and_the_chain_verifies(store: Store) -> None:
    async with store.open() as log:
        now = datetime.now(UTC)
        await log.record(make_record(consent_id="old", time=now - timedelta(days=40)))
        await log.record(make_record(consent_id="new", time=now - timedelta(days=2)))
        app = make_app(make_config(store=log, retention_days=30, cookie_max_age=30 * 86400))
        async with client_for(app) as client:
            await client.get("/_consent/preferences")
            for _ in range(1000):
                if not await log.history("old"):
                    break
                await asyncio.sleep(0.01)
        assert await log.history("old") == []
        assert [r.consent_id for r in await log.history("new")] == ["new"]
        report = await log.verify()
        assert report.ok, report.reason


async def test_start_prunes_at_once_and_again_each_interval_until_stop() -> None:
    log = PruneLog()
    retention = Retention(log, 30, interval=0.05)
    retention.start()
    retention.start()  # a second start changes nothing
    await asyncio.sleep(0.3)
    await retention.stop()
    count = len(log.prunes)
    assert 3 <= count <= 8
    await asyncio.sleep(0.15)
    assert len(log.prunes) == count


async def test_stop_cancels_a_prune_under_way() -> None:
    log = PruneLog()
    log.release.clear()
    retention = Retention(log, 30)
    retention.start()
    await asyncio.sleep(0.01)
    assert log.prunes and retention.task is not None and not retention.task.done()
    await retention.stop()
    assert retention.task.cancelled()


async def test_a_failed_scheduled_prune_is_retried_after_the_retry_delay() -> None:
    log = PruneLog()
    log.fail = True
    retention = Retention(log, 30, interval=100, retry=0.05)
    retention.start()
    await asyncio.sleep(0.2)
    await retention.stop()
    assert len(log.prunes) >= 2
