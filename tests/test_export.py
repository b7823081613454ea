"""Exporting the log: CSV that parses back, JSON Lines, filters, streaming, both export paths."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from consentgate import StorageError
from consentgate.log import ConsentLog, ConsentRecord, PostgresConsentLog, SQLiteConsentLog
from consentgate.log._export import (
    CSV_HEADER,
    EXPORT_COLUMNS,
    csv_lines,
    export_chunks,
    json_lines,
    parse_when,
)

from .helpers import ListLog, RecordingLog, make_record, sequence_of
from .stores import PostgresStore, Store

pytestmark = pytest.mark.anyio

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def records(n: int, **overrides: Any) -> list[ConsentRecord]:
    return [
        make_record(consent_id=f"visitor-{i % 7}", time=START + timedelta(minutes=i), **overrides)
        for i in range(n)
    ]


async def record_all(log: ConsentLog, items: Sequence[ConsentRecord]) -> list[ConsentRecord]:
    return list(await asyncio.gather(*(log.record(r) for r in items)))


async def export(log: ConsentLog, format: Any = "csv", **kwargs: Any) -> str:
    return "".join([chunk async for chunk in export_chunks(log, format, **kwargs)])


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
async def sqlite_log(tmp_path: Path) -> Any:
    log = SQLiteConsentLog(tmp_path / "log.db")
    yield log
    await log.aclose()


@pytest.fixture(params=["sqlite", "postgresql", "records"])
async def any_log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Both stores, and both ways of exporting: lines the store writes, records encoded here."""
    log: ConsentLog
    if request.param == "sqlite":
        log = SQLiteConsentLog(tmp_path / "log.db")
    elif request.param == "postgresql":
        log = PostgresStore(request.getfixturevalue("postgres_database")).open()
    else:
        log = ListLog()
    yield log
    await log.aclose()


def writes_its_own_lines(log: ConsentLog) -> bool:
    return type(log).export_lines is not ConsentLog.export_lines


def test_both_stores_write_their_own_lines_and_the_list_log_does_not() -> None:
    assert writes_its_own_lines(SQLiteConsentLog(":memory:"))
    assert writes_its_own_lines(PostgresConsentLog("postgresql://localhost/consents"))
    assert not writes_its_own_lines(RecordingLog())


# -- CSV ------------------------------------------------------------------------------


async def test_csv_has_a_header_and_parses_back_to_the_records(any_log: ConsentLog) -> None:
    stored = await record_all(any_log, records(5, user_agent="Mozilla/5.0 (X11; Linux)"))
    text = await export(any_log)
    assert text.startswith(CSV_HEADER)
    header, *rows = parse_csv(text)
    assert tuple(header) == EXPORT_COLUMNS
    assert len(rows) == 5
    first = dict(zip(header, rows[0], strict=True))
    record = stored[0]
    assert first == {
        "sequence": str(record.sequence),
        "time": "2024-05-01T12:00:00.000000Z",
        "consent_id": "visitor-0",
        "action": "grant",
        "granted": '["analytics","marketing"]',
        "refused": '["personalisation"]',
        "providers": "[]",
        "policy_version": "2024-05",
        "language": "de",
        "source": "banner",
        "text_fingerprint": "ab" * 32,
        "user_agent": "Mozilla/5.0 (X11; Linux)",
        "ip": "",
        "prev_hash": record.prev_hash or "",
        "hash": record.hash or "",
        "gpc": "false",
        "revisions": "{}",
    }


async def test_csv_lines_end_in_crlf_and_quote_every_text_field(any_log: ConsentLog) -> None:
    await record_all(any_log, records(2))
    text = await export(any_log)
    lines = text.split("\r\n")
    assert lines[-1] == ""
    assert len(lines) == 4
    assert all(line.split(",", 1)[1].startswith('"') for line in lines[1:-1])


async def test_cells_a_spreadsheet_would_run_get_a_quote_in_csv_only(any_log: ConsentLog) -> None:
    [stored] = await record_all(
        any_log,
        [
            make_record(
                consent_id='=HYPERLINK("http://evil")',
                policy_version="+1",
                language="-1",
                text_fingerprint="@SUM(A1)",
                user_agent="\tMozilla",
                ip="\r1.2.3.0",
                time=START,
            )
        ],
    )
    csv_text = await export(any_log)
    assert csv_text == CSV_HEADER + (
        f'{stored.sequence},"2024-05-01T12:00:00.000000Z","\'=HYPERLINK(""http://evil"")",'
        '"grant","[""analytics"",""marketing""]","[""personalisation""]","[]","\'+1","\'-1",'
        f'"banner","\'@SUM(A1)","\'\tMozilla","\'\r1.2.3.0","{stored.prev_hash}","{stored.hash}",'
        '"false","{}"\r\n'
    )
    [line] = (await export(any_log, "jsonl")).splitlines()
    exact = json.loads(line)
    assert (exact["consent_id"], exact["user_agent"], exact["ip"]) == (
        stored.consent_id,
        "\tMozilla",
        "\r1.2.3.0",
    )


