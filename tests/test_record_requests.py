"""A site owner answering an access or erasure request: ``consentgate show`` and ``erase``,
and ``GET <prefix>/admin/records`` and ``POST <prefix>/admin/erase``."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consentgate._cli import main
from consentgate._outbox import encode
from consentgate.log import ConsentLog
from consentgate.log._export import EXPORT_COLUMNS, export_chunks

from .helpers import RecordingLog, choose, client_for, make_app, make_config, make_record
from .stores import Store

TOKEN = "admin-token-that-is-long-enough-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
RECORDS, ERASE = "/_consent/admin/records", "/_consent/admin/erase"
NOW = datetime.now(UTC)


async def fill(log: ConsentLog) -> None:
    """Two records of visitor ``v1`` (the first allowing a provider of a refused category)
    around one of ``v2``."""
    await log.record(
        make_record(
            consent_id="v1",
            time=NOW - timedelta(days=3),
            granted=("analytics",),
            refused=("marketing", "personalisation"),
            providers=("video-host",),
            gpc=True,
        )
    )
    await log.record(make_record(consent_id="v2", time=NOW - timedelta(days=2)))
    await log.record(
        make_record(
            consent_id="v1",
            time=NOW - timedelta(days=1),
            action="withdraw",
            granted=(),
            refused=("analytics", "marketing"),
            user_agent="Mozilla/5.0\x1b[2J",
        )
    )


async def jsonl(log: ConsentLog) -> list[dict[str, object]]:
    text = "".join([chunk async for chunk in export_chunks(log, "jsonl")])
    return [json.loads(line) for line in text.splitlines()]


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def filled(store: Store) -> Store:
    async def run() -> None:
        async with store.open() as log:
            await fill(log)

    assert main(["migrate", "--store", store.url]) == 0
    asyncio.run(run())
    return store


def test_show_prints_the_history_as_a_table(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["show", "--store", filled.url, "--consent-id", "v1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "consent id v1: 2 records"
    assert lines[1].split() == [
        "sequence", "time", "action", "granted", "refused", "providers", "policy", "source",
        "language", "gpc", "user", "agent", "ip",
    ]  # fmt: skip
    assert lines[2].split()[9] == "yes" and lines[3].split()[9] == "-"
    assert lines[2].split()[:6] == [
        "1",
        lines[2].split()[1],
        "grant",
        "analytics",
        "marketing,personalisation",
        "video-host",
    ]
    assert lines[3].split()[2:6] == ["withdraw", "-", "analytics,marketing", "-"]
    assert "Mozilla/5.0?[2J" in lines[3]  # no terminal control sequence gets through
    assert len(lines) == 4


def test_show_as_json_is_what_the_visitor_downloads(
    filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "consentgate.toml"
    config.write_text('controller_name = "Testfirma ApS"\nretention_days = 400\n')
    capsys.readouterr()
    argv = ["show", "--store", filled.url, "--config", str(config), "--consent-id", "v1"]
    assert main([*argv, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["consent_id"] == "v1"
    assert document["controller"]["name"] == "Testfirma ApS"
    assert document["retention_days"] == 400
    assert [list(r) for r in document["records"]] == [list(EXPORT_COLUMNS)] * 2
    assert [r["sequence"] for r in document["records"]] == [1, 3]
    assert [r["providers"] for r in document["records"]] == [["video-host"], []]
    assert [r["gpc"] for r in document["records"]] == [True, False]


def test_show_and_erase_take_what_the_sites_outbox_still_holds(
    filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A withdrawal made while the log was down waits in the site's outbox: the visitor's
    record shows it, and an erasure takes it too instead of leaving it to come back."""
    config = tmp_path / "consentgate.toml"
    config.write_text('outbox = "pending"\n')
    pending = tmp_path / "pending"
    waiting = make_record(consent_id="v1", time=NOW, action="withdraw", granted=())
    pending.write_text(encode(waiting) + "\n")
    argv = ["--store", filled.url, "--config", str(config), "--consent-id", "v1"]
    capsys.readouterr()
    assert main(["show", *argv]) == 0
    assert capsys.readouterr().out.startswith("consent id v1: 3 records")
    assert pending.read_text() == ""
    pending.write_text(encode(replace(waiting, time=NOW + timedelta(seconds=1))) + "\n")
    assert main(["erase", *argv, "--yes"]) == 0
    assert capsys.readouterr().out.startswith("erased 4 records of consent id v1")
    assert pending.read_text() == ""
    assert main(["verify", "--store", filled.url]) == 0


