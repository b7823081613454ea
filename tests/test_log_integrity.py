"""The chain in both stores: hashing, verify, tampering, migration, reading,
pruning and erasure."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import tempfile
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from consentgate._exceptions import StorageError
from consentgate.log import (
    ChainHead,
    ChainLink,
    ChainReport,
    Checkpoint,
    ConsentLog,
    ConsentRecord,
    SQLiteConsentLog,
    Tombstone,
    UnreadableRecord,
    _core,
    _sqlite,
    record_hash,
    verify_chain,
)
from consentgate.log._chain import GENESIS_HASH, consent_id_digest, content_digest, format_time
from consentgate.log._record import encoding_version, format_categories
from consentgate.log._sqlite import SCHEMA_VERSION
from consentgate.log._texts import ShownTexts
from tests.helpers import ListLog, make_record, peek
from tests.stores import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(day: int) -> datetime:
    return T0 + timedelta(days=day)


def tamper(path: Path, sql: str, *params: Any) -> None:
    """Change the file behind the log's back, as someone with write access could."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(sql, params)


async def fill(log: ConsentLog, n: int, *, ids: int = 3) -> list[ConsentRecord]:
    return [await log.record(make_record(consent_id=f"v{i % ids}", time=at(i))) for i in range(n)]


async def links_of(log: ConsentLog, batch_size: int = 1000) -> list[ChainLink]:
    return [link async for link in log.iter_chain(batch_size=batch_size)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


# -- hashing on store -------------------------------------------------------------------


@pytest.mark.anyio
async def test_records_are_hashed_and_chained(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 5)
        read = await links_of(log)
    assert read == [*stored, ChainHead(sequence=5, hash=str(stored[-1].hash))]
    assert stored[0].prev_hash == GENESIS_HASH
    for before, record in zip(stored, stored[1:], strict=False):
        assert record.prev_hash == before.hash
    for record in stored:
        assert record.hash == record_hash(record)
    assert [r.sequence for r in stored] == [1, 2, 3, 4, 5]


@pytest.mark.anyio
async def test_untouched_log_verifies(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 7)
        report = await log.verify()
    assert report == ChainReport(
        ok=True,
        checked=7,
        first_broken_sequence=None,
        reason="7 records verified from genesis",
        erased=0,
        last_sequence=7,
        last_hash=stored[-1].hash,
        head_checked=True,
    )


@pytest.mark.anyio
async def test_empty_and_memory_logs_verify() -> None:
    async with SQLiteConsentLog(":memory:") as log:
        assert (await log.verify()).ok
        await fill(log, 3)
        assert (await log.verify()).checked == 3


@pytest.mark.anyio
async def test_verify_walks_the_log_in_pages(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consentgate.log._base._VERIFY_PAGE", 4)
    async with store.open() as log:
        await fill(log, 10)
        assert (await log.verify()).checked == 10
        store.tamper("UPDATE consent_records SET language = 'xx' WHERE sequence = 6")
        assert (await log.verify()).first_broken_sequence == 6


@pytest.mark.anyio
async def test_two_logs_on_one_store_keep_one_chain(store: Store) -> None:
    # As two worker processes of one app would: the write lock orders their batches.
    async with store.open() as first, store.open() as second:
        await asyncio.gather(
            *(
                (first if i % 2 else second).record(make_record(consent_id=f"v{i}"))
                for i in range(60)
            )
        )
        report = await first.verify()
    assert report.ok, report.reason
    assert (report.checked, report.last_sequence) == (60, 60)


@pytest.mark.anyio
async def test_opening_waits_while_another_process_creates_the_file(path: Path) -> None:
    # SQLite refuses the switch to WAL at once while a rollback-mode writer holds the
    # file, as when two workers of one app first start together.
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE unrelated (x)")
        release = threading.Timer(0.3, other.execute, ["COMMIT"])
        release.start()
        try:
            async with SQLiteConsentLog(path) as log:
                stored = await log.record(make_record())
        finally:
            release.join()
    assert stored.sequence == 1


# -- tampering ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        ("UPDATE consent_records SET granted = '[]' WHERE sequence = 3", 3),
        ("UPDATE consent_records SET action = 'reject' WHERE sequence = 1", 1),
        ("UPDATE consent_records SET time = '2023-01-01T00:00:00.000000Z' WHERE sequence = 5", 5),
        ("UPDATE consent_records SET user_agent = 'x' WHERE sequence = 2", 2),
        ("UPDATE consent_records SET ip = '192.0.2.0' WHERE sequence = 4", 4),
        ("UPDATE consent_records SET consent_id = 'someone' WHERE sequence = 4", 4),
        ("DELETE FROM consent_records WHERE sequence = 3", 4),
        ("DELETE FROM consent_records WHERE sequence = 1", 2),
        ("UPDATE consent_records SET hash = '" + "e" * 64 + "' WHERE sequence = 2", 2),
        ("UPDATE consent_records SET prev_hash = '" + "e" * 64 + "' WHERE sequence = 5", 5),
        ("UPDATE consent_records SET sequence = 99 WHERE sequence = 3", 4),
        ("UPDATE consent_records SET sequence = 0 WHERE sequence = 1", 0),
    ],
)
async def test_tampering_is_detected(store: Store, sql: str, broken: int) -> None:
    async with store.open() as log:
        await fill(log, 6)
        store.tamper(sql)
        report = await log.verify()
    assert not report.ok
    assert report.first_broken_sequence == broken, report.reason


