"""Global Privacy Control in the consent log: a choice made with GPC is kept, hashed,
exported and erased with that fact, on both stores."""

from __future__ import annotations

import csv
import io
import json

import pytest

from consentgate.log import ConsentRecord, Tombstone, record_hash
from consentgate.log._export import EXPORT_COLUMNS, export_chunks
from tests.helpers import make_record
from tests.stores import Store

pytestmark = pytest.mark.anyio


async def text_of(log: object, format: str) -> str:
    return "".join([chunk async for chunk in export_chunks(log, format)])  # type: ignore[arg-type]


def test_gpc_is_a_boolean_and_off_by_default() -> None:
    assert make_record().gpc is False
    with pytest.raises(TypeError, match="gpc"):
        make_record(gpc=1)


async def test_a_choice_made_with_gpc_is_kept_with_that_fact(store: Store) -> None:
    async with store.open() as log:
        plain = await log.record(make_record(consent_id="a"))
        with_gpc = await log.record(
            make_record(consent_id="b", action="reject", granted=(), gpc=True)
        )
        both = await log.record(make_record(consent_id="b", providers=("youtube",), gpc=True))
        history = await log.history("b")
        report = await log.verify()
    assert history == [with_gpc, both]
    assert [r.gpc for r in history] == [True, True] and plain.gpc is False
    assert [r.hash for r in history] == [record_hash(r) for r in history]
    assert report.ok and report.checked == 3, report.reason
    # The encoding that holds GPC is version 3, with or without providers.
    assert [store.row(n)["chain_version"] for n in (1, 2, 3)] == [1, 3, 3]
    assert [bool(store.row(n)["gpc"]) for n in (1, 2, 3)] == [False, True, True]


@pytest.mark.parametrize("edit", ["gpc = NOT gpc", "chain_version = 1", "chain_version = 2"])
async def test_an_edit_of_gpc_or_its_encoding_is_a_broken_chain(store: Store, edit: str) -> None:
    async with store.open() as log:
        await log.record(make_record(consent_id="a"))
        await log.record(make_record(consent_id="b", gpc=True))
        await log.record(make_record(consent_id="c"))
        assert (await log.verify()).ok
        store.tamper(f"UPDATE consent_records SET {edit} WHERE sequence = 2")
        report = await log.verify()
        store.tamper("UPDATE consent_records SET gpc = NOT gpc WHERE sequence = 3")
        later = await log.verify(expect_head=None)
    assert (report.ok, report.first_broken_sequence) == (False, 2), report.reason
    assert (later.ok, later.first_broken_sequence) == (False, 2)


async def test_gpc_turned_on_for_a_record_without_it_is_caught(store: Store) -> None:
    async with store.open() as log:
        await log.record(make_record(consent_id="a"))
        await log.record(make_record(consent_id="b"))
        store.tamper("UPDATE consent_records SET gpc = NOT gpc, chain_version = 3")
        report = await log.verify()
    assert (report.ok, report.first_broken_sequence) == (False, 1)


async def test_gpc_is_exported_after_the_first_columns(store: Store) -> None:
    """After the columns of the first release, before those added since (revisions)."""
    async with store.open() as log:
        await log.record(make_record(consent_id="a"))
        await log.record(make_record(consent_id="b", gpc=True))
        csv_text = await text_of(log, "csv")
        jsonl = await text_of(log, "jsonl")
    header, *rows = list(csv.reader(io.StringIO(csv_text)))
    assert header[-2:] == ["gpc", "revisions"] and header == list(EXPORT_COLUMNS)
    assert header[:15] == [
        "sequence",
        "time",
        "consent_id",
        "action",
        "granted",
        "refused",
        "providers",
        "policy_version",
        "language",
        "source",
        "text_fingerprint",
        "user_agent",
        "ip",
        "prev_hash",
        "hash",
    ]
    assert [row[-2] for row in rows] == ["false", "true"]
    assert csv_text.endswith('"true","{}"\r\n')
    objects = [json.loads(line) for line in jsonl.splitlines()]
    assert [o["gpc"] for o in objects] == [False, True]
    assert list(objects[0]) == list(EXPORT_COLUMNS)


async def test_erasing_a_choice_made_with_gpc_keeps_the_chain_and_drops_the_fact(
    store: Store,
) -> None:
    async with store.open() as log:
        stored = await log.record(make_record(consent_id="b", gpc=True))
        await log.record(make_record(consent_id="c"))
        assert await log.erase("b") == 1
        report = await log.verify()
        links = [link async for link in log.iter_chain()]
    tombstone = links[0]
    assert isinstance(tombstone, Tombstone)
    assert (tombstone.version, tombstone.hash) == (3, stored.hash)
    assert store.row(1)["gpc"] is None
    assert report.ok and report.erased == 1, report.reason
    assert not any(isinstance(link, ConsentRecord) and link.gpc for link in links)
