"""The contract every consent log keeps, as a pytest suite a store of your own can run.

consentgate's SQLite and PostgreSQL stores pass it (tests/test_log_suite.py).
To run it against your store, subclass :class:`StoreSuite` in a test module and
give it ``open_log``, a fixture that returns a factory: each call makes a new
log object on the same, initially empty, store (the suite reopens it to check
that records are durable)::

    import pytest
    from consentgate.log.testing import StoreSuite
    from mystore import MyConsentLog

    class TestMyStore(StoreSuite):
        @pytest.fixture
        def open_log(self, tmp_path):
            return lambda: MyConsentLog(tmp_path / "log")

The suite needs pytest and the anyio plugin (installed with starlette). What a
store does not offer is skipped, not failed: ``prune`` and ``erase`` raising
NotImplementedError, ``head`` returning None, ``add_timestamp`` raising
NotImplementedError. Everything else is required:
records chained with ``record_hash``, history, paging and filters, counts,
export lines byte for byte as ``_export`` writes them, verification, and
StorageError once closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .._exceptions import StorageError
from ._base import ConsentLog
from ._chain import GENESIS_HASH, ChainHead, HeadTimestamp, record_hash
from ._export import csv_lines, json_lines
from ._record import ConsentRecord

__all__ = ["LogFactory", "StoreSuite"]

#: When the suite's records were made: one a minute from here on.
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

LogFactory = Callable[[], ConsentLog]


def make_record(i: int, **overrides: Any) -> ConsentRecord:
    """The ``i``-th record of the suite: seven visitors, a minute apart, some in every
    canonical encoding (see ``_chain``)."""
    fields: dict[str, Any] = {
        "consent_id": f"visitor-{i % 7}",
        "time": START + timedelta(minutes=i),
        "action": "grant" if i % 3 else "reject",
        "granted": ("analytics", "marketing") if i % 3 else (),
        "refused": ("personalisation",) if i % 3 else ("analytics", "marketing"),
        "providers": ("vimeo", "youtube") if i % 5 == 1 else (),
        "gpc": i % 4 == 2,
        "revisions": {"analytics": "5b" * 32, "marketing": "9e" * 32} if i % 3 == 1 else {},
        "policy_version": "2024-05",
        "language": "da",
        "source": "banner",
        "text_fingerprint": "ab" * 32,
        "user_agent": 'Mozilla/5.0 "quoted", =1' if i % 2 else None,
        "ip": "192.0.2.0" if i % 2 else None,
    }
    fields.update(overrides)
    return ConsentRecord(**fields)


async def fill(log: ConsentLog, n: int) -> list[ConsentRecord]:
    """``n`` records, stored one after another; what the log returned."""
    return [await log.record(make_record(i)) for i in range(n)]


@pytest.mark.anyio
class StoreSuite:
    """Subclass it and define the ``open_log`` fixture (see the module docstring)."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def open_log(self) -> LogFactory:
        raise NotImplementedError("define the open_log fixture: a factory of logs on one store")

    async def test_records_are_chained_as_they_are_stored(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            stored = await fill(log, 5)
        sequences = [r.sequence or 0 for r in stored]
        assert sequences == sorted(set(sequences))
        assert stored[0].prev_hash == GENESIS_HASH
        for before, record in zip(stored, stored[1:], strict=False):
            assert record.prev_hash == before.hash
        for record, made in zip(stored, map(make_record, range(5)), strict=True):
            assert record.hash == record_hash(record, log.chain_key)
            assert (record.consent_id, record.time, record.granted) == (
                made.consent_id,
                made.time,
                made.granted,
            )

    async def test_records_are_durable_across_reopening(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            stored = await fill(log, 3)
        async with open_log() as log:
            assert await log.history("visitor-1") == [stored[1]]
            assert [r async for r in log.iter_records()] == stored

    async def test_history_is_one_visitor_oldest_first(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            stored = await fill(log, 16)
            history = await log.history("visitor-2")
            assert await log.history("nobody") == []
        assert history == [r for r in stored if r.consent_id == "visitor-2"]

    async def test_concurrent_records_get_distinct_places(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            stored = await asyncio.gather(*(log.record(make_record(i)) for i in range(40)))
            report = await log.verify()
        assert len({r.sequence for r in stored}) == 40
        assert report.ok and report.checked == 40, report.reason

    @pytest.mark.parametrize("batch_size", [1, 3, 1000])
    async def test_iter_records_pages_and_filters(
        self, open_log: LogFactory, batch_size: int
    ) -> None:
        async with open_log() as log:
            stored = await fill(log, 10)
            every = [r async for r in log.iter_records(batch_size=batch_size)]
            since, until = START + timedelta(minutes=2), START + timedelta(minutes=6)
            window = log.iter_records(since=since, until=until, batch_size=batch_size)
            assert [r async for r in window] == stored[2:6]
            one = log.iter_records(consent_id="visitor-3", batch_size=batch_size)
            assert [r async for r in one] == [stored[3]]
            assert await log.count_records() == 10
            assert await log.count_records(since=since, until=until) == 4
            assert await log.count_records(consent_id="visitor-3") == 1
        assert every == stored

    @pytest.mark.parametrize("format", ["csv", "jsonl"])
    async def test_export_lines_are_those_of_the_encoders(
        self, open_log: LogFactory, format: Any
    ) -> None:
        encode = csv_lines if format == "csv" else json_lines
        async with open_log() as log:
            stored = await fill(log, 7)
            pages = [page async for page in log.export_lines(format, batch_size=3)]
            since = START + timedelta(minutes=4)
            later = [page async for page in log.export_lines(format, since=since)]
        assert [count for count, _ in pages] == [3, 3, 1]
        assert "".join(text for _, text in pages) == encode(stored)
        assert "".join(text for _, text in later) == encode(stored[4:])

    async def test_an_untouched_log_verifies_to_its_head(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            assert (await log.verify()).ok
            stored = await fill(log, 6)
            report = await log.verify()
            head = await log.head()
            expected = await log.verify(expect_head=ChainHead(sequence=0, hash=GENESIS_HASH))
        assert report.ok and report.checked == 6, report.reason
        assert (report.last_sequence, report.last_hash) == (stored[-1].sequence, stored[-1].hash)
        assert expected.ok, expected.reason
        if head is None:
            pytest.skip("this store keeps no head")
        assert report.head_checked
        assert (head.sequence, head.hash) == (stored[-1].sequence, stored[-1].hash)

    async def test_erasure_leaves_a_verifiable_chain(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await fill(log, 9)
            try:
                erased = await log.erase("visitor-1")
            except NotImplementedError:
                pytest.skip("this store does not erase")
            history = await log.history("visitor-1")
            report = await log.verify()
            again = await log.erase("visitor-1")
            kept = [r async for r in log.iter_records()]
        assert erased == 2
        assert [r.action for r in history] == ["erase"]
        assert again == 0
        assert report.ok and report.erased == 2, report.reason
        assert [r.consent_id for r in kept].count("visitor-1") == 1

    async def test_prune_keeps_the_rest_verifiable(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            stored = await fill(log, 8)
            try:
                pruned = await log.prune(START + timedelta(minutes=5))
            except NotImplementedError:
                pytest.skip("this store does not prune")
            rest = [r async for r in log.iter_records()]
            report = await log.verify()
            new = await log.record(make_record(8))
        assert pruned == 5
        assert rest == stored[5:]
        assert report.ok and report.checked == 3, report.reason
        assert (new.sequence or 0) > (stored[-1].sequence or 0)

    async def test_timestamps_are_kept_as_given_and_hold_the_chain(
        self, open_log: LogFactory
    ) -> None:
        async with open_log() as log:
            stored = await fill(log, 4)
            assert await log.timestamps() == []
            second, fourth = (
                HeadTimestamp(
                    sequence=record.sequence or 0,
                    hash=record.hash or "",
                    time=START + timedelta(hours=1, microseconds=i),
                    token=bytes(range(256)) * i,
                )
                for i, record in ((1, stored[3]), (2, stored[1]))
            )
            try:
                await log.add_timestamp(second)
            except NotImplementedError:
                pytest.skip("this store keeps no timestamps")
            await log.add_timestamp(fourth)
        async with open_log() as log:
            kept = await log.timestamps()
            held = await log.verify(stamped={s.sequence: s.hash for s in (second, fourth)})
            other = await log.verify(stamped={2: "f" * 64})
        assert kept == [fourth, second]  # in sequence order, bytes and time as given
        assert held.ok and held.stamped == 2, held.reason
        assert not other.ok and other.first_broken_sequence == 2

    async def test_a_closed_log_refuses_with_a_storage_error(self, open_log: LogFactory) -> None:
        log = open_log()
        await log.record(make_record(0))
        await log.aclose()
        await log.aclose()  # twice is fine
        with pytest.raises(StorageError):
            await log.record(make_record(1))