@pytest.mark.anyio
async def test_swapped_rows_are_detected(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 6)
        store.tamper("UPDATE consent_records SET sequence = -1 WHERE sequence = 3")
        store.tamper("UPDATE consent_records SET sequence = 3 WHERE sequence = 4")
        store.tamper("UPDATE consent_records SET sequence = 4 WHERE sequence = -1")
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 3)


@pytest.mark.anyio
async def test_a_row_beyond_the_schema_checks_is_reported_not_raised(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 4)
        store.tamper("UPDATE consent_records SET granted = 'not json' WHERE sequence = 2")
        [unreadable] = [link for link in await links_of(log) if link.sequence == 2]
        report = await log.verify()
        assert isinstance(unreadable, UnreadableRecord)
        assert (report.ok, report.first_broken_sequence) == (False, 2)
        assert "unreadable" in report.reason
        with pytest.raises(StorageError, match="malformed"):
            await log.history("v1")


@pytest.mark.anyio
async def test_new_records_after_tampering_do_not_hide_it(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 3)
        store.tamper("UPDATE consent_records SET language = 'xx' WHERE sequence = 2")
        await fill(log, 3)
        report = await log.verify()
    assert report.first_broken_sequence == 2


MUTABLE_TEXT = ["consent_id", "policy_version", "language", "text_fingerprint"]
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Any]:
    """One change to one row: (column, new value), or ("delete", None)."""
    column = draw(
        st.sampled_from(
            [
                *MUTABLE_TEXT,
                "time",
                "action",
                "source",
                "granted",
                "refused",
                "user_agent",
                "ip",
                "prev_hash",
                "hash",
                "sequence",
                "delete",
                "erase",
            ]
        )
    )
    value: Any
    if column in MUTABLE_TEXT:
        value = draw(st.text(max_size=8))
    elif column == "time":
        value = draw(st.datetimes(timezones=st.just(UTC))).isoformat(timespec="microseconds")
        value = value.replace("+00:00", "Z")
    elif column == "action":
        value = draw(st.sampled_from(["grant", "update", "reject", "withdraw", "erase"]))
    elif column == "source":
        value = draw(st.sampled_from(["banner", "preferences", "api", "gpc"]))
    elif column in ("granted", "refused"):
        value = str(draw(st.lists(st.sampled_from(["a", "b", "x"]), unique=True))).replace("'", '"')
    elif column in ("user_agent", "ip"):
        value = draw(st.none() | st.text(max_size=8))
    elif column in ("prev_hash", "hash"):
        value = draw(HEX)
    elif column == "sequence":
        value = draw(st.sampled_from([-5, 0, 7, 1000]))
    else:
        value = None
    return column, value


