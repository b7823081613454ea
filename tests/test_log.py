from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, cast, get_args

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from consentgate._exceptions import ConfigurationError, StorageError
from consentgate.log import (
    ConsentLog,
    ConsentRecord,
    PostgresConsentLog,
    SQLiteConsentLog,
    open_log,
    record_hash,
)
from consentgate.log._core import Fetch, Steps
from consentgate.log._open import check_store_url
from consentgate.log._record import Action, Source
from tests.helpers import ids_in, make_config, make_record, peek, sequence_of
from tests.pg_server import _unprivileged_user
from tests.stores import Store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the record -----------------------------------------------------------------------


def test_record_normalises_time_to_utc_and_sorts_categories() -> None:
    cest = timezone(timedelta(hours=2))
    record = make_record(
        time=datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=cest),
        granted=("marketing", "analytics"),
        refused=("z", "a"),
    )
    assert record.time == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert record.time.tzinfo is UTC
    assert record.granted == ("analytics", "marketing")
    assert record.refused == ("a", "z")


def test_record_rejects_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_record(time=datetime(2024, 5, 1, 12, 0))


def test_record_rejects_category_both_granted_and_refused() -> None:
    with pytest.raises(ValueError, match="analytics"):
        make_record(granted=("analytics",), refused=("analytics",))


# -- storing and reading ----------------------------------------------------------------


@pytest.mark.anyio
async def test_round_trip_keeps_every_field(store: Store) -> None:
    record = make_record(user_agent="Mozilla/5.0 (X11; Linux x86_64)", ip="192.0.2.0")
    async with store.open() as log:
        stored = await log.record(record)
        assert stored.sequence is not None
        assert stored == dataclasses.replace(
            record, sequence=stored.sequence, prev_hash=stored.prev_hash, hash=stored.hash
        )
        [loaded] = await log.history("visitor-1")
    assert loaded == stored
    assert loaded.user_agent == "Mozilla/5.0 (X11; Linux x86_64)"
    assert loaded.ip == "192.0.2.0"
    assert loaded.time.tzinfo is UTC
    assert loaded.time.microsecond == 123456


@pytest.mark.anyio
async def test_records_without_the_new_fields_still_work(store: Store) -> None:
    # What the middleware builds: no user agent, no address, no chain fields.
    async with store.open() as log:
        stored = await log.record(make_record())
        [loaded] = await log.history("visitor-1")
    assert loaded == stored
    assert (loaded.user_agent, loaded.ip) == (None, None)
    assert loaded.prev_hash is not None and loaded.hash is not None


@pytest.mark.anyio
async def test_gpc_source_and_erase_action_round_trip(store: Store) -> None:
    async with store.open() as log:
        gpc = await log.record(make_record(source="gpc", granted=(), action="reject"))
        erase = await log.record(make_record(consent_id="other", action="erase", granted=()))
        assert await log.history("visitor-1") == [gpc]
        assert await log.history("other") == [erase]


@pytest.mark.anyio
async def test_empty_categories_round_trip(store: Store) -> None:
    record = make_record(action="reject", granted=(), refused=("analytics",), source="api")
    async with store.open() as log:
        stored = await log.record(record)
        assert await log.history("visitor-1") == [stored]


@pytest.mark.anyio
async def test_sequence_increases(store: Store) -> None:
    async with store.open() as log:
        sequences = [sequence_of(await log.record(make_record())) for _ in range(5)]
    assert sequences == sorted(set(sequences))
    assert len(sequences) == 5


@pytest.mark.anyio
async def test_history_is_ordered_and_filtered_by_consent_id(store: Store) -> None:
    actions: list[tuple[str, Action]] = [
        ("a", "grant"),
        ("b", "reject"),
        ("a", "update"),
        ("b", "grant"),
        ("a", "withdraw"),
    ]
    async with store.open() as log:
        stored = [
            await log.record(make_record(consent_id=consent_id, action=action))
            for consent_id, action in actions
        ]
        history_a = await log.history("a")
        history_b = await log.history("b")
        assert await log.history("nobody") == []
    assert history_a == [r for r in stored if r.consent_id == "a"]
    assert history_b == [r for r in stored if r.consent_id == "b"]
    assert [r.action for r in history_a] == ["grant", "update", "withdraw"]


