"""What only the PostgreSQL log has: its schema, group commit across a head lock, shared
writers, and faults of a real server that stops and starts again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from consentgate._exceptions import ConfigurationError, StorageError
from consentgate.log import ConsentRecord, PostgresConsentLog
from tests.helpers import choose, client_for, make_app, make_config, make_record
from tests.pg_server import PostgresServer
from tests.stores import PostgresStore


@pytest.fixture
def store(postgres_database: str) -> PostgresStore:
    return PostgresStore(postgres_database)


def start(calls: list[Awaitable[ConsentRecord]]) -> list[asyncio.Future[ConsentRecord]]:
    return [asyncio.ensure_future(call) for call in calls]


async def queued(log: PostgresConsentLog, n: int) -> None:
    async with asyncio.timeout(10):
        while len(log._queue) < n:
            await asyncio.sleep(0.001)


# -- schema -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_first_use_creates_the_versioned_schema(store: PostgresStore) -> None:
    async with store.open() as log:
        assert store.query("SELECT to_regclass('consent_records')") == [(None,)]
        await log.record(make_record())
    assert store.query("SELECT version FROM schema_version") == [(5,)]
    assert store.query("SELECT sequence FROM consent_head") == [(1,)]
    indexes = store.query(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'consent_records' "
        "AND schemaname = current_schema()"
    )
    assert any("(consent_id)" in row[0] for row in indexes)


@pytest.mark.anyio
async def test_processes_starting_together_migrate_once(store: PostgresStore) -> None:
    logs = [store.open() for _ in range(4)]
    try:
        stored = await asyncio.gather(*(log.record(make_record()) for log in logs))
    finally:
        for log in logs:
            await log.aclose()
    assert sorted(r.sequence for r in stored if r.sequence) == [1, 2, 3, 4]
    assert store.query("SELECT version FROM schema_version") == [(5,)]


@pytest.mark.anyio
async def test_concurrent_first_calls_open_one_pool(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = 0
    open_pool = PostgresConsentLog._open_pool

    async def counting(self: PostgresConsentLog) -> Any:
        nonlocal opened
        opened += 1
        return await open_pool(self)

    monkeypatch.setattr(PostgresConsentLog, "_open_pool", counting)
    async with store.open() as log:
        await asyncio.gather(
            *(log.history("nobody") for _ in range(10)),
            *(log.record(make_record()) for _ in range(10)),
        )
    assert opened == 1


@pytest.mark.anyio
async def test_a_missing_head_row_is_a_storage_error(store: PostgresStore) -> None:
    async with store.open() as log:
        await log.record(make_record())
        store.tamper("DELETE FROM consent_head")
        with pytest.raises(StorageError, match="head row is missing"):
            await log.record(make_record())
        with pytest.raises(StorageError, match="head row is missing"):
            await log.erase("visitor-1")


@pytest.mark.anyio
async def test_nul_is_refused_for_its_caller_only(store: PostgresStore) -> None:
    async with store.open() as log:
        bad, good = await asyncio.gather(
            log.record(make_record(consent_id="a\x00b")),
            log.record(make_record(consent_id="ok")),
            return_exceptions=True,
        )
        assert isinstance(bad, StorageError) and "NUL" in str(bad)
        assert isinstance(good, ConsentRecord)
        # NUL inside categories is fine: they are stored as JSON.
        odd = await log.record(make_record(granted=("a\x00",)))
        assert (await log.history("visitor-1")) == [odd]


def test_bad_options() -> None:
    with pytest.raises(ConfigurationError, match="max_batch"):
        PostgresConsentLog("postgresql://h/db", max_batch=0)
    with pytest.raises(ConfigurationError, match="pool_size"):
        PostgresConsentLog("postgresql://h/db", pool_size=1)
    with pytest.raises(ConfigurationError, match="store_timeout"):
        PostgresConsentLog("postgresql://h/db", timeout=0)
    with pytest.raises(ConfigurationError, match="store: not a valid PostgreSQL URL"):
        PostgresConsentLog("postgresql://h/db?bogus=1")


# -- group commit ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_records_waiting_for_the_head_lock_share_one_transaction(
    store: PostgresStore,
) -> None:
    async with store.open() as log:
        await log.migrate()
        async with store.write_locked():
            writes = start([log.record(make_record(consent_id="v0"))])
            while log._queue or log._writer is None:  # its batch now waits for the lock
                await asyncio.sleep(0.001)
            writes += start([log.record(make_record(consent_id=f"v{i}")) for i in range(1, 301)])
            await queued(log, 300)
        stored = await asyncio.gather(*writes)
        assert log._commits == 3  # 1, then 256 + 44
        report = await log.verify()
    assert [r.sequence for r in stored] == list(range(1, 302))
    assert report.ok and report.checked == 301


@pytest.mark.anyio
async def test_max_batch_one_commits_each_record_alone(store: PostgresStore) -> None:
    async with store.open(max_batch=1) as log:
        assert log.max_batch == 1
        stored = await asyncio.gather(*(log.record(make_record()) for _ in range(30)))
        assert log._commits == 30
        assert (await log.verify()).checked == 30
    assert sorted(r.sequence for r in stored if r.sequence) == list(range(1, 31))


@pytest.mark.anyio
async def test_verify_is_right_while_writers_of_two_logs_append(store: PostgresStore) -> None:
    async with store.open() as first, store.open() as second, store.open() as checker:
        stop = asyncio.Event()

        async def write(log: PostgresConsentLog, tag: str) -> int:
            n = 0
            while not stop.is_set():
                await asyncio.gather(
                    *(log.record(make_record(consent_id=f"{tag}{n + i}")) for i in range(7))
                )
                n += 7
            return n

        writers = [
            asyncio.ensure_future(write(first, "a")),
            asyncio.ensure_future(write(second, "b")),
        ]
        reports = []
        for _ in range(15):
            reports.append(await checker.verify())
        stop.set()
        written = sum(await asyncio.gather(*writers))
        final = await checker.verify()
    assert all(report.ok for report in reports), [r.reason for r in reports if not r.ok]
    assert len({report.checked for report in reports}) > 1  # the walks raced the writers
    assert final.ok and final.checked == written


# -- a server that stops and starts ------------------------------------------------------


@asynccontextmanager
async def stopped(server: PostgresServer) -> AsyncIterator[None]:
    """The server is down inside the block and up again after it, whatever happens."""
    await asyncio.to_thread(server.stop)
    try:
        yield
    finally:
        await asyncio.to_thread(server.start)


async def until_it_works(call: Any, seconds: float) -> tuple[Any, int]:
    """Call until it succeeds; returns the result and how many calls failed first."""
    failures, deadline = 0, time.monotonic() + seconds
    while True:
        try:
            return await call(), failures
        except StorageError:
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.anyio
async def test_stopped_server_fails_fast_and_the_log_recovers(
    store: PostgresStore, postgres_server: PostgresServer
) -> None:
    async with store.open(timeout=1.0) as log:
        before = await log.record(make_record(consent_id="before"))
        async with stopped(postgres_server):
            for call in (
                lambda: log.record(make_record(consent_id="down")),
                lambda: log.history("before"),
                lambda: log.verify(),
            ):
                began = time.monotonic()
                with pytest.raises(StorageError):
                    await call()
                assert time.monotonic() - began < 4.0  # timeout 1s, room for a busy machine
        after, failures = await until_it_works(
            lambda: log.record(make_record(consent_id="after")), 10
        )
        assert failures <= 2  # calls made while the server was still coming up
        report = await log.verify()
    assert after.prev_hash == before.hash
    assert report.ok and report.checked == 2
    assert store.ids() == ["before", "after"]


@pytest.mark.anyio
async def test_a_server_down_from_the_start(store: PostgresStore) -> None:
    # Nothing listens on this port: connecting is refused at once, every time.
    async with PostgresConsentLog("postgresql://nobody@127.0.0.1:9/x", timeout=0.5) as log:
        for _ in range(2):
            began = time.monotonic()
            with pytest.raises(StorageError, match="127.0.0.1:9"):
                await log.record(make_record())
            assert time.monotonic() - began < 3.0


@pytest.mark.anyio
async def test_middleware_answers_503_while_the_server_is_down_and_recovers(
    store: PostgresStore, postgres_server: PostgresServer
) -> None:
    log = store.open(timeout=1.0)
    app = make_app(make_config(store=log))
    try:
        async with client_for(app) as client:
            assert (await choose(client, "accept_all")).status_code == 303
            async with stopped(postgres_server):
                async with client_for(app) as visitor:
                    began = time.monotonic()
                    grant = await choose(visitor, "accept_all")
                    assert time.monotonic() - began < 4.0
                    assert grant.status_code == 503
                    assert "set-cookie" not in grant.headers  # not applied
                    refusal = await choose(visitor, "reject_all")
                    assert refusal.status_code == 303  # honoured, its proof in the outbox
                    assert "consentgate=" in refusal.headers["set-cookie"]
            async with client_for(app) as visitor:
                grant, _ = await until_grant(visitor)
                assert grant.status_code == 303
        report = await log.verify()
    finally:
        await log.aclose()
    assert report.ok
    actions = store.query("SELECT action FROM consent_records ORDER BY sequence")
    # The refusal is replayed from the outbox before the next grant is written.
    assert actions == [("grant",), ("reject",), ("grant",)]


async def until_grant(client: Any) -> tuple[Any, int]:
    async def grant() -> Any:
        response = await choose(client, "accept_all")
        if response.status_code == 503:
            raise StorageError("still down")
        return response

    return await until_it_works(grant, 10)
