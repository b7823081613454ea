"""The outbox: a refusal made while the log is down is answered at once and recorded later."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from consentgate import ConfigurationError
from consentgate._outbox import Outbox, _read, decode, encode
from consentgate.log import ConsentLog, ConsentRecord
from tests.helpers import RecordingLog, choose, client_for, make_app, make_config
from tests.stores import SQLiteStore, Store

pytestmark = pytest.mark.anyio


def a_record(consent_id: str = "c-1", action: str = "withdraw", **changes: object) -> ConsentRecord:
    fields: dict[str, object] = {
        "consent_id": consent_id,
        "time": datetime(2026, 11, 3, 12, 0, 0, 123456, tzinfo=UTC),
        "action": action,
        "granted": ("preferences",),
        "refused": ("marketing", "statistics"),
        "policy_version": "2026-11",
        "language": "da",
        "source": "banner",
        "text_fingerprint": "ab" * 32,
        "user_agent": "Mozilla/5.0",
        "ip": "192.0.2.0/24",
    }
    fields.update(changes)
    return ConsentRecord(**fields)  # type: ignore[arg-type]


class QuietOutbox(Outbox):
    """An outbox that never replays in the background: only when a test calls ``replay``."""

    def _retry_in_background(self, delay: float | None = None) -> None:
        pass


def quiet(log: ConsentLog, path: Path | None) -> Outbox:
    return QuietOutbox(log, path)


async def settled(outbox: Outbox) -> None:
    """Wait for the outbox's background replay, if one runs."""
    for _ in range(500):
        if outbox.task is None or outbox.task.done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox's background replay did not finish")


# -- the record as a line ------------------------------------------------------


def test_a_record_survives_the_line_with_every_field() -> None:
    record = a_record()
    line = encode(record)
    assert "\n" not in line
    assert decode(line) == record
    assert set(dataclasses.asdict(decode(line))) == {f.name for f in dataclasses.fields(record)}


names = st.text(st.characters(codec="utf-8"), max_size=12)
records = st.builds(
    a_record,
    consent_id=names,
    action=st.sampled_from(["grant", "update", "reject", "withdraw"]),
    time=st.datetimes(timezones=st.timezones()),
    granted=st.lists(st.sampled_from(["preferences", "statistics"]), unique=True).map(tuple),
    refused=st.lists(st.sampled_from(["marketing", "x-own"]), unique=True).map(tuple),
    language=names,
    user_agent=st.none() | names,
    ip=st.none() | names,
)


@settings(max_examples=200, derandomize=True, database=None)
@given(record=records)
def test_any_record_survives_the_line(record: ConsentRecord) -> None:
    line = encode(record)
    assert line.isascii() and "\n" not in line
    assert decode(line) == record


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(
    # Junk: what a crash or another program might leave; never a whole JSON object.
    entries=st.lists(
        records | st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"}" not in b)
    ),
    torn=st.binary(max_size=40).filter(lambda b: b"\n" not in b),
)
def test_reading_the_file_keeps_every_record_and_sets_the_rest_aside(
    tmp_path_factory: pytest.TempPathFactory, entries: list[ConsentRecord | bytes], torn: bytes
) -> None:
    path = tmp_path_factory.mktemp("outbox") / "outbox"
    lines = [encode(e).encode() if isinstance(e, ConsentRecord) else e for e in entries]
    path.write_bytes(b"".join(line + b"\n" for line in lines) + torn)
    fd = os.open(path, os.O_RDONLY)
    try:
        read, unreadable = _read(fd)
    finally:
        os.close(fd)
    junk = [e for e in entries if isinstance(e, bytes) and e]  # an empty line is no line
    assert read == [e for e in entries if isinstance(e, ConsentRecord)]
    assert unreadable == junk