@pytest.mark.anyio
async def test_committed_before_record_returns_and_durable_across_reopen(store: Store) -> None:
    async with store.open() as log:
        first = await log.record(make_record(consent_id="a"))
        # Another connection sees it while the log is still open: it is committed.
        assert store.ids() == ["a"]
    async with store.open() as log:
        assert await log.history("a") == [first]
        second = await log.record(make_record(consent_id="a", action="withdraw"))
        assert await log.history("a") == [first, second]
    assert sequence_of(second) > sequence_of(first)


@pytest.mark.anyio
async def test_wal_synchronous_full_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    async with SQLiteConsentLog(path, timeout=2.5) as log:
        await log.record(make_record())

        async def pragma(name: str) -> Any:
            def steps() -> Steps[Any]:
                rows = yield Fetch(f"PRAGMA {name}")
                return rows[0][0]

            return await log._run(steps(), "read", transaction="none")

        # synchronous and busy_timeout belong to the connection, so ask the log's own.
        assert await pragma("synchronous") == 2  # FULL
        assert await pragma("busy_timeout") == 2500
    with peek(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.anyio
async def test_schema_version_and_index(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    for _ in range(2):  # reopening does not migrate again
        async with SQLiteConsentLog(path) as log:
            await log.record(make_record())
    with peek(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(6,)]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"consent_records", "checkpoints", "consent_head"} <= tables
        indexes = conn.execute("PRAGMA index_list(consent_records)").fetchall()
        columns = [
            conn.execute(f"PRAGMA index_info({index[1]!r})").fetchall()[0][2] for index in indexes
        ]
    assert "consent_id" in columns


@pytest.mark.anyio
async def test_newer_schema_is_refused(store: Store) -> None:
    newer = store.schema_version + 1
    store.tamper("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    store.tamper(f"INSERT INTO schema_version VALUES ({newer})")
    async with store.open() as log:
        with pytest.raises(StorageError, match=f"schema version {newer}.*upgrade consentgate"):
            await log.record(make_record())
        with pytest.raises(StorageError, match="upgrade consentgate"):
            await log.migrate()


@pytest.mark.anyio
async def test_concurrent_records_all_stored_with_unique_sequences(store: Store) -> None:
    async with store.open() as log:
        stored = await asyncio.gather(
            *(log.record(make_record(consent_id=f"v{i % 20}")) for i in range(200))
        )
        histories = [await log.history(f"v{i}") for i in range(20)]
    sequences = {r.sequence for r in stored}
    assert len(sequences) == 200
    assert sum(len(h) for h in histories) == 200
    assert {r.sequence for h in histories for r in h} == sequences


@pytest.mark.anyio
async def test_memory_log() -> None:
    async with open_log("sqlite:///:memory:") as log:
        stored = await log.record(make_record())
        # A failed write must not throw away the in-memory database.
        with pytest.raises(StorageError):
            await log.record(make_record(action=cast(Action, "approve")))
        assert await log.history("visitor-1") == [stored]


@given(
    consent_id=st.text(),
    time=st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30))]),
    ),
    categories=st.sets(st.text(max_size=20), max_size=6),
    split=st.integers(min_value=0, max_value=6),
    texts=st.tuples(st.text(), st.text(), st.text()),
    action=st.sampled_from(get_args(Action)),
    source=st.sampled_from(get_args(Source)),
    user_agent=st.none() | st.text(),
    ip=st.none() | st.ip_addresses().map(str),
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_any_record_round_trips(
    store: Store,
    consent_id: str,
    time: datetime,
    categories: set[str],
    split: int,
    texts: tuple[str, str, str],
    action: Action,
    source: Source,
    user_agent: str | None,
    ip: str | None,
) -> None:
    ordered = sorted(categories)
    record = ConsentRecord(
        consent_id=consent_id,
        time=time,
        action=action,
        granted=tuple(ordered[:split]),
        refused=tuple(ordered[split:]),
        policy_version=texts[0],
        language=texts[1],
        source=source,
        text_fingerprint=texts[2],
        user_agent=user_agent,
        ip=ip,
    )

    # A new log for each example; PostgreSQL text cannot hold NUL, so it refuses those.
    fresh = store.fresh()

    async def round_trip() -> tuple[ConsentRecord, list[ConsentRecord]]:
        async with fresh.open() as log:
            return await log.record(record), await log.history(consent_id)

    texts_of_record = (consent_id, *texts, user_agent or "")
    if store.kind == "postgresql" and any("\x00" in text for text in texts_of_record):
        with pytest.raises(StorageError, match="NUL"):
            asyncio.run(round_trip())
        return
    stored, history = asyncio.run(round_trip())
    assert history == [stored]
    assert stored.time == time
    assert stored.hash == record_hash(stored)


