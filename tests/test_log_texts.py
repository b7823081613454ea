"""The log side of category revisions: records carry them, the texts table keeps what they
digest, retention prunes what no record refers to, on SQLite and PostgreSQL alike; old
records verify as they always did."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consentgate._cli import main
from consentgate.log._chain import content_digest, record_hash
from consentgate.log._export import EXPORT_COLUMNS, csv_lines, export_chunks, json_lines
from consentgate.log._record import encoding_version
from consentgate.log._texts import ShownTexts, TextsStore
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats

from .helpers import choose, client_for, make_app, make_config, make_record
from .servers import Lifespan
from .stores import Store

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATISTICS = "5b" * 32
MARKETING = "9e" * 32
#: A page with the holes its fingerprint is taken with, and a category's canonical JSON.
PAGE = ShownTexts(kind="page", name="banner", language="da", content="<p>Må vi?</p>\x00csrf\x00🍪")
CATEGORY = ShownTexts(
    kind="category",
    name="statistics",
    language=None,
    content='{"da":{"description":"Tæller besøg","providers":[],"title":"Statistik"}}',
)


def page(text: str) -> ShownTexts:
    return ShownTexts(kind="page", name="banner", language="en", content=text)


async def test_texts_are_kept_once_with_when_they_were_first_and_last_seen(store: Store) -> None:
    async with store.open() as log:
        assert isinstance(log, TextsStore)
        await log.keep_texts([CATEGORY, PAGE], T0)
        await log.keep_texts([PAGE], T0 + timedelta(days=1))
        kept = await log.kept_texts()
        pages = await log.kept_texts("page")
    by_name = {t.name: t for t in kept}
    assert len(kept) == 2 and [t.name for t in pages] == ["banner"]
    banner, category = by_name["banner"], by_name["statistics"]
    assert banner.content == PAGE.content and banner.language == "da" and banner.kind == "page"
    assert banner.fingerprint == hashlib.sha256(PAGE.content.encode()).hexdigest()
    assert banner.intact
    assert (banner.first_seen, banner.last_seen) == (T0, T0 + timedelta(days=1))
    assert (category.first_seen, category.last_seen) == (T0, T0)
    assert category.language is None and json.loads(category.content)["da"]["title"] == "Statistik"


async def test_a_texts_row_altered_behind_the_logs_back_is_not_intact(store: Store) -> None:
    async with store.open() as log:
        await log.keep_texts([CATEGORY], T0)
    store.tamper("UPDATE consent_texts SET content = ?", b'{"da":{"title":"Andet"}}')
    async with store.open() as log:
        [kept] = await log.kept_texts()
    assert not kept.intact and kept.as_json()["intact"] is False


async def test_a_record_keeps_its_revisions_and_verifies_keyed_or_not(store: Store) -> None:
    granting = make_record(
        granted=("marketing", "statistics"),
        revisions={"statistics": STATISTICS, "marketing": MARKETING},
    )
    refusing = make_record(action="reject", granted=(), refused=("statistics",), gpc=True)
    async with store.open() as log:
        stored = [await log.record(granting), await log.record(refusing)]
    async with store.open(chain_key=b"k" * 32) as log:
        stored.append(await log.record(granting))
        history = await log.history("visitor-1")
        report = await log.verify()
    assert report.ok and report.keyed == 1 and report.checked == 3, report.reason
    assert history[0].revisions == (("marketing", MARKETING), ("statistics", STATISTICS))
    assert history == stored and history[1].revisions == ()
    # Version 4 for revisions, the version before for a record without them.
    assert [store.row(r.sequence or 0)["chain_version"] for r in stored] == [4, 3, 4]
    assert store.row(stored[0].sequence or 0)["revisions"] == (
        f'{{"marketing":"{MARKETING}","statistics":"{STATISTICS}"}}'
    )
    store.tamper(
        "UPDATE consent_records SET revisions = ? WHERE sequence = ?",
        f'{{"marketing":"{MARKETING}","statistics":"{MARKETING}"}}',
        stored[0].sequence,
    )
    async with store.open() as log:
        assert (await log.verify()).first_broken_sequence == stored[0].sequence


def test_a_record_without_revisions_is_hashed_as_before() -> None:
    """Version 1 records keep their bytes: every log written before keeps verifying; a
    record with revisions is their canonical JSON with one more key."""
    plain = make_record()
    version_1 = {
        "action": "grant",
        "consent_id": "visitor-1",
        "granted": ["analytics", "marketing"],
        "ip": None,
        "language": "de",
        "policy_version": "2024-05",
        "refused": ["personalisation"],
        "source": "banner",
        "text_fingerprint": "ab" * 32,
        "time": "2024-05-01T12:30:15.123456Z",
        "user_agent": None,
    }
    canonical = json.dumps(version_1, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert encoding_version(plain) == 1
    assert content_digest(plain) == hashlib.sha256(canonical.encode()).hexdigest()
    revised = make_record(revisions={"analytics": STATISTICS}, gpc=True, providers=("vimeo",))
    assert encoding_version(revised) == 4
    version_4 = {
        **version_1,
        "gpc": True,
        "providers": ["vimeo"],
        "revisions": {"analytics": STATISTICS},
    }
    canonical = json.dumps(version_4, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_digest(revised) == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "revisions",
    [
        {"gone": STATISTICS},  # a category not granted
        {"analytics": "not a revision"},
        {"analytics": STATISTICS.upper()},
        [("analytics", STATISTICS), ("analytics", MARKETING)],
    ],
)
def test_revisions_must_be_of_granted_categories_and_digests(revisions: Any) -> None:
    with pytest.raises(ValueError):
        make_record(revisions=revisions)


async def test_erasure_blanks_revisions_and_the_chain_still_verifies(store: Store) -> None:
    async with store.open() as log:
        stored = await log.record(make_record(revisions={"analytics": STATISTICS}))
        await log.erase("visitor-1")
        report = await log.verify()
    assert report.ok and report.erased == 1, report.reason
    assert store.row(stored.sequence or 0)["revisions"] is None
    assert store.row(stored.sequence or 0)["chain_version"] == 4


async def test_the_export_ends_with_revisions_as_the_stores_write_them(store: Store) -> None:
    record = make_record(
        granted=("analytics", "ünïcødé"),
        revisions={"ünïcødé": MARKETING, "analytics": STATISTICS},
    )
    async with store.open() as log:
        stored = [await log.record(record), await log.record(make_record(gpc=True))]
        csv_text = "".join([c async for c in export_chunks(log, "csv")])
        jsonl = "".join([c async for c in export_chunks(log, "jsonl")])
    assert EXPORT_COLUMNS[-2:] == ("gpc", "revisions")
    assert csv_text.splitlines(keepends=True)[1:] == csv_lines(stored).splitlines(keepends=True)
    assert jsonl == json_lines(stored)
    first, second = map(json.loads, jsonl.splitlines())
    assert first["revisions"] == {"analytics": STATISTICS, "ünïcødé": MARKETING}
    assert list(first)[-1] == "revisions" and second["revisions"] == {}


async def test_a_log_from_before_revisions_upgrades_with_its_records(store: Store) -> None:
    """A log at the schema before revisions, with records of every earlier encoding (one
    erased): upgraded, its rows get no revisions and verify unchanged, keyed or not.
    (test_log_integrity builds that schema's rows by hand, too.)"""
    async with store.open() as log:
        old = [
            await log.record(make_record(consent_id="v0")),
            await log.record(make_record(consent_id="v1", providers=("vimeo",))),
            await log.record(make_record(consent_id="v2", gpc=True)),
        ]
        await log.erase("v1")
    # The log as the schema before revisions left it (SQLite rebuilds the table anyway),
    # nor any table after it.
    store.tamper("DROP TABLE consent_texts")
    store.tamper("DROP TABLE head_timestamps")
    if store.kind == "postgresql":
        store.tamper("ALTER TABLE consent_records DROP COLUMN revisions")
    store.tamper(f"UPDATE schema_version SET version = {store.versions['revisions'] - 1}")
    async with store.open() as log:
        report = await log.verify()
        history = await log.history("v2")
        await log.keep_texts([PAGE], T0)
    async with store.open(chain_key=b"k" * 32) as log:
        new = await log.record(make_record(revisions={"analytics": STATISTICS}))
        after = await log.verify()
    assert report.ok and after.ok and after.keyed == 1, (report.reason, after.reason)
    assert report.checked == 4 and report.erased == 1
    assert history[0].hash == old[2].hash == record_hash(history[0])
    assert new.revisions == (("analytics", STATISTICS),) and new.sequence == 5
    assert store.row(1)["revisions"] == "{}" and store.row(2)["revisions"] is None
    assert store.query("SELECT version FROM schema_version") == [(store.schema_version,)]


async def test_pruning_drops_the_texts_no_record_refers_to(store: Store) -> None:
    """What a pruned record alone referred to goes; what a kept record refers to, and what
    the latest start-up showed, stay."""
    gone, referred, shown_now = page("old banner"), page("banner of a kept record"), page("now")

    def category(content: str) -> ShownTexts:
        return ShownTexts(kind="category", name="statistics", language=None, content=content)

    category_gone, category_then, category_now = category("{}"), category("[]"), category("0")
    async with store.open() as log:
        await log.keep_texts([gone, referred, category_gone, category_then], T0)
        # The latest start-up, longer ago than the retention too (a long-running process).
        await log.keep_texts([shown_now, category_now], T0 + timedelta(days=100))
        await log.record(make_record(time=T0, text_fingerprint=gone.fingerprint))
        await log.record(
            make_record(
                time=T0 + timedelta(days=300),
                text_fingerprint=referred.fingerprint,
                granted=("statistics",),
                revisions={"statistics": category_then.fingerprint},
            )
        )
        assert await log.prune(T0 + timedelta(days=200)) == 1
        kept = {t.fingerprint for t in await log.kept_texts()}
    assert kept == {
        referred.fingerprint,
        category_then.fingerprint,
        shown_now.fingerprint,
        category_now.fingerprint,
    }


async def test_start_up_keeps_the_texts_and_logs_each_changed_category(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the lifespan, on the real stores: one line per category whose revision
    changed since the log last kept it, none for the others or on a restart."""

    def changed() -> list[str]:
        return [r.getMessage() for r in caplog.records if "log last saw it" in r.getMessage()]

    async def start(providers: list[Any]) -> None:
        async with store.open() as log:
            server = Lifespan(make_app(make_config(providers=providers, store=log)))
            await server.startup()
            await server.shutdown()

    with caplog.at_level(logging.WARNING, logger="consentgate"):
        await start([GoogleAnalytics("G-TEST123456"), Buffer()])
        assert not changed()
        await start([GoogleAnalytics("G-TEST123456"), Buffer(), JetpackStats(blog_id=1)])
        [line] = changed()
        caplog.clear()
        await start([GoogleAnalytics("G-TEST123456"), Buffer(), JetpackStats(blog_id=1)])
        assert not changed()
    assert line.startswith("consent category 'statistics' changed since the consent log")
    assert f"providers added: {JetpackStats(blog_id=1).name}." in line
    async with store.open() as log:
        categories = await log.kept_texts("category")
    assert sorted(t.name for t in categories) == ["marketing", "statistics", "statistics"]


def test_export_texts_prints_the_table_as_json(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    path = tmp_path / "log.db"
    url = f"sqlite:///{path}"

    async def visit() -> None:
        app = make_app(make_config(store=url))
        async with client_for(app) as client:
            assert (await choose(client, "accept_all")).status_code == 303

    asyncio.run(visit())
    assert main(["export", "--texts", "--store", url]) == 0
    texts: list[dict[str, Any]] = json.loads(capsysbinary.readouterr().out)
    categories = {t["name"]: t for t in texts if t["kind"] == "category"}
    assert set(categories) == {"statistics", "marketing"}
    assert categories["statistics"]["content"]["da"]["title"] == "Statistik"
    assert all(t["intact"] for t in texts)
    pages = {(t["name"], t["language"]) for t in texts if t["kind"] == "page"}
    assert ("banner", "da") in pages and ("preferences", "fi") in pages
    # The record names what it granted by the revisions the table holds.
    assert main(["export", "--format", "jsonl", "--store", url]) == 0
    [record] = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert record["revisions"] == {n: t["fingerprint"] for n, t in categories.items()}
    assert record["text_fingerprint"] in {t["fingerprint"] for t in texts}
    assert main(["export", "--texts", "--since", "2026-01-01", "--store", url]) == 2
    assert main(["export", "--texts", "--format", "csv", "--store", url]) == 2
    assert main(["export", "--texts", "-o", str(tmp_path / "texts.json"), "--store", url]) == 0
    assert json.loads((tmp_path / "texts.json").read_text("utf-8")) == texts