async def test_special_characters_survive_csv_and_jsonl(any_log: ConsentLog) -> None:
    nasty = 'a "quoted", multi\r\nline, ünïcødé 🍪 =cmd|x; \\ \t end'
    await record_all(
        any_log, [make_record(consent_id=nasty, policy_version=nasty, user_agent=nasty, ip="::")]
    )
    [_, row] = parse_csv(await export(any_log))
    values = dict(zip(EXPORT_COLUMNS, row, strict=True))
    assert values["consent_id"] == values["policy_version"] == values["user_agent"] == nasty
    [line] = (await export(any_log, "jsonl")).splitlines()
    assert json.loads(line)["user_agent"] == nasty


async def test_empty_log_exports_only_the_header_or_nothing(any_log: ConsentLog) -> None:
    assert await export(any_log) == CSV_HEADER
    assert await export(any_log, "jsonl") == ""


#: Records the property test below adds to a random one: what CSV must quote, what
#: JSON must escape, text beyond ASCII, no categories, a user agent and an IP or neither.
FIXED = (
    make_record(
        consent_id='kunde "æøå", nr. 1',
        time=START + timedelta(minutes=1),
        granted=("statistik", "æøå"),
        refused=(),
        policy_version="2024-05\r\nny",
        language="da",
        user_agent='Mozilla/5.0 (X11; "Linux"), æøå\\',
        ip="192.0.2.0",
    ),
    make_record(
        consent_id="visitor-2",
        time=START + timedelta(minutes=2, microseconds=7),
        action="reject",
        granted=(),
        refused=(),
        source="gpc",
        gpc=True,
    ),
    make_record(consent_id="erased", time=START + timedelta(minutes=3), user_agent="gone"),
    make_record(consent_id="visitor-2", time=START + timedelta(minutes=4), action="withdraw"),
    make_record(
        consent_id="visitor-3",
        time=START + timedelta(minutes=5),
        action="allow",
        granted=(),
        refused=(),
        providers=("youtube", "vimeo"),
        source="embed",
    ),
    make_record(
        consent_id="erased",
        time=START + timedelta(minutes=6),
        action="allow",
        providers=("youtube",),
        source="embed",
    ),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    texts=st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00")),
        min_size=4,
        max_size=4,
    ),
    when=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    granted=st.lists(st.text(min_size=1, alphabet='ab,"\n æøå\\\x01'), max_size=3, unique=True),
    refused=st.lists(st.text(min_size=1, alphabet="abæ"), max_size=2, unique=True),
    providers=st.lists(st.text(min_size=1, alphabet='y,"\n ø\\\x01'), max_size=3, unique=True),
    since=st.sampled_from([None, START, START + timedelta(minutes=2)]),
    until=st.sampled_from([None, START + timedelta(minutes=2, microseconds=7), START + DAY]),
    visitor=st.sampled_from([None, "random", "visitor-2", "erased"]),
    batch_size=st.integers(min_value=1, max_value=3),
)
# Always: cells a spreadsheet would run as formulas.
@example(
    texts=["=HYPERLINK(1)", "+1", "-2\r\n@x", "@SUM(A1)"],
    when=START,
    granted=[],
    refused=[],
    providers=[],
    since=None,
    until=None,
    visitor="random",
    batch_size=2,
)
@example(
    texts=["\tcmd", "\rcmd", '-"q"', "=="],
    when=START,
    granted=[],
    refused=[],
    providers=[],
    since=None,
    until=None,
    visitor=None,
    batch_size=3,
)
# Always: ``until`` just at a record's time, which leaves that record out.
@example(
    texts=["", "", "", ""],
    when=START,
    granted=[],
    refused=[],
    providers=[],
    since=None,
    until=FIXED[1].time,
    visitor=None,
    batch_size=1,
)
def test_a_stores_lines_are_byte_for_byte_those_of_the_python_encoders(
    store: Store,
    texts: list[str],
    when: datetime,
    granted: list[str],
    refused: list[str],
    providers: list[str],
    since: datetime | None,
    until: datetime | None,
    visitor: str | None,
    batch_size: int,
) -> None:
    """The lines a store writes itself and the csv and json modules' agree on any text.

    Erased records are left out, the filters pick the same records, and pages
    of ``batch_size`` records join up.
    """
    consent_id, policy, user_agent, ip = texts
    assume(consent_id not in ("visitor-2", "erased"))
    random = make_record(
        consent_id=consent_id,
        time=when,
        policy_version=policy,
        user_agent=user_agent,
        ip=ip or None,
        granted=tuple(granted),
        refused=tuple(name for name in refused if name not in granted),
        providers=tuple(providers),
    )
    filters: dict[str, Any] = {
        "since": since,
        "until": until,
        "consent_id": consent_id if visitor == "random" else visitor,
    }
    fresh = store.fresh()  # a new log for each example

    async def run() -> tuple[str, str, list[ConsentRecord], ConsentRecord]:
        async with fresh.open() as log:
            assert writes_its_own_lines(log)
            stored = await record_all(log, [random, *FIXED])
            assert await log.erase("erased") == 2
            kept = [r for r in stored if r.consent_id != "erased"] + await log.history("erased")
            chosen = sorted((r for r in kept if _matches(r, **filters)), key=sequence_of)
            text = await export(log, **filters, batch_size=batch_size)
            jsonl = await export(log, "jsonl", **filters, batch_size=batch_size)
            return text, jsonl, chosen, stored[0]

    text, jsonl, chosen, placed = asyncio.run(run())
    assert text == CSV_HEADER + csv_lines(chosen)
    assert jsonl == json_lines(chosen)
    if placed in chosen:
        row = parse_csv(text)[1 + chosen.index(placed)]
        assert (row[2], row[11], row[12]) == tuple(map(as_text, (consent_id, user_agent, ip)))
        assert json.loads(row[4]) == sorted(granted)
        assert json.loads(row[6]) == sorted(providers)