def test_show_and_erase_an_unknown_id_exit_2(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--store", filled.url, "--consent-id", "nobody"]) == 2
    assert main(["erase", "--store", filled.url, "--consent-id", "nobody", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("holds no record of consent id 'nobody'") == 2


def test_erase_with_yes_tombstones_and_the_chain_still_verifies(
    filled: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["erase", "--store", filled.url, "--consent-id", "v1", "--yes"]) == 0
    out = capsys.readouterr().out
    assert out == "erased 2 records of consent id v1; the log keeps an erase record of it\n"
    assert main(["verify", "--store", filled.url]) == 0
    assert "2 of them erased" in capsys.readouterr().out
    # Once more: nothing left, said so, and no second erase record.
    assert main(["erase", "--store", filled.url, "--consent-id", "v1", "--yes"]) == 0
    assert capsys.readouterr().out.startswith("nothing left to erase: consent id v1 was erased")
    assert main(["export", "--store", filled.url, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["consent_id"], r["action"]) for r in rows] == [("v2", "grant"), ("v1", "erase")]
    assert rows[1]["granted"] == rows[1]["refused"] == [] and rows[1]["user_agent"] is None


@pytest.mark.parametrize(("answer", "status"), [("y\n", 0), ("yes\n", 0), ("n\n", 1), ("", 1)])
def test_erase_asks_first(
    filled: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    status: int,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert main(["erase", "--store", filled.url, "--consent-id", "v1"]) == status
    captured = capsys.readouterr()
    assert "Erase the 2 records of consent id v1?" in captured.out
    if status == 1:
        assert "nothing erased" in captured.err
    assert main(["verify", "--store", filled.url]) == 0
    assert ("2 of them erased" in capsys.readouterr().out) is (status == 0)


# -- over HTTP -----------------------------------------------------------------------------

anyio = pytest.mark.anyio


@pytest.fixture
async def log(store: Store) -> AsyncIterator[ConsentLog]:
    log = store.open()
    await fill(log)
    yield log
    await log.aclose()


@anyio
async def test_admin_records_gives_the_visitors_document(log: ConsentLog) -> None:
    app = make_app(make_config(store=log, admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.get(RECORDS, params={"consent_id": "v1"}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["consent_id"] == "v1"
    assert document["controller"]["name"] == "Testfirma ApS"
    assert [r["sequence"] for r in document["records"]] == [1, 3]
    assert [r["providers"] for r in document["records"]] == [["video-host"], []]


@anyio
async def test_admin_erase_by_form_and_by_json(log: ConsentLog) -> None:
    app = make_app(make_config(store=log, admin_token=TOKEN))
    async with client_for(app) as client:
        by_form = await client.post(ERASE, data={"consent_id": "v1"}, headers=AUTH)
        by_json = await client.post(ERASE, json={"consent_id": "v2"}, headers=AUTH)
        again = await client.post(ERASE, json={"consent_id": "v2"}, headers=AUTH)
        gone = await client.get(RECORDS, params={"consent_id": "v1"}, headers=AUTH)
    assert by_form.status_code == 200 and by_form.json() == {"consent_id": "v1", "erased": 2}
    assert by_json.status_code == 200 and by_json.json() == {"consent_id": "v2", "erased": 1}
    assert again.json() == {"consent_id": "v2", "erased": 0}
    # What is left of v1 is the proof that it was erased, and when.
    assert [r["action"] for r in gone.json()["records"]] == ["erase"]
    report = await log.verify()
    assert report.ok and report.erased == 3
    assert [(r["consent_id"], r["action"]) for r in await jsonl(log)] == [
        ("v1", "erase"),
        ("v2", "erase"),
    ]


@anyio
async def test_admin_erase_takes_the_outboxs_withdrawals_with_it(tmp_path: Path) -> None:
    log, outbox = RecordingLog(), tmp_path / "outbox"
    app = make_app(make_config(store=log, admin_token=TOKEN, outbox=outbox))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        consent_id = (await client.get("/_consent/me")).json()["consent_id"]
        log.failing = True
        await choose(client, "reject_all")  # honoured, and kept in the outbox
        log.failing = False  # back, before the outbox's retry in the background
        erased = await client.post(ERASE, data={"consent_id": consent_id}, headers=AUTH)
    assert erased.json() == {"consent_id": consent_id, "erased": 2}
    assert outbox.read_bytes() == b"" and log.records == []


@anyio
@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", RECORDS, {"params": {"consent_id": "nobody"}}, 404),
        ("POST", ERASE, {"data": {"consent_id": "nobody"}}, 404),
        ("GET", RECORDS, {}, 400),
        ("GET", RECORDS, {"params": {"consent_id": ""}}, 400),
        ("GET", RECORDS, {"params": {"consent_id": "v1", "format": "csv"}}, 400),
        ("GET", RECORDS, {"params": [("consent_id", "v1"), ("consent_id", "v2")]}, 400),
        ("POST", ERASE, {"json": ["v1"]}, 400),
        ("POST", ERASE, {"json": {"consent_id": 1}}, 400),
        ("POST", ERASE, {"content": b"{no", "headers": {"content-type": "application/json"}}, 400),
        ("POST", ERASE, {"content": b"x", "headers": {"content-type": "text/plain"}}, 400),
        ("POST", ERASE, {"data": {"consent_id": "v1" * 3000}}, 400),
        ("POST", RECORDS, {}, 405),
        ("GET", ERASE, {}, 405),
    ],
)  # fmt: skip
async def test_admin_record_requests_that_cannot_be_answered(
    method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    log = RecordingLog()
    await fill(log)
    headers = {**AUTH, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    async with client_for(make_app(make_config(store=log, admin_token=TOKEN))) as client:
        response = await client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert len(log.records) == 3


@anyio
@pytest.mark.parametrize("path", [RECORDS, ERASE])
async def test_admin_record_routes_need_the_token_and_exist_only_with_one(path: str) -> None:
    log = RecordingLog()
    await fill(log)
    method = "GET" if path == RECORDS else "POST"
    async with client_for(make_app(make_config(store=log, admin_token=TOKEN))) as client:
        wrong = await client.request(
            method, path, params={"consent_id": "v1"}, headers={"authorization": "Bearer nope"}
        )
        missing = await client.request(method, path, params={"consent_id": "v1"})
    async with client_for(make_app(make_config(store=log))) as client:
        off = await client.request(method, path, params={"consent_id": "v1"}, headers=AUTH)
    assert wrong.status_code == missing.status_code == 401
    assert "v1" not in wrong.text and "v1" not in missing.text
    assert off.status_code == 404
    assert len(log.records) == 3


@anyio
@pytest.mark.parametrize("path", [RECORDS, ERASE])
async def test_a_log_that_is_down_gets_503(path: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = make_config(store=f"sqlite:///{blocker}/consent.db", admin_token=TOKEN)
    async with client_for(make_app(config)) as client:
        if path == RECORDS:
            response = await client.get(path, params={"consent_id": "v1"}, headers=AUTH)
        else:
            response = await client.post(path, data={"consent_id": "v1"}, headers=AUTH)
    assert response.status_code == 503
    assert response.json() == {"error": "the consent log cannot be reached"}