@pytest.mark.parametrize("line", ["", "{", "[]", '{"record": 1}', '{"record": {"x": 1}}'])
def test_a_line_that_holds_no_record_is_refused(line: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        decode(line)


# -- the file ----------------------------------------------------------------------


async def test_replay_writes_in_order_and_empties_the_file(tmp_path: Path) -> None:
    log, path = RecordingLog(), tmp_path / "outbox"
    outbox = quiet(log, path)
    first, second = a_record("c-1"), a_record("c-2", action="reject", granted=())
    log.failing = True
    await outbox.add(first)
    await outbox.add(second)
    assert path.stat().st_mode & 0o777 == 0o600  # consent ids and addresses: the owner's only
    with pytest.raises(Exception, match="failing on purpose"):
        await outbox.replay()
    assert outbox.pending() and log.records == []
    log.failing = False
    assert await outbox.replay() == 2
    assert log.records == [first, second]
    assert path.read_bytes() == b"" and not outbox.pending()


async def test_a_killed_process_leaves_its_records_for_the_next(tmp_path: Path) -> None:
    path = tmp_path / "outbox"
    await quiet(RecordingLog(), path).add(a_record())
    log = RecordingLog()  # a new process: nothing in memory, only the file
    assert await Outbox(log, path).replay() == 1
    assert log.records == [a_record()]


async def test_a_replay_that_died_before_emptying_the_file_writes_nothing_twice(
    tmp_path: Path,
) -> None:
    log, path = RecordingLog(), tmp_path / "outbox"
    outbox = quiet(log, path)
    await outbox.add(a_record("c-1"))
    await outbox.add(a_record("c-2"))
    log.records.append(a_record("c-1"))  # written to the log, then the process died
    assert await outbox.replay() == 1
    assert log.records == [a_record("c-1"), a_record("c-2")]


async def test_a_record_the_store_already_holds_is_recognised_on_both_stores(
    store: Store, tmp_path: Path
) -> None:
    """The store gives back every field as it was written, so the identity check holds."""
    path = tmp_path / "outbox"
    async with store.open() as log:
        await log.record(a_record("c-1"))  # taken, then the process died before emptying
        outbox = quiet(log, path)
        await outbox.add(a_record("c-1"))
        await outbox.add(a_record("c-2"))
        assert await outbox.replay() == 1
        assert [r.consent_id async for r in log.iter_records()] == ["c-1", "c-2"]
        assert (await log.verify()).ok


async def test_a_record_differing_from_the_logged_one_is_still_written(tmp_path: Path) -> None:
    log = RecordingLog()
    outbox = quiet(log, tmp_path / "outbox")
    await outbox.add(a_record(action="reject", granted=()))
    log.records.append(a_record())  # the same visitor, the same moment, another choice
    assert await outbox.replay() == 1
    assert len(log.records) == 2


async def test_a_line_torn_by_a_crash_costs_no_later_record(tmp_path: Path) -> None:
    log, path = RecordingLog(), tmp_path / "outbox"
    outbox = quiet(log, path)
    await outbox.add(a_record("c-1"))
    with path.open("ab") as file:
        file.write(encode(a_record("torn")).encode()[:40])  # killed mid-append
    await outbox.add(a_record("c-2"))
    assert await outbox.replay() == 2
    assert [r.consent_id for r in log.records] == ["c-1", "c-2"]
    unreadable = path.with_name("outbox.unreadable")
    assert unreadable.read_bytes().startswith(b'{"record":')  # set aside, never silently dropped


async def test_two_processes_sharing_one_file_replay_each_record_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    path = tmp_path / "outbox"
    records = [a_record(f"c-{i}") for i in range(20)]
    writer = quiet(RecordingLog(), path)
    for record in records:
        await writer.add(record)
    async with store.open() as one, store.open() as two:
        outboxes = [Outbox(one, path), Outbox(two, path)]
        written = await asyncio.gather(*(o.replay() for o in outboxes))
        assert sum(written) == 20
        assert [r.consent_id async for r in one.iter_records()] == [r.consent_id for r in records]
        assert (await one.verify()).ok


class SlowLog(RecordingLog):
    """A log whose writes take a turn of the event loop, failing for ``refused`` consent ids."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most_in_flight = 0
        self.refused: set[str] = set()

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if record.consent_id in self.refused:
                from consentgate import StorageError

                raise StorageError("refused on purpose")
            return await super().record(record)
        finally:
            self.in_flight -= 1


def interleaved(count: int, visitors: int) -> list[ConsentRecord]:
    """``count`` records of ``visitors`` visitors in turn, each a microsecond after the last."""
    start = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    return [
        a_record(f"c-{i % visitors}", time=start + timedelta(microseconds=i)) for i in range(count)
    ]


async def test_a_long_outbox_goes_to_the_log_in_waves_keeping_each_visitors_order(
    tmp_path: Path,
) -> None:
    log = SlowLog()
    outbox = quiet(log, tmp_path / "outbox")
    records = interleaved(300, visitors=100)
    for record in records:
        await outbox.add(record)
    assert await outbox.replay() == 300
    assert log.most_in_flight > 1  # handed over together, for the log's group commit
    assert sorted(log.records, key=lambda r: r.time) == records
    for visitor in {r.consent_id for r in records}:
        mine = [r for r in log.records if r.consent_id == visitor]
        assert mine == sorted(mine, key=lambda r: r.time)


async def test_a_wave_that_fails_in_part_writes_the_rest_once_on_the_next_replay(
    tmp_path: Path,
) -> None:
    log = SlowLog()
    outbox = quiet(log, tmp_path / "outbox")
    records = interleaved(20, visitors=20)
    for record in records:
        await outbox.add(record)
    log.refused = {"c-7"}
    with pytest.raises(Exception, match="refused on purpose"):
        await outbox.replay()
    assert len(log.records) == 19 and log.in_flight == 0  # nothing left under way
    log.refused = set()
    assert await outbox.replay() == 1
    assert sorted(log.records, key=lambda r: r.time) == records


async def test_aclose_stops_the_background_retry_and_keeps_what_is_pending(
    tmp_path: Path,
) -> None:
    log = RecordingLog()
    log.failing = True
    outbox = Outbox(log, tmp_path / "outbox", retry_first=0.01)
    await outbox.add(a_record())
    await asyncio.sleep(0.05)
    task = outbox.task
    await outbox.aclose()
    assert task is not None and task.cancelled()
    assert outbox.pending()


async def test_in_memory_it_replays_once_the_log_is_back() -> None:
    log = RecordingLog()
    outbox = Outbox(log, None, retry_first=0.01)
    log.failing = True
    await outbox.add(a_record())
    await asyncio.sleep(0.05)
    assert outbox.pending()
    log.failing = False
    await settled(outbox)
    assert log.records == [a_record()] and not outbox.pending()


# -- through the endpoint --------------------------------------------------------


async def test_a_withdrawal_during_an_outage_is_recorded_when_the_log_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = RecordingLog()
    app = make_app(make_config(store=log, outbox=tmp_path / "outbox"))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        consent_id = (await client.get("/_consent/me")).json()["consent_id"]
        log.failing = True
        with caplog.at_level(logging.WARNING, logger="consentgate"):
            withdrawn = await choose(client, "reject_all")
        assert withdrawn.status_code == 303
        assert (await client.get("/_consent/me")).json()["granted"] == []
        assert [r.action for r in log.records] == ["grant"]
        warning = next(r.getMessage() for r in caplog.records if "outbox" in r.getMessage())
        assert consent_id in warning and "applied, not yet recorded" in warning
        log.failing = False
        again = await choose(client, "save", ["statistics"])  # replays the outbox first
    assert again.status_code == 303
    assert [r.action for r in log.records] == ["grant", "withdraw", "update"]
    assert {r.consent_id for r in log.records} == {consent_id}


async def test_a_grant_during_an_outage_stays_refused_and_queues_nothing(tmp_path: Path) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(make_app(make_config(store=log, outbox=path))) as client:
        log.failing = True
        response = await choose(client, "accept_all")
    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert not path.exists() or path.read_bytes() == b""


async def test_a_grant_waits_behind_the_outbox_while_it_cannot_be_replayed(
    tmp_path: Path,
) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(make_app(make_config(store=log, outbox=path))) as client:
        await choose(client, "save", ["statistics"])
        log.failing = True
        assert (await choose(client, "reject_all")).status_code == 303
        await quiet(log, path).add(a_record("other"))  # another process's refusal
        log.failing = False
        log.record = _failing_after(log, 1)  # type: ignore[method-assign,assignment]
        response = await choose(client, "accept_all")
    # The log took the first refusal, then failed: the grant may not overtake the second.
    assert response.status_code == 503
    assert [r.action for r in log.records] == ["grant", "withdraw"]


def _failing_after(
    log: RecordingLog, allowed: int
) -> Callable[[ConsentRecord], Awaitable[ConsentRecord]]:
    """``log.record`` that takes ``allowed`` more records, then fails as an outage would."""
    original = log.record

    async def record(record: ConsentRecord) -> ConsentRecord:
        nonlocal allowed
        if allowed <= 0:
            from consentgate import StorageError

            raise StorageError("down again")
        allowed -= 1
        return await original(record)

    return record


async def test_the_withdrawn_part_of_a_refused_grant_is_queued_too(tmp_path: Path) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(make_app(make_config(store=log, outbox=path))) as client:
        await choose(client, "save", ["statistics"])
        log.failing = True
        response = await choose(client, "save", ["marketing"])
        assert response.status_code == 503
        log.failing = False
        assert await Outbox(log, path).replay() == 1
    withdrawal = log.records[-1]
    assert (withdrawal.action, withdrawal.granted) == ("withdraw", ())


async def test_an_unwritable_outbox_still_honours_the_refusal_but_does_not_confirm_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(make_app(make_config(store=log, outbox=path))) as client:
        await choose(client, "accept_all")
        log.failing = True
        path.mkdir()  # the outbox cannot be opened as a file
        with caplog.at_level(logging.ERROR, logger="consentgate"):
            response = await choose(client, "reject_all")
        state = (await client.get("/_consent/me")).json()
    assert response.status_code == 503
    assert state["granted"] == []
    assert "NOT recorded" in caplog.text
    assert not Outbox(log, path).pending()  # a folder in its place holds nothing to replay


async def test_the_first_request_after_a_restart_replays_what_was_left(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    async with store.open() as log:
        await log.migrate()
    config = make_config(store=store.url)
    assert config.outbox_path == tmp_path / "log.db-outbox"
    await quiet(RecordingLog(), config.outbox_path).add(a_record())  # a killed process's
    async with client_for(make_app(config)) as client:
        await client.get("/_consent/me")  # any request to consentgate's routes
        for _ in range(500):
            if store.ids():
                break
            await asyncio.sleep(0.01)
    assert store.ids() == ["c-1"]


# -- configuration ---------------------------------------------------------------


def test_the_outbox_lives_beside_a_sqlite_store_by_default(tmp_path: Path) -> None:
    assert make_config(store=f"sqlite:///{tmp_path}/c.db").outbox_path == tmp_path / "c.db-outbox"
    assert make_config(store="sqlite:///:memory:").outbox_path is None
    assert make_config(store=RecordingLog()).outbox_path is None
    explicit = make_config(store=RecordingLog(), outbox=str(tmp_path / "o"))
    assert explicit.outbox_path == tmp_path / "o"


def test_postgresql_without_an_outbox_warns_it_is_kept_in_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(store="postgresql://app@127.0.0.1/consent")
    assert config.outbox_path is None
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        make_app(config).build_middleware_stack()
    assert "no outbox set" in caplog.text


@pytest.mark.parametrize("where", ["missing/outbox", ".", ""])
def test_an_outbox_that_cannot_be_a_file_is_a_configuration_error(
    tmp_path: Path, where: str
) -> None:
    with pytest.raises(ConfigurationError, match="outbox"):
        make_config(outbox=str(tmp_path / where) if where else "")