# -- closing ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_closed_log_raises_storage_error(store: Store) -> None:
    log = store.open()
    await log.record(make_record())
    await log.aclose()
    await log.aclose()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await log.record(make_record())
    with pytest.raises(StorageError, match="closed"):
        await log.history("visitor-1")


@pytest.mark.anyio
async def test_close_of_never_used_log(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "log.db")
    await log.aclose()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_pending_records_finish_before_close(store: Store) -> None:
    log = store.open()
    writes = [asyncio.ensure_future(log.record(make_record())) for _ in range(20)]
    await asyncio.sleep(0)  # let every write reach the queue
    await log.aclose()
    await asyncio.gather(*writes)
    assert len(store.ids()) == 20


# -- failures and recovery ------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_directory_then_recovery(tmp_path: Path) -> None:
    directory = tmp_path / "missing"
    async with SQLiteConsentLog(directory / "log.db") as log:
        with pytest.raises(StorageError, match="unable to open database file") as info:
            await log.record(make_record())
        assert isinstance(info.value.__cause__, sqlite3.Error)
        assert str(directory) in str(info.value)
        directory.mkdir()
        stored = await log.record(make_record())
        assert await log.history("visitor-1") == [stored]


@pytest.mark.anyio
async def test_parent_is_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    async with SQLiteConsentLog(tmp_path / "file" / "log.db") as log:
        with pytest.raises(StorageError):
            await log.record(make_record())
        with pytest.raises(StorageError):
            await log.history("visitor-1")


@pytest.mark.anyio
async def test_database_path_is_a_directory_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    path.mkdir()
    async with SQLiteConsentLog(path) as log:
        with pytest.raises(StorageError):
            await log.record(make_record())
        path.rmdir()
        await log.record(make_record())
    assert ids_in(path) == ["visitor-1"]


@pytest.mark.anyio
async def test_file_replaced_under_open_log_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    async with SQLiteConsentLog(path) as log:
        await log.record(make_record(consent_id="before"))
        path.rename(tmp_path / "moved.db")
        path.mkdir()
        with pytest.raises(StorageError):
            await log.record(make_record(consent_id="during"))
        path.rmdir()
        await log.record(make_record(consent_id="after"))
    assert ids_in(tmp_path / "moved.db") == ["before"]
    assert ids_in(path) == ["after"]


@pytest.mark.anyio
async def test_file_deleted_under_open_log_is_recreated(tmp_path: Path) -> None:
    # SQLite alone would keep writing into the unlinked file and lose the record.
    path = tmp_path / "log.db"
    async with SQLiteConsentLog(path) as log:
        await log.record(make_record(consent_id="before"))
        path.unlink()
        await log.record(make_record(consent_id="after"))
    assert ids_in(path) == ["after"]


