"""The head each store keeps, and the chain key: what shows a cut-off tail or a forged record."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from consentgate.log import ChainHead, ConsentLog, ConsentRecord, _core, record_hash
from consentgate.log._chain import GENESIS_HASH, format_time, head_mac
from consentgate.log._record import record_row
from tests.helpers import make_record
from tests.stores import Store

pytestmark = pytest.mark.anyio

KEY = "chain-key-that-is-long-enough-0123456789"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def fill(log: ConsentLog, n: int) -> list[ConsentRecord]:
    """``n`` records, written as a busy site would: many at once."""
    stored: list[ConsentRecord] = []
    for first in range(0, n, 100):
        batch = [
            make_record(consent_id=f"v{i % 17}", time=T0 + timedelta(seconds=i))
            for i in range(first, min(n, first + 100))
        ]
        stored += await asyncio.gather(*(log.record(r) for r in batch))
    return sorted(stored, key=lambda r: r.sequence or 0)


def forge(store: Store, after: ConsentRecord, key: bytes | None = None) -> ConsentRecord:
    """Append a ``grant`` behind the log's back, its hash recomputed as the log would."""
    assert after.sequence is not None
    forged = dataclasses.replace(
        make_record(consent_id="intruder", time=after.time + timedelta(seconds=1)),
        sequence=after.sequence + 1,
        prev_hash=after.hash,
    )
    forged = dataclasses.replace(forged, hash=record_hash(forged, key))
    time = format_time(forged.time) if store.kind == "sqlite" else forged.time
    store.tamper(_core._INSERT, *record_row(forged, time))
    return forged


def move_head(store: Store, sequence: int, hash: str, mac: str | None = None) -> None:
    store.tamper(
        "UPDATE consent_head SET sequence = ?, hash = ?, mac = ? WHERE id = 1", sequence, hash, mac
    )


@pytest.mark.parametrize("cut", [1, 500])
async def test_cutting_off_the_newest_records_is_caught(store: Store, cut: int) -> None:
    async with store.open() as log:
        stored = await fill(log, 600)
        assert (await log.verify()).ok
        store.tamper("DELETE FROM consent_records WHERE sequence > ?", 600 - cut)
        report = await log.verify()
    assert not report.ok
    assert report.first_broken_sequence == 600 - cut + 1
    assert f"records {600 - cut + 1} to 600 are missing from the end" in report.reason
    assert stored[-1].sequence == 600


async def test_a_forged_record_with_a_recomputed_hash_is_caught(store: Store) -> None:
    async with store.open() as log:
        stored = await fill(log, 20)
        forge(store, stored[-1])
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 21)
    assert "beyond the log's head" in report.reason


async def test_a_sequence_is_never_given_out_twice(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 10)
        store.tamper("DELETE FROM consent_records WHERE sequence > 7")
        new = await log.record(make_record())
        assert new.sequence == 11
        assert not (await log.verify()).ok  # the gap stays visible


async def test_the_head_moves_with_every_batch_and_erasure(store: Store) -> None:
    async with store.open() as log:
        assert await log.head() == ChainHead(sequence=0, hash=GENESIS_HASH)
        stored = await fill(log, 5)
        assert await log.head() == ChainHead(sequence=5, hash=str(stored[-1].hash))
        await log.erase("v1")
        head = await log.head()
        assert head.sequence == 6
        report = await log.verify()
    assert report.ok and report.head_checked
    assert (report.last_sequence, report.last_hash) == (head.sequence, head.hash)


async def test_an_empty_and_a_fully_pruned_log_end_at_their_head(store: Store) -> None:
    async with store.open() as log:
        assert (await log.verify()).head_checked
        await fill(log, 5)
        await log.prune(T0 + timedelta(days=1))
        report = await log.verify()
    assert report.ok and report.head_checked, report.reason
    assert report.checked == 0 and report.last_sequence == 5


async def test_a_cut_with_the_head_moved_back_is_caught_by_the_expected_head(
    store: Store,
) -> None:
    async with store.open() as log:
        await fill(log, 30)
        kept = await log.head()  # written down somewhere else
        assert (await log.verify(expect_head=kept)).ok
        stored = await fill(log, 10)
        assert (await log.verify(expect_head=kept)).ok  # the log grew: fine
        # Someone with write access cuts the tail and moves the head back along with it.
        store.tamper("DELETE FROM consent_records WHERE sequence > 25")
        cut = store.query("SELECT hash FROM consent_records WHERE sequence = 25")[0][0]
        move_head(store, 25, cut)
        assert (await log.verify()).ok  # the store alone cannot tell
        report = await log.verify(expect_head=kept)
    assert stored[-1].sequence == 40
    assert (report.ok, report.first_broken_sequence) == (False, 30)
    assert "the expected head, is missing: the log ends at record 25" in report.reason


