"""Group commit: batching and failure in both stores; abandonment, fairness and durability
of the SQLite log's worker thread."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from consentgate._exceptions import StorageError
from consentgate.log import ConsentRecord, SQLiteConsentLog
from consentgate.log._core import Steps
from consentgate.log._record import Action
from tests.helpers import ids_in, make_record, sequence_of
from tests.stores import Store


@asynccontextmanager
async def worker_held(log: SQLiteConsentLog) -> AsyncIterator[None]:
    """Keep the log's worker thread busy until the block ends, so that records pile up."""
    gate = threading.Event()
    busy = threading.Event()

    def hold() -> Steps[None]:
        busy.set()
        gate.wait(30)
        yield from ()

    blocker = asyncio.ensure_future(log._run(hold(), "read", transaction="none", bounded=False))
    while not busy.is_set():
        await asyncio.sleep(0.001)
    try:
        yield
    finally:
        gate.set()
        await blocker


async def queued(log: SQLiteConsentLog, n: int) -> None:
    while len(log._queue) < n:
        await asyncio.sleep(0)


def start(calls: list[Awaitable[ConsentRecord]]) -> list[asyncio.Future[ConsentRecord]]:
    return [asyncio.ensure_future(call) for call in calls]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


@pytest.mark.anyio
async def test_waiting_records_share_one_transaction(path: Path) -> None:
    async with SQLiteConsentLog(path) as log:
        await log.migrate()
        async with worker_held(log):
            writes = start([log.record(make_record(consent_id=f"v{i}")) for i in range(300)])
            await queued(log, 300)
        stored = await asyncio.gather(*writes)
        assert log._commits == 2  # 256 + 44
        report = await log.verify()
    assert [r.sequence for r in stored] == list(range(1, 301))  # in the order they came
    assert [r.consent_id for r in stored] == [f"v{i}" for i in range(300)]
    assert report.ok and report.checked == 300
    assert len(ids_in(path)) == 300


@pytest.mark.anyio
async def test_a_burst_needs_far_fewer_transactions_than_records(store: Store) -> None:
    async with store.open() as log:
        stored = await asyncio.gather(*(log.record(make_record()) for _ in range(300)))
        assert log._commits < 30
        assert (await log.verify()).checked == 300
    assert sorted(sequence_of(r) for r in stored) == list(range(1, 301))


@pytest.mark.anyio
async def test_each_caller_is_answered_after_its_own_commit(store: Store) -> None:
    async with store.open() as log:

        async def write_then_look(i: int) -> None:
            record = await log.record(make_record(consent_id=f"v{i}"))
            # Another connection sees it the moment record() returns: it is committed.
            row = await asyncio.to_thread(
                store.query,
                "SELECT consent_id FROM consent_records WHERE sequence = ?",
                record.sequence,
            )
            assert row == [(f"v{i}",)]

        await asyncio.gather(*(write_then_look(i) for i in range(50)))


@pytest.mark.anyio
async def test_a_failing_batch_fails_every_caller_in_it(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="consentgate.log")
    async with store.open() as log:
        first = await log.record(make_record())
        store.refuse_inserts("disk on fire")
        results = await asyncio.gather(
            *(log.record(make_record(consent_id=f"v{i}")) for i in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(r, StorageError) for r in results)
        assert all("disk on fire" in str(r) for r in results)
        assert len({id(r) for r in results}) == 5  # one exception object per caller
        assert log._commits == 1
        store.allow_inserts()
        after = await log.record(make_record())
        report = await log.verify()
    assert after.sequence == 2 and after.prev_hash == first.hash  # nothing of the batch is left
    assert report.ok and report.checked == 2
    # The operator hears of it from the store, not only through each caller.
    warnings = [r.getMessage() for r in caplog.records if r.name == "consentgate.log._core"]
    counts = [re.search(r"a batch of (\d+) consent records was not written", m) for m in warnings]
    assert warnings and all("disk on fire" in m for m in warnings)
    assert sum(int(c.group(1)) for c in counts if c) == 5


@pytest.mark.anyio
async def test_an_invalid_record_fails_only_its_caller(path: Path) -> None:
    async with SQLiteConsentLog(path) as log:
        await log.migrate()
        async with worker_held(log):
            writes = start(
                [
                    log.record(make_record(consent_id="a")),
                    log.record(make_record(action=cast(Action, "approve"))),
                    log.record(make_record(consent_id="b")),
                    log.record(make_record(consent_id="\ud800")),  # not encodable
                ]
            )
            await queued(log, 4)
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert log._commits == 1
    good: list[Any] = [results[0], results[2]]
    assert [r.consent_id for r in good] == ["a", "b"]
    assert isinstance(results[1], StorageError) and "unknown action" in str(results[1])
    assert isinstance(results[3], StorageError) and "invalid record" in str(results[3])
    assert ids_in(path) == ["a", "b"]


@pytest.mark.anyio
async def test_a_caller_that_gave_up_before_its_batch_is_left_out(path: Path) -> None:
    async with SQLiteConsentLog(path, timeout=0.2) as log:
        await log.migrate()
        async with worker_held(log):
            with pytest.raises(StorageError, match="timed out"):
                await log.record(make_record(consent_id="late"))
            cancelled = asyncio.ensure_future(log.record(make_record(consent_id="cancelled")))
            await queued(log, 2)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        await log.record(make_record(consent_id="on time"))
        assert (await log.verify()).ok
    assert ids_in(path) == ["on time"]


@pytest.mark.anyio
async def test_reads_get_their_turn_between_batches(path: Path) -> None:
    async with SQLiteConsentLog(path) as log:
        await log.migrate()
        async with worker_held(log):
            writes = start([log.record(make_record()) for _ in range(600)])
            await queued(log, 600)
            read = asyncio.ensure_future(log.history("visitor-1"))
            await asyncio.sleep(0)
        assert len(await read) == 256  # after the first batch, not after all three
        await asyncio.gather(*writes)


@pytest.mark.anyio
async def test_close_writes_every_queued_record_first(path: Path) -> None:
    log = SQLiteConsentLog(path)
    await log.migrate()
    async with worker_held(log):
        writes = start([log.record(make_record()) for _ in range(300)])
        await queued(log, 300)
        closing_ = asyncio.ensure_future(log.aclose())
        await asyncio.sleep(0)
        with pytest.raises(StorageError, match="closed"):
            await log.record(make_record())
    await closing_
    assert len(await asyncio.gather(*writes)) == 300
    assert len(ids_in(path)) == 300


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from consentgate.log import ConsentRecord, SQLiteConsentLog

    async def main() -> None:
        log = SQLiteConsentLog(sys.argv[1])
        while True:
            records = [
                ConsentRecord(
                    consent_id=f"v{i}", time=datetime.now(UTC), action="grant",
                    granted=("analytics",), refused=(), policy_version="p",
                    language="en", source="banner", text_fingerprint="f",
                )
                for i in range(25)
            ]
            for stored in await asyncio.gather(*map(log.record, records)):
                print(stored.sequence, flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.anyio
async def test_a_killed_process_loses_no_acknowledged_record(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    try:
        while len(acknowledged) < 200 and (line := child.stdout.readline()):
            acknowledged.append(int(line))
    finally:
        child.kill()  # SIGKILL: no clean-up of any kind
        rest = child.stdout.read()
        child.wait()
        child.stdout.close()
    acknowledged += [int(line) for line in rest.split()]
    assert len(acknowledged) >= 200
    async with SQLiteConsentLog(path) as log:
        stored = {r.sequence async for r in log.iter_records()}
        report = await log.verify()
    assert set(acknowledged) <= stored
    assert report.ok, report.reason
