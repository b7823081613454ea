"""The one-timer-per-loop timeout of callers waiting for a group commit."""

from __future__ import annotations

import asyncio

import pytest

from consentgate.log._expiry import Expiry

pytestmark = pytest.mark.anyio


async def test_a_future_not_done_in_time_gets_a_timeout_error() -> None:
    loop = asyncio.get_running_loop()
    expiry = Expiry(loop, 0.05)
    waiter: asyncio.Future[int] = loop.create_future()
    started = loop.time()
    expiry.watch(waiter)
    with pytest.raises(TimeoutError):
        await waiter
    assert 0.05 <= loop.time() - started < 1.0


async def test_futures_done_in_time_are_left_alone_and_dropped() -> None:
    loop = asyncio.get_running_loop()
    expiry = Expiry(loop, 0.05)
    answered = [loop.create_future() for _ in range(3)]
    for waiter in answered:
        expiry.watch(waiter)
        waiter.set_result(1)
    late: asyncio.Future[int] = loop.create_future()
    expiry.watch(late)
    assert len(expiry) == 1  # the answered ones went when the next came
    await asyncio.sleep(0.1)
    assert [w.result() for w in answered] == [1, 1, 1]
    assert isinstance(late.exception(), TimeoutError)
    assert len(expiry) == 0


async def test_each_future_gets_its_own_full_timeout() -> None:
    loop = asyncio.get_running_loop()
    expiry = Expiry(loop, 0.2)
    first: asyncio.Future[int] = loop.create_future()
    expiry.watch(first)
    await asyncio.sleep(0.1)
    second: asyncio.Future[int] = loop.create_future()
    expiry.watch(second)
    await asyncio.sleep(0.15)  # past the first's deadline, not the second's
    assert first.done() and isinstance(first.exception(), TimeoutError)
    assert not second.done()
    await asyncio.sleep(0.1)
    assert isinstance(second.exception(), TimeoutError)


async def test_a_cancelled_future_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    expiry = Expiry(loop, 0.05)
    cancelled: asyncio.Future[int] = loop.create_future()
    expiry.watch(cancelled)
    cancelled.cancel()
    await asyncio.sleep(0.1)
    assert cancelled.cancelled()
    assert len(expiry) == 0