async def test_an_expected_head_with_another_hash_is_caught(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 5)
        head = await log.head()
        wrong = ChainHead(sequence=head.sequence, hash="ab" * 32)
        report = await log.verify(expect_head=wrong)
    assert (report.ok, report.first_broken_sequence) == (False, 5)
    assert "differs from the expected head" in report.reason


async def test_a_head_before_the_prune_checkpoint_cannot_be_vouched_for(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 10)
        early = ChainHead(sequence=3, hash=str((await log.history("v2"))[0].hash))
        await log.prune(T0 + timedelta(seconds=6))  # records 1 to 6 go
        report = await log.verify(expect_head=early)
    assert not report.ok
    assert "the chain now starts after record 6" in report.reason


# -- the chain key ------------------------------------------------------------------------


async def test_a_keyed_log_verifies_only_with_its_key(store: Store) -> None:
    async with store.open(chain_key=KEY) as log:
        stored = await fill(log, 12)
        report = await log.verify()
    assert report.ok and report.keyed == 12, report.reason
    assert stored[0].hash == record_hash(stored[0], KEY.encode())
    assert stored[0].hash != record_hash(stored[0])
    async with store.open() as keyless:
        report = await keyless.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 1)


async def test_a_record_forged_without_the_key_is_caught(store: Store) -> None:
    async with store.open(chain_key=KEY) as log:
        stored = await fill(log, 8)
        forged = forge(store, stored[-1])  # a plain SHA-256 link, all one can make
        move_head(store, 9, str(forged.hash))
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 9)
    assert "not keyed with the chain key" in report.reason


async def test_rewriting_a_keyed_log_as_an_unkeyed_one_is_caught(store: Store) -> None:
    async with store.open(chain_key=KEY) as log:
        await fill(log, 6)
    # The whole log rewritten with plain hashes, head and all, by someone without the key.
    async with store.fresh().open() as other:
        rewritten = await fill(other, 6)
    store.tamper("DELETE FROM consent_records")
    for record in rewritten:
        time = format_time(record.time) if store.kind == "sqlite" else record.time
        store.tamper(_core._INSERT, *record_row(record, time))
    move_head(store, 6, str(rewritten[-1].hash))
    async with store.open(chain_key=KEY) as log:
        report = await log.verify()
    assert not report.ok
    assert report.reason == "the log's head is not signed with the chain key"


async def test_a_log_keyed_later_keeps_verifying_its_unkeyed_start(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 5)
    async with store.open(chain_key=KEY) as log:
        more = await fill(log, 5)
        report = await log.verify()
        head = await log.head()
    assert report.ok and (report.checked, report.keyed) == (10, 5), report.reason
    assert head.mac == head_mac(KEY.encode(), 10, str(more[-1].hash))


async def test_dropping_the_key_later_shows(store: Store) -> None:
    async with store.open(chain_key=KEY) as log:
        await fill(log, 3)
    async with store.open() as log:  # a deployment that lost its key
        await log.record(make_record())
    async with store.open(chain_key=KEY) as log:
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 4)


# -- malformed rows are a broken chain ----------------------------------------------------


async def test_a_missing_head_row_is_a_broken_chain(store: Store) -> None:
    async with store.open() as log:
        await fill(log, 3)
        store.tamper("DELETE FROM consent_head")
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, None)
    assert report.reason == "the log's head row is missing"


async def test_a_malformed_checkpoint_or_head_is_a_broken_chain(store: Store) -> None:
    if store.kind != "sqlite":
        pytest.skip("PostgreSQL's column types refuse such values")
    async with store.open() as log:
        await fill(log, 6)
        await log.prune(T0 + timedelta(seconds=3))
        store.tamper("UPDATE checkpoints SET time = 'yesterday'")
        report = await log.verify()
        assert (report.ok, report.first_broken_sequence) == (False, None)
        assert report.reason.startswith("the prune checkpoint is unreadable")
        store.tamper("UPDATE checkpoints SET time = '2026-01-01T00:00:00.000000Z'")
        assert (await log.verify()).ok
        store.tamper("UPDATE consent_head SET sequence = 'six'")
        report = await log.verify()
    assert not report.ok and report.reason.startswith("the log's head is malformed")


async def test_a_log_from_before_the_head_is_upgraded_and_keeps_verifying(store: Store) -> None:
    if store.kind != "sqlite":
        pytest.skip("the PostgreSQL log has kept a head from its first version")
    async with store.open() as log:
        stored = await fill(log, 7)
        await log.prune(T0 + timedelta(seconds=2))
    # The log as the schema before the head left it: no head table (nor any later one).
    store.tamper("DROP TABLE consent_head")
    store.tamper("DROP TABLE consent_texts")
    store.tamper("DROP TABLE head_timestamps")
    store.tamper(f"UPDATE schema_version SET version = {store.versions['head'] - 1}")
    async with store.open() as log:
        report = await log.verify()
        head = await log.head()
        new = await log.record(make_record())
    assert report.ok and report.head_checked and report.checked == 5, report.reason
    assert head == ChainHead(sequence=7, hash=str(stored[-1].hash))
    assert new.sequence == 8