@pytest.fixture(scope="module")
def stored_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ChainLink]]:
    """A closed log of six records, to copy for each mutation, and what it holds."""
    path = tmp_path_factory.mktemp("chain") / "log.db"

    async def build() -> list[ChainLink]:
        async with SQLiteConsentLog(path) as log:
            await fill(log, 6)
            return await links_of(log)

    return path, asyncio.run(build())


@given(row=st.integers(min_value=1, max_value=6), mutation=mutations())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_row_mutation_is_detected(
    stored_chain: tuple[Path, list[ChainLink]], row: int, mutation: tuple[str, Any]
) -> None:
    """Whatever one row becomes, the log either still says the same or fails verification.

    The newest row too: the head, kept with every batch, shows it cut off.
    """
    original, before = stored_chain
    column, value = mutation
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "log.db"
        shutil.copy(original, path)
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            try:
                if column == "delete":
                    conn.execute("DELETE FROM consent_records WHERE sequence = ?", (row,))
                elif column == "erase":
                    # Blanked the way erase() does it, with the right digests, but unasked.
                    record = before[row - 1]
                    assert isinstance(record, ConsentRecord)
                    digests = (consent_id_digest(record.consent_id), content_digest(record))
                    conn.execute(_core._ERASE, (*digests, row))
                else:
                    update = f"UPDATE consent_records SET {column} = ? WHERE sequence = ?"
                    conn.execute(update, (value, row))
            except sqlite3.IntegrityError:
                return  # the schema refused the change

        async def inspect() -> tuple[list[ChainLink], ChainReport]:
            async with SQLiteConsentLog(path) as log:
                return await links_of(log), await log.verify()

        after, report = asyncio.run(inspect())
    assert report.ok == (before == after), (column, value, report)


# -- migration ------------------------------------------------------------------------