def as_text(cell: str) -> str:
    """A CSV cell as a spreadsheet must show it: a would-be formula after a ``'``."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _matches(
    record: ConsentRecord,
    *,
    since: datetime | None,
    until: datetime | None,
    consent_id: str | None,
) -> bool:
    return (
        (since is None or record.time >= since)
        and (until is None or record.time < until)
        and (consent_id is None or record.consent_id == consent_id)
    )


# -- JSON Lines ---------------------------------------------------------------------


async def test_jsonl_has_one_object_per_record_with_real_arrays_and_nulls(
    any_log: ConsentLog,
) -> None:
    stored = await record_all(any_log, records(3))
    lines = (await export(any_log, "jsonl")).split("\n")
    assert lines[-1] == ""
    objects = [json.loads(line) for line in lines[:-1]]
    assert [o["sequence"] for o in objects] == [r.sequence for r in stored]
    assert list(objects[0]) == list(EXPORT_COLUMNS)
    assert objects[0]["granted"] == ["analytics", "marketing"]
    assert objects[0]["providers"] == []
    assert objects[0]["user_agent"] is None and objects[0]["ip"] is None
    assert objects[2]["time"] == "2024-05-01T12:02:00.000000Z"
    assert objects[2]["hash"] == stored[2].hash


def test_json_lines_and_csv_lines_of_no_records_are_empty() -> None:
    assert json_lines([]) == csv_lines([]) == ""


# -- filters and erasure ------------------------------------------------------------


async def test_since_until_and_consent_id_filter_both_formats(any_log: ConsentLog) -> None:
    await record_all(any_log, records(20))
    since, until = START + timedelta(minutes=5), START + timedelta(minutes=15)
    rows = parse_csv(await export(any_log, since=since, until=until))[1:]
    times = [row[1] for row in rows]
    assert times[0] == "2024-05-01T12:05:00.000000Z"
    assert times[-1] == "2024-05-01T12:14:00.000000Z"
    assert len(rows) == 10
    one = (await export(any_log, "jsonl", consent_id="visitor-3")).splitlines()
    assert [json.loads(line)["consent_id"] for line in one] == ["visitor-3"] * 3


async def test_erased_records_are_not_exported(store: Store) -> None:
    async with store.open() as log:
        await record_all(log, records(14))
        assert await log.erase("visitor-2") == 2
        ids = [row[2] for row in parse_csv(await export(log))[1:]]
        assert "visitor-2" in ids  # only the erase record, which names no choice
        rows = [row for row in parse_csv(await export(log))[1:] if row[2] == "visitor-2"]
        assert [row[3] for row in rows] == ["erase"]


# -- streaming ----------------------------------------------------------------------


async def test_a_large_log_streams_page_by_page(any_log: ConsentLog) -> None:
    await record_all(any_log, records(2500))
    pages: list[int] = []
    chunks = [
        chunk
        async for chunk in export_chunks(any_log, "csv", batch_size=1000, on_page=pages.append)
    ]
    assert pages == [1000, 1000, 500]
    assert len(chunks) == 4  # the header, then one chunk per page
    assert sum(chunk.count("\r\n") for chunk in chunks) == 2501
    jsonl = [chunk async for chunk in export_chunks(any_log, "jsonl", batch_size=1000)]
    assert [chunk.count("\n") for chunk in jsonl] == [1000, 1000, 500]


async def test_an_abandoned_export_leaves_the_log_usable(store: Store) -> None:
    async with store.open() as log:
        await record_all(log, records(50))
        chunks = log.export_lines("csv", batch_size=10)
        await anext(chunks)
        await chunks.aclose()  # type: ignore[attr-defined]
        assert len(parse_csv(await export(log))) == 51


# -- --since / --until values -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T14:30:00.5+02:00", datetime(2024, 5, 1, 12, 30, 0, 500000, tzinfo=UTC)),
        (" 2024-05-01 12:30 ", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_when_takes_dates_and_times_as_utc(text: str, expected: datetime) -> None:
    when = parse_when(text)
    assert when == expected
    assert when.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-05-01T25:00", "1714"])
def test_parse_when_refuses_anything_else_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_when(text)


def test_parse_when_keeps_the_instant_of_an_offset() -> None:
    cest = timezone(timedelta(hours=2))
    assert parse_when("2024-05-01T00:00:00+02:00") == datetime(2024, 5, 1, tzinfo=cest)


async def test_a_damaged_row_is_exported_as_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    async with SQLiteConsentLog(path) as log:
        await record_all(log, records(2))
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE consent_records SET granted = 'not, \"json' WHERE sequence = 1")
        [first, second] = (await export(log, "jsonl")).splitlines()
        assert json.loads(first)["granted"] == 'not, "json'
        assert json.loads(second)["granted"] == ["analytics", "marketing"]
        assert parse_csv(await export(log))[1][4] == 'not, "json'


async def test_a_damaged_postgresql_row_is_exported_as_it_stands_or_refused(
    postgres_database: str,
) -> None:
    """CSV writes a category list as stored; JSON Lines refuses one that is no JSON rather
    than write a line that is none either, and a time no record can hold fails both."""
    store = PostgresStore(postgres_database)
    async with store.open() as log:
        await record_all(log, records(2))
        store.tamper("UPDATE consent_records SET granted = 'not, \"json' WHERE sequence = 1")
        assert parse_csv(await export(log))[1][4] == 'not, "json'
        with pytest.raises(StorageError, match=r"consent log read failed .*json"):
            await export(log, "jsonl")
        store.tamper("UPDATE consent_records SET time = 'infinity' WHERE sequence = 2")
        for format in ("csv", "jsonl"):
            with pytest.raises(StorageError, match="malformed consent record 2"):
                await export(log, format, consent_id="visitor-1")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Both stores."""
    log: ConsentLog
    if request.param == "sqlite":
        log = SQLiteConsentLog(tmp_path / "log.db")
    else:
        log = PostgresStore(request.getfixturevalue("postgres_database")).open()
    yield log
    await log.aclose()


async def test_a_store_counts_what_an_export_would_give(store_log: ConsentLog) -> None:
    assert await store_log.count_records() == 0
    await record_all(store_log, records(14))
    await store_log.erase("visitor-1")
    assert await store_log.count_records() == 13  # 14 - 2 erased + the erase record
    since, until = START + timedelta(minutes=3), START + timedelta(minutes=10)
    assert await store_log.count_records(since=since, until=until) == 6
    assert await store_log.count_records(consent_id="visitor-3") == 2
    assert await store_log.count_records(consent_id="visitor-1") == 1  # the erase record
    rows = parse_csv(await export(store_log, since=since, until=until))[1:]
    assert len(rows) == 6


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
    )
)
def test_parse_when_reads_any_iso_time_back_as_the_same_instant(when: datetime) -> None:
    assert parse_when(when.isoformat()) == when
    assert parse_when(when.astimezone(UTC).isoformat().replace("+00:00", "Z")) == when