@pytest.mark.anyio
async def test_a_held_write_lock_times_out_without_blocking_the_loop(store: Store) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async with store.open(timeout=0.5) as log:
        await log.record(make_record(consent_id="before"))
        async with store.write_locked():
            ticking = asyncio.ensure_future(ticker())
            began = asyncio.get_running_loop().time()
            try:
                with pytest.raises(StorageError, match="timed out|locked"):
                    await log.record(make_record(consent_id="late"))
            finally:
                ticking.cancel()
            # Bounded by the timeout (the bound here leaves room for a busy CI machine).
            assert asyncio.get_running_loop().time() - began < 3.0
        assert ticks >= 10
        await log.record(make_record(consent_id="after"))
        assert (await log.verify()).ok
    # The late record gave up before its batch held the lock: nothing of it was committed.
    assert store.ids() == ["before", "after"]


class FaultyLog(SQLiteConsentLog):
    """Opens a real SQLite connection the way a storage fault would leave it."""

    fault: Literal["read-only", "full"] | None = None

    def _connect(self) -> sqlite3.Connection:
        if self.fault == "read-only":
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        conn = super()._connect()
        if self.fault == "full":
            # The disk is "full" at the current size of the database.
            conn.execute("PRAGMA max_page_count = 1")
        return conn


async def create_log_file(path: Path) -> None:
    async with SQLiteConsentLog(path) as log:
        await log.record(make_record())


@pytest.mark.anyio
async def test_read_only_database_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    await create_log_file(path)
    async with FaultyLog(path) as log:
        log.fault = "read-only"
        with pytest.raises(StorageError, match="readonly"):
            await log.record(make_record())
        log.fault = None
        await log.record(make_record())
    assert len(ids_in(path)) == 2


@pytest.mark.anyio
async def test_a_connection_opened_read_only_does_not_cost_the_first_write_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.db"
    await create_log_file(path)
    async with FaultyLog(path) as log:
        log.fault = "read-only"
        assert len(await log.history("visitor-1")) == 1  # reads work, on a read-only connection
        log.fault = None  # the file is writable again
        await log.record(make_record())  # the first grant after the fix is stored
    assert len(ids_in(path)) == 2


#: Run as a user without root's power over file permissions (root ignores them).
READ_ONLY_CHILD = """
import asyncio, json, os, sys
from datetime import UTC, datetime
from consentgate.log import ConsentRecord, SQLiteConsentLog

path = sys.argv[1]
record = ConsentRecord(
    consent_id="v", time=datetime.now(UTC), action="grant", granted=("a",), refused=(),
    policy_version="1", language="da", source="banner", text_fingerprint="ab" * 32,
)

async def main() -> list[str]:
    outcomes = []
    async with SQLiteConsentLog(path) as log:
        await log.record(record)
    os.chmod(path, 0o444)
    async with SQLiteConsentLog(path) as log:
        for permissions in (0o444, 0o644):
            os.chmod(path, permissions)
            try:
                await log.record(record)
                outcomes.append("stored")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
    return outcomes

print(json.dumps(asyncio.run(main())))
"""


def test_a_file_that_was_read_only_at_first_open_takes_the_first_write_after_a_chmod(
    request: pytest.FixtureRequest,
) -> None:
    """SQLite makes the -shm file read-only too; the log must not stay locked out by it."""
    import consentgate

    # Outside pytest's own folders, which only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="consentgate-read-only-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    folder.chmod(0o777)
    command = [sys.executable, "-c", READ_ONLY_CHILD, str(folder / "log.db")]
    user = _unprivileged_user()
    if user is not None:  # root writes read-only files: run as someone who cannot
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop root's power over permissions")
        command = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
        if subprocess.run([*command[:4], sys.executable, "-c", ""]).returncode != 0:
            pytest.skip(f"the user {user} cannot run this Python")
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(consentgate.__file__).parents[1])},
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["StorageError", "stored"]


@pytest.mark.anyio
async def test_disk_full_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    await create_log_file(path)
    async with FaultyLog(path) as log:
        log.fault = "full"
        big = make_record(policy_version="x" * 3000)
        with pytest.raises(StorageError, match="full"):
            for _ in range(20):
                await log.record(big)
        log.fault = None
        stored = await log.record(big)
        assert (await log.history("visitor-1"))[-1] == stored