def make_v1_file(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """A log exactly as consentgate with schema version 1 left it."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in _sqlite._V1:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.executemany(
            "INSERT INTO consent_records (sequence, consent_id, time, action, granted, refused, "
            "policy_version, language, source, text_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.execute("COMMIT")


def v1_row(sequence: int, consent_id: str, action: str = "grant") -> tuple[Any, ...]:
    time = f"2024-05-0{sequence % 9 + 1}T12:00:00.000001Z"
    return (sequence, consent_id, time, action, '["analytics"]', "[]", "p1", "da", "banner", "f")


@pytest.mark.anyio
async def test_v1_log_is_migrated_in_place_and_verifies(path: Path) -> None:
    # Sequence 4 is missing: deleted while there was no chain to notice.
    rows = [v1_row(1, "a"), v1_row(2, "b"), v1_row(3, "a", "withdraw"), v1_row(5, "b")]
    make_v1_file(path, rows)
    async with SQLiteConsentLog(path) as log:
        history = await log.history("a")
        report = await log.verify()
        new = await log.record(make_record(consent_id="a"))
        assert await log.migrate() == SCHEMA_VERSION
        after = await log.verify()
    assert [r.sequence for r in history] == [1, 3]
    assert [r.action for r in history] == ["grant", "withdraw"]
    assert history[0].granted == ("analytics",) and history[0].refused == ()
    assert history[0].prev_hash == GENESIS_HASH
    assert all(r.hash == record_hash(r) for r in history)
    assert report.ok and report.checked == 4, report.reason
    assert new.sequence == 6
    assert after.ok and after.checked == 5
    with peek(path) as conn:
        version = conn.execute("SELECT version FROM schema_version").fetchall()
        assert version == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT count(*) FROM consent_records").fetchone() == (5,)
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "consent_records_v2" not in names
    assert {"consent_records_consent_id", "checkpoints"} <= names


@pytest.mark.anyio
async def test_migrated_v1_log_detects_later_tampering(path: Path) -> None:
    make_v1_file(path, [v1_row(i, f"v{i}") for i in range(1, 6)])
    async with SQLiteConsentLog(path) as log:
        assert (await log.verify()).ok
        tamper(path, "UPDATE consent_records SET granted = '[]' WHERE sequence = 2")
        assert (await log.verify()).first_broken_sequence == 2


@pytest.mark.anyio
async def test_failed_migration_leaves_the_v1_log_untouched(path: Path) -> None:
    make_v1_file(path, [v1_row(1, "a"), v1_row(2, "b")])
    tamper(path, "UPDATE consent_records SET granted = 'not json' WHERE sequence = 2")
    async with SQLiteConsentLog(path) as log:
        with pytest.raises(StorageError):
            await log.history("a")
    with peek(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        assert conn.execute("SELECT count(*) FROM consent_records").fetchone() == (2,)


#: The columns a log had before providers were added, in both stores.
_BEFORE_PROVIDERS = (
    "sequence, consent_id, time, action, granted, refused, policy_version, language, source, "
    "text_fingerprint, user_agent, ip, prev_hash, hash, erased, consent_id_digest, content_digest"
)
_WITH_PROVIDERS = f"{_BEFORE_PROVIDERS}, providers, chain_version"


async def make_old_log(store: Store, version: int) -> list[ConsentRecord]:
    """A log as an earlier release left it at schema ``version``: records, one erased.

    Returns the records as they were hashed then: sequence 2 is erased (its
    tombstone keeps the hash), 4 is the erase record. From the schema with
    providers on, 2 and 5 allowed providers (encoding version 2); from the schema with
    GPC on, 3 was made with GPC (encoding version 3).
    """
    with_providers = version >= store.versions["providers"]
    with_gpc = version >= store.versions["gpc"]
    records: list[ConsentRecord] = []
    prev_hash = GENESIS_HASH
    for sequence, (consent_id, action) in enumerate(
        [("a", "grant"), ("b", "grant"), ("a", "withdraw"), ("b", "erase"), ("c", "reject")],
        start=1,
    ):
        providers = ("vimeo",) if with_providers and sequence in (2, 5) else ()
        record = make_record(
            consent_id=consent_id,
            action=action,
            time=at(sequence),
            sequence=sequence,
            prev_hash=prev_hash,
            providers=providers,
            gpc=with_gpc and sequence == 3,
            user_agent="Mozilla/5.0" if sequence == 1 else None,
        )
        prev_hash = record_hash(record)
        records.append(dataclasses.replace(record, hash=prev_hash))
    rows = []
    for record in records:
        time: Any = record.time if store.kind == "postgresql" else format_time(record.time)
        content = (
            record.consent_id,
            time,
            record.action,
            format_categories(record.granted),
            format_categories(record.refused),
            record.policy_version,
            record.language,
            record.source,
            record.text_fingerprint,
            record.user_agent,
            record.ip,
        )
        erased = record.sequence == 2
        digests = (consent_id_digest(record.consent_id), content_digest(record))
        row = (
            record.sequence,
            *((None,) * len(content) if erased else content),
            record.prev_hash,
            record.hash,
            erased,
            *(digests if erased else (None, None)),
        )
        if with_providers:
            stored = None if erased else format_categories(record.providers)
            row = (*row, stored, encoding_version(record))
        if with_gpc:
            row = (*row, None if erased else record.gpc)
        rows.append(row)
    await store.migrate_to(version)
    columns = _WITH_PROVIDERS if with_providers else _BEFORE_PROVIDERS
    columns += ", gpc" if with_gpc else ""
    for row in rows:
        placeholders = ", ".join("?" * len(row))
        store.query(f"INSERT INTO consent_records ({columns}) VALUES ({placeholders})", *row)
    if version >= store.versions["head"] or store.kind == "postgresql":  # a head from its first
        store.query("UPDATE consent_head SET sequence = ?, hash = ?", 5, records[-1].hash)
    return records


@pytest.mark.anyio
@pytest.mark.parametrize("feature", ["providers", "head", "gpc", "revisions"])
async def test_a_log_of_the_schema_before_a_feature_upgrades_and_keeps_verifying(
    store: Store, feature: str
) -> None:
    """Each earlier schema of either store (the first has a test of its own) is brought
    up to the newest, and every record in it, of every encoding, keeps verifying."""
    version = store.versions[feature] - 1
    old = await make_old_log(store, version)
    async with store.open() as log:
        before = await log.verify()
        history = await log.history("a")
        allowed = await log.record(
            make_record(
                consent_id="c",
                action="allow",
                granted=(),
                refused=(),
                providers=("youtube",),
                source="embed",
                time=at(6),
            )
        )
        assert await log.erase("c") == 2  # the reject and the allow: two tombstones
        after = await log.verify()
        links = await links_of(log)
        head = await log.head()
    assert before.ok and before.checked == 5 and before.erased == 1, before.reason
    assert before.head_checked
    # Every old record reads back, and hashes, exactly as it was written.
    assert history == [old[0], old[2]]
    assert [r.hash for r in history] == [record_hash(r) for r in history]
    assert allowed.sequence == 6 and allowed.providers == ("youtube",)
    assert after.ok and after.checked == 7 and after.erased == 3, after.reason
    assert head.sequence == 7
    tombstones = {t.sequence: t.version for t in links if isinstance(t, Tombstone)}
    v = 1 if feature == "providers" else 2
    assert tombstones == {2: v, 5: v, 6: 2}
    assert store.query("SELECT version FROM schema_version") == [(store.schema_version,)]
    # The upgraded log takes a chain key: keyed links with providers, GPC and revisions
    # follow, and it keeps texts.
    async with store.open(chain_key=b"k" * 32) as log:
        keyed = await log.record(make_record(consent_id="d", providers=("youtube",)))
        with_gpc = await log.record(make_record(consent_id="d", gpc=True))
        revised = await log.record(make_record(consent_id="d", revisions={"analytics": "5b" * 32}))
        await log.keep_texts(
            [ShownTexts(kind="page", name="banner", language="da", content="x")], at(9)
        )
        report = await log.verify()
        [kept] = await log.kept_texts()
    assert (keyed.sequence, with_gpc.sequence, revised.sequence) == (8, 9, 10)
    assert store.row(9)["chain_version"] == 3 and store.row(9)["gpc"]
    assert store.row(10)["chain_version"] == 4 and store.row(10)["revisions"] == (
        '{"analytics":"' + "5b" * 32 + '"}'
    )
    assert kept.intact and kept.content == "x"
    assert report.ok and report.keyed == 3 and report.checked == 10, report.reason
    async with store.open() as log:  # without the key, the keyed link reads as altered
        assert (await log.verify()).first_broken_sequence == 8


@pytest.mark.anyio
async def test_a_writer_of_the_release_before_can_still_append_after_the_upgrade(
    store: Store,
) -> None:
    """In a rolling deployment a process of the previous release, started before the
    upgrade, may write on for a while: its rows are version 1 records, and verify.

    Not on SQLite: its releases before the head do not move it, so their records
    lie beyond it, as records added behind the log's back would (README, Upgrading).
    """
    old = await make_old_log(store, store.versions["providers"] - 1)
    async with store.open() as log:
        assert await log.migrate() == store.schema_version
        record = make_record(consent_id="d", time=at(6), sequence=6, prev_hash=old[-1].hash)
        record = dataclasses.replace(record, hash=record_hash(record))
        columns = _BEFORE_PROVIDERS.rsplit(", erased", 1)[0]  # what that release inserted
        time: Any = record.time if store.kind == "postgresql" else format_time(record.time)
        store.tamper(
            f"INSERT INTO consent_records ({columns}) VALUES ({', '.join('?' * 14)})",
            6,
            "d",
            time,
            "grant",
            '["analytics","marketing"]',
            '["personalisation"]',
            record.policy_version,
            record.language,
            record.source,
            record.text_fingerprint,
            None,
            None,
            record.prev_hash,
            record.hash,
        )
        if store.kind == "postgresql":
            store.tamper("UPDATE consent_head SET sequence = 6, hash = ?", record.hash)
        report = await log.verify()
        [read] = await log.history("d")
    assert read == record
    if store.kind == "sqlite":
        assert (report.ok, report.first_broken_sequence) == (False, 6)
        assert "beyond the log's head" in report.reason
    else:
        assert report.ok and report.checked == 6, report.reason


@pytest.mark.anyio
async def test_a_stored_record_with_providers_verifies_and_edits_to_it_are_found(
    store: Store,
) -> None:
    async with store.open() as log:
        await log.record(make_record(consent_id="a"))
        stored = await log.record(
            make_record(consent_id="b", action="allow", providers=("youtube", "vimeo"))
        )
        [read] = await log.history("b")
        assert read == stored and read.providers == ("vimeo", "youtube")
        assert store.row(2)["chain_version"] == 2 and store.row(1)["chain_version"] == 1
        assert (await log.verify()).ok
        store.tamper("UPDATE consent_records SET providers = '[\"vimeo\"]' WHERE sequence = 2")
        assert (await log.verify()).first_broken_sequence == 2
        store.tamper("UPDATE consent_records SET providers = '[]' WHERE sequence = 2")
        assert (await log.verify()).first_broken_sequence == 2
        store.tamper("UPDATE consent_records SET providers = '[\"x\"]' WHERE sequence = 1")
        assert (await log.verify()).first_broken_sequence == 1


@pytest.mark.anyio
async def test_a_tombstones_encoding_version_is_covered_by_its_hash(store: Store) -> None:
    async with store.open() as log:
        await log.record(make_record(consent_id="a", action="allow", providers=("youtube",)))
        assert await log.erase("a") == 1
        assert (await log.verify()).ok
        store.tamper("UPDATE consent_records SET chain_version = 1 WHERE sequence = 1")
        report = await log.verify()
    assert report.first_broken_sequence == 1 and "erased record 1 was altered" in report.reason


@pytest.mark.anyio
async def test_migrate_creates_a_new_log(store: Store) -> None:
    async with store.open() as log:
        assert await log.migrate() == store.schema_version
        assert await log.migrate() == store.schema_version
    assert store.query("SELECT version FROM schema_version") == [(store.schema_version,)]
    assert store.ids() == []


# -- reading --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("batch_size", [1, 4, 25, 1000])
async def test_iter_records_pages_through_everything(store: Store, batch_size: int) -> None:
    async with store.open() as log:
        stored = await fill(log, 25)
        read = [r async for r in log.iter_records(batch_size=batch_size)]
    assert read == stored


@pytest.mark.anyio
async def test_iter_records_filters(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 20, ids=4)
        since = [r async for r in log.iter_records(since=at(5), batch_size=3)]
        until = [r async for r in log.iter_records(until=at(5), batch_size=3)]
        between = [r async for r in log.iter_records(since=at(5), until=at(12), batch_size=2)]
        one = [r async for r in log.iter_records(consent_id="v1", batch_size=2)]
        both = [r async for r in log.iter_records(consent_id="v2", since=at(10))]
        nobody = [r async for r in log.iter_records(consent_id="nobody")]
    assert since == stored[5:]
    assert until == stored[:5]
    assert between == stored[5:12]
    assert one == [r for r in stored if r.consent_id == "v1"]
    assert both == [r for r in stored[10:] if r.consent_id == "v2"]
    assert nobody == []


@pytest.mark.anyio
async def test_iter_records_compares_times_in_utc(store: Store) -> None:
    cest = timezone(timedelta(hours=2))
    async with store.open() as log:
        stored = await fill(log, 3)
        read = [r async for r in log.iter_records(since=at(1).astimezone(cest))]
    assert read == stored[1:]


@pytest.mark.anyio
async def test_iter_records_rejects_bad_arguments(store: Store) -> None:
    async with store.open() as log:
        with pytest.raises(ValueError, match="batch_size"):
            [r async for r in log.iter_records(batch_size=0)]
        with pytest.raises(ValueError, match="timezone"):
            [r async for r in log.iter_records(since=datetime(2024, 1, 1))]


@pytest.mark.anyio
async def test_iter_records_sees_records_written_during_the_walk(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 4)
        seen = []
        async for record in log.iter_records(batch_size=2):
            seen.append(record.sequence)
            if record.sequence == 1:
                await log.record(make_record())
    assert seen == [1, 2, 3, 4, 5]


# -- pruning --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_prune_deletes_old_records_and_leaves_a_checkpoint(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 10)
        assert await log.prune(at(4)) == 4
        remaining = [r async for r in log.iter_records()]
        links = await links_of(log)
        report = await log.verify()
        new = await log.record(make_record(time=at(11)))
        after = await log.verify()
    assert remaining == stored[4:]
    checkpoint = links[0]
    assert isinstance(checkpoint, Checkpoint)
    assert (checkpoint.sequence, checkpoint.hash, checkpoint.deleted) == (4, stored[3].hash, 4)
    assert checkpoint.before == at(4)
    assert report.ok and report.checked == 6, report.reason
    assert "checkpoint after record 4" in report.reason
    assert new.sequence == 11 and new.prev_hash == stored[-1].hash
    assert after.ok and after.checked == 7


@pytest.mark.anyio
async def test_prune_of_everything_keeps_the_sequence_going(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 5)
        assert await log.prune(at(100)) == 5
        report = await log.verify()
        new = await log.record(make_record())
        assert (await log.verify()).ok
    assert report.ok and report.checked == 0
    assert (report.last_sequence, report.last_hash) == (5, stored[-1].hash)
    assert new.sequence == 6 and new.prev_hash == stored[-1].hash


@pytest.mark.anyio
async def test_prune_with_nothing_old_changes_nothing(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 3)
        assert await log.prune(at(0)) == 0
        assert await log.prune(at(0)) == 0
        links = await links_of(log)
    assert not any(isinstance(link, Checkpoint) for link in links)
    assert store.query("SELECT count(*) FROM checkpoints") == [(0,)]


@pytest.mark.anyio
async def test_prune_stops_at_the_first_record_that_is_not_old(store: Store) -> None:
    async with store.open() as log:
        for day in (1, 2, 9, 3, 4):  # the fourth record was written with an older time
            await log.record(make_record(time=at(day)))
        assert await log.prune(at(5)) == 2
        assert [r.sequence async for r in log.iter_records()] == [3, 4, 5]
        assert await log.prune(at(10)) == 3
        assert (await log.verify()).ok


@pytest.mark.anyio
async def test_repeated_prunes_and_chunks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.core, "_PRUNE_CHUNK", 3)
    async with store.open() as log:
        await fill(log, 20)
        assert await log.prune(at(8)) == 8
        assert await log.prune(at(15)) == 7
        assert (await log.verify()).ok
    rows = store.query("SELECT sequence, deleted FROM checkpoints ORDER BY id")
    assert rows == [(8, 8), (15, 7)]  # one checkpoint per prune, however many chunks


@pytest.mark.anyio
async def test_tampering_after_a_prune_is_still_detected(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 10)
        await log.prune(at(4))
        store.tamper("DELETE FROM consent_records WHERE sequence = 7")
        assert (await log.verify()).first_broken_sequence == 8
    async with store.open() as log:
        store.tamper("UPDATE checkpoints SET hash = ?", "7" * 64)
        assert (await log.verify()).first_broken_sequence == 5


@pytest.mark.anyio
async def test_deleting_a_middle_range_behind_a_fake_checkpoint_is_detected(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 8)
        store.tamper("DELETE FROM consent_records WHERE sequence IN (4, 5)")
        store.tamper(
            "INSERT INTO checkpoints (sequence, hash, deleted, time, pruned_before) "
            "VALUES (5, ?, 2, '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z')",
            stored[4].hash,
        )
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 1)
    assert "out of order" in report.reason


@pytest.mark.anyio
async def test_a_prune_overtaking_a_walk_is_no_break(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 10)
        walk = log.iter_chain(batch_size=2)
        first = [await anext(walk), await anext(walk)]
        await log.prune(at(6))
        rest = [link async for link in walk]
    assert isinstance(rest[0], Checkpoint) and rest[0].sequence == 6
    assert [link.sequence for link in rest[1:]] == [7, 8, 9, 10, 10]  # the head last
    assert verify_chain([*first, *rest]).ok


@pytest.mark.anyio
async def test_prune_rejects_a_naive_time(store: Store) -> None:
    async with store.open() as log:
        with pytest.raises(ValueError, match="timezone"):
            await log.prune(datetime(2024, 1, 1))


# -- erasure ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_erase_leaves_tombstones_and_an_erase_record(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 9)  # v0, v1, v2, v0, ...
        assert await log.erase("v1") == 3
        history = await log.history("v1")
        exported = [r async for r in log.iter_records()]
        links = await links_of(log)
        report = await log.verify()
    [erase] = history
    assert (erase.action, erase.sequence, erase.prev_hash) == ("erase", 10, stored[-1].hash)
    assert (erase.granted, erase.refused, erase.user_agent, erase.ip) == ((), (), None, None)
    assert [r.sequence for r in exported] == [1, 3, 4, 6, 7, 9, 10]
    tombstones = [link for link in links if isinstance(link, Tombstone)]
    assert [t.sequence for t in tombstones] == [2, 5, 8]
    assert all(t.hash == stored[t.sequence - 1].hash for t in tombstones)
    assert report.ok and (report.checked, report.erased) == (10, 3), report.reason
    blanked = store.row(2)
    assert blanked["erased"] == 1
    assert {k for k, v in blanked.items() if v is not None} == {
        "sequence",
        "prev_hash",
        "hash",
        "chain_version",
        "erased",
        "consent_id_digest",
        "content_digest",
    }


@pytest.mark.anyio
async def test_erase_of_user_agent_and_ip(store: Store) -> None:
    async with store.open() as log:
        await log.record(make_record(user_agent="ua", ip="192.0.2.0"))
        await log.erase("visitor-1")
        assert (await log.verify()).ok
    assert store.query("SELECT user_agent, ip FROM consent_records") == [
        (None, None),
        (None, None),
    ]


@pytest.mark.anyio
async def test_erase_twice_and_erase_of_nobody(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 4)
        assert await log.erase("nobody") == 0
        assert await log.erase("v0") == 2
        assert await log.erase("v0") == 0
        assert len(await log.history("v0")) == 1
        # A visitor may come back and be erased again.
        await log.record(make_record(consent_id="v0"))
        assert await log.erase("v0") == 1
        report = await log.verify()
    assert report.ok and report.erased == 3, report.reason


@pytest.mark.anyio
async def test_tampering_after_an_erasure_is_still_detected(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 6)
        await log.erase("v1")
        store.tamper("UPDATE consent_records SET language = 'xx' WHERE sequence = 3")
        assert (await log.verify()).first_broken_sequence == 3
        store.tamper("UPDATE consent_records SET language = 'de' WHERE sequence = 3")
        assert (await log.verify()).ok
        store.tamper("UPDATE consent_records SET content_digest = ? WHERE sequence = 2", "1" * 64)
        assert (await log.verify()).first_broken_sequence == 2


@pytest.mark.anyio
async def test_blanking_a_record_without_an_erase_request_is_detected(store: Store) -> None:
    # E.g. to hide a withdrawal: the tombstone is right, but no erase record accounts for it.
    async with store.open() as log:
        stored = await fill(log, 6)
        target = stored[3]
        store.tamper(
            store.core._ERASE,
            consent_id_digest(target.consent_id),
            content_digest(target),
            target.sequence,
        )
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 4)
    assert "no erase record" in report.reason


@pytest.mark.anyio
async def test_erasing_an_edited_record_does_not_launder_the_edit(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 4)
        store.tamper("UPDATE consent_records SET granted = '[]' WHERE sequence = 2")
        await log.erase("v1")
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 2)


@pytest.mark.anyio
async def test_prune_after_erase(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 6)
        await log.erase("v1")  # tombstones 2 and 5, erase record 7 (written now)
        assert await log.prune(at(3)) == 3
        assert (await log.verify()).ok
        assert await log.prune(at(10)) == 3  # 4, tombstone 5 and 6: the erase record is new
        report = await log.verify()
    assert report.ok, report.reason
    assert (report.checked, report.erased) == (1, 0)


# -- the interface's defaults ------------------------------------------------------------


@pytest.mark.anyio
async def test_default_verify_walks_iter_records() -> None:
    log = ListLog()
    await fill(log, 5)
    assert (await log.verify()).checked == 5
    log.records[2] = dataclasses.replace(log.records[2], language="xx")
    assert (await log.verify()).first_broken_sequence == 3
    assert await log.migrate() == 0