# -- open_log -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "relative_path"),
    [
        ("sqlite:///log.db", "log.db"),
        ("sqlite:///data/consent.db", "data/consent.db"),
        ("SQLite:///log.db", "log.db"),
    ],
)
def test_open_log_relative_path(
    url: str, relative_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = open_log(url)
    assert isinstance(log, SQLiteConsentLog)
    assert log.path == str(tmp_path / relative_path)
    assert list(tmp_path.iterdir()) == []  # nothing touched yet


def test_open_log_absolute_path(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/log.db", timeout=1.0)
    assert isinstance(log, SQLiteConsentLog)
    assert log.path == str(tmp_path / "log.db")
    assert list(tmp_path.iterdir()) == []


def test_open_log_memory() -> None:
    log = open_log("sqlite:///:memory:")
    assert isinstance(log, SQLiteConsentLog)
    assert log.path == ":memory:"


@pytest.mark.anyio
async def test_open_log_creates_file_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = open_log(f"sqlite:///{path}")
    assert isinstance(log, ConsentLog)
    assert not path.exists()
    async with log:
        assert await log.history("visitor-1") == []
    assert path.is_file()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "consent.db",
        "sqlite:consent.db",
        "sqlite://",
        "sqlite:///",
        "sqlite://localhost/consent.db",
        "sqlite:///consent.db?mode=ro",
        "sqlite:///consent.db#x",
        "mysql://user@host/db",
        "https://example.com/log",
    ],
)
def test_open_log_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///consentgate.db") as info:
        open_log(url)
    assert info.value.field == "store"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgres://host/db", "postgres://host/db"),
        (
            "PostgreSQL://u:secret@h:5433/db?sslmode=require",
            "postgresql://u:secret@h:5433/db?sslmode=require",
        ),
        ("postgresql:///db", "postgresql:///db"),
    ],
)
def test_open_log_postgresql_connects_to_nothing_yet(url: str, target: str) -> None:
    assert check_store_url(url) == target
    assert make_config(store=url).store == url  # a config names it without connecting
    log = open_log(url, timeout=2.0)
    assert isinstance(log, PostgresConsentLog)
    assert "secret" not in repr(log) and "secret" not in log.name


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+asyncpg://h/db", "name no driver"),
        ("postgresql://u:secret@h:port/db", "no port number"),
        ("postgresql://u:secret@h:70000/db", "no port number"),
        ("postgresql://u:secret@h/db?bogus=1", "bogus"),
        ("postgresql://u:secret@h/%zz", "percent"),
    ],
)
def test_open_log_rejects_bad_postgresql_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        open_log(url)
    assert info.value.field == "store"
    assert "secret" not in str(info.value)


def test_postgresql_without_the_extra_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # as if it were not installed
    for make in (
        lambda: open_log("postgresql://h/db"),
        lambda: make_config(store="postgres://h/db"),
    ):
        with pytest.raises(
            ConfigurationError, match=r"pip install consentgate\[postgres\]"
        ) as info:
            make()
        assert info.value.field == "store"


def test_consentgate_imports_without_the_extra() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = sys.modules['psycopg_pool'] = None; "
        "import consentgate, consentgate.log; "
        "assert consentgate.log.PostgresConsentLog; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
def test_open_log_rejects_bad_timeout(timeout: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        open_log("sqlite:///:memory:", timeout=timeout)
    assert info.value.field == "store_timeout"


@pytest.mark.anyio
async def test_the_log_tells_of_its_migrations_and_prunes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="consentgate.log")
    log = SQLiteConsentLog(tmp_path / "log.db")
    try:
        await log.migrate()
        await log.migrate()  # nothing to do: nothing said
        old = datetime(2020, 1, 1, tzinfo=UTC)
        await log.record(make_record(time=old))
        assert await log.prune(datetime(2021, 1, 1, tzinfo=UTC)) == 1
    finally:
        await log.aclose()
    messages = [r.getMessage() for r in caplog.records if r.name == "consentgate.log._core"]
    assert len([m for m in messages if "schema migrated from version 0 to" in m]) == 1
    assert any("pruned 1 records older than 2021-01-01" in m for m in messages)
