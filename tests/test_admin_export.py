"""``GET /_consent/admin/export``: the token, the parameters, and a stream that is not buffered."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentgate import StorageError
from consentgate.log import ConsentLog, ConsentRecord
from consentgate.log._export import CSV_HEADER, EXPORT_COLUMNS

from .helpers import RecordingLog, TextsLog, choose, client_for, make_app, make_config, make_record
from .stores import Store

pytestmark = pytest.mark.anyio

TOKEN = "admin-token-that-is-long-enough-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
URL = "/_consent/admin/export"


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
async def any_log(store: Store) -> AsyncIterator[ConsentLog]:
    """A log of each store in turn."""
    log = store.open()
    yield log
    await log.aclose()


async def test_the_route_does_not_exist_without_a_token() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        response = await client.get(URL, headers=AUTH)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"{TOKEN}",
        "Bearer wrong-token-that-is-long-enough-0123456789",
        "Bearer ünïcødé".encode(),
    ],
)
async def test_anything_but_the_token_gets_401_and_no_data(
    authorization: str | bytes | None,
) -> None:
    log = RecordingLog()
    await log.record(make_record(consent_id="secret-visitor"))
    value = authorization.encode() if isinstance(authorization, str) else authorization
    headers = {} if value is None else {b"authorization": value}
    async with client_for(make_app(make_config(store=log, admin_token=TOKEN))) as client:
        response = await client.get(URL, headers=headers, params={"format": "jsonl"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="consentgate"')
    assert ("invalid_token" in response.headers["www-authenticate"]) == bool(authorization)
    assert response.headers["cache-control"] == "no-store"
    assert "secret-visitor" not in response.text
    assert response.text == "Unauthorized\n"


async def test_bad_parameters_are_checked_only_after_the_token() -> None:
    app = make_app(make_config(store=RecordingLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.get(URL, params={"format": "xml"})
    assert response.status_code == 401


async def test_choices_made_over_http_come_back_as_csv(any_log: ConsentLog) -> None:
    app = make_app(make_config(store=any_log, admin_token=TOKEN))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        await choose(client, "reject_all")
        me = (await client.get("/_consent/me")).json()
        response = await client.get(URL, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="consent-log-')
    assert disposition.endswith('.csv"')
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith(CSV_HEADER)
    header, *rows = rows_of(response.text)
    assert tuple(header) == EXPORT_COLUMNS
    assert [(row[2], row[3]) for row in rows] == [
        (me["consent_id"], "grant"),
        (me["consent_id"], "withdraw"),
    ]


async def test_jsonl_with_filters(any_log: ConsentLog) -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    for i in range(6):
        await any_log.record(make_record(consent_id=f"v{i % 2}", time=start + timedelta(days=i)))
    app = make_app(make_config(store=any_log, admin_token=TOKEN))
    params = {
        "format": "jsonl",
        "since": "2024-05-02",
        "until": "2024-05-05T00:00:00+00:00",
        "consent_id": "v1",
    }
    async with client_for(app) as client:
        response = await client.get(URL, headers=AUTH, params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"].endswith('.jsonl"')
    objects = [json.loads(line) for line in response.text.splitlines()]
    assert [(o["consent_id"], o["time"][:10]) for o in objects] == [
        ("v1", "2024-05-02"),
        ("v1", "2024-05-04"),
    ]


async def test_an_empty_log_gives_just_the_header() -> None:
    app = make_app(make_config(store=RecordingLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        csv_response = await client.get(URL, headers=AUTH)
        jsonl_response = await client.get(URL, headers=AUTH, params={"format": "jsonl"})
    assert csv_response.text == CSV_HEADER
    assert (jsonl_response.status_code, jsonl_response.text) == (200, "")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("format=xml", "format must be csv, jsonl or texts"),
        ("since=yesterday", "since: 'yesterday' is not an ISO 8601"),
        ("until=2024-13-01", "until: '2024-13-01' is not an ISO 8601"),
        ("since=2024-05-02&until=2024-05-01", "since must be before until"),
        ("consent_id=", "consent_id must not be empty"),
        ("sinse=2024-05-01", "unknown parameter 'sinse'"),
        ("format=csv&format=jsonl", "format given more than once"),
        ("since=0001-01-01T00:00:00%2B01:00", "since: '0001-01-01T00:00:00+01:00' is out of"),
        ("until=9999-12-31T23:59:59-01:00", "until: '9999-12-31T23:59:59-01:00' is out of"),
    ],
)
async def test_bad_parameters_get_400(query: str, message: str) -> None:
    app = make_app(make_config(store=RecordingLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.get(f"{URL}?{query}", headers=AUTH)
    assert response.status_code == 400
    assert message in response.text


async def test_other_methods_get_405() -> None:
    app = make_app(make_config(store=RecordingLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.post(URL, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


class UnreadableLog(RecordingLog):
    async def iter_records(self, **kwargs: Any) -> AsyncIterator[ConsentRecord]:
        raise StorageError("the disk is gone")
        yield  # pragma: no cover - makes this an async generator


async def test_a_store_that_cannot_be_read_gets_503(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(make_config(store=UnreadableLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.get(URL, headers=AUTH)
    assert response.status_code == 503
    assert "the disk is gone" in caplog.text
    assert "the disk is gone" not in response.text


class GatedLog(RecordingLog):
    """Gives ``first`` records, then waits for ``release`` before giving the rest."""

    def __init__(self, first: int, rest: int) -> None:
        super().__init__()
        self.first, self.rest = first, rest
        self.release = asyncio.Event()
        self.finished = False

    async def iter_records(self, **kwargs: Any) -> AsyncIterator[ConsentRecord]:
        for i in range(self.first + self.rest):
            if i == self.first:
                await self.release.wait()
            yield make_record(consent_id=f"v{i}", sequence=i + 1)
        self.finished = True


async def test_the_export_streams_before_the_log_is_read_to_the_end() -> None:
    """Driven at the ASGI level: httpx's test transport would collect the body first."""
    log = GatedLog(first=2000, rest=500)
    app = make_app(make_config(store=log, admin_token=TOKEN))
    sent: list[dict[str, Any]] = []
    got_rows = asyncio.Event()
    disconnect = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and b"v1999" in message.get("body", b""):
            got_rows.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", AUTH["authorization"].encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    running = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(got_rows.wait(), timeout=10)
    assert sent[0]["status"] == 200
    assert not log.finished and not running.done()
    assert all(m.get("more_body") for m in sent[1:])
    log.release.set()
    await asyncio.wait_for(running, timeout=10)
    disconnect.set()
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert len(rows_of(body)) == 1 + 2500
    assert log.finished


async def test_a_visitor_cookie_is_no_key_to_the_export(any_log: ConsentLog) -> None:
    app = make_app(make_config(store=any_log, admin_token=TOKEN))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        response = await client.get(URL)
    assert response.status_code == 401


async def test_format_texts_answers_the_texts_kept_as_json() -> None:
    log = TextsLog()
    app = make_app(make_config(store=log, admin_token=TOKEN))
    async with client_for(app) as client:
        assert (await choose(client, "accept_all")).status_code == 303
        response = await client.get("/_consent/admin/export?format=texts", headers=AUTH)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        texts = response.json()
        record = log.records[0]
        fingerprints = {t["fingerprint"]: t for t in texts}
        assert record.text_fingerprint in fingerprints
        statistics = next(t for t in texts if t["name"] == "statistics")
        assert statistics["kind"] == "category" and statistics["intact"] is True
        assert statistics["content"]["da"]["title"] == "Statistik"
        mixed = await client.get(
            "/_consent/admin/export?format=texts&since=2026-01-01", headers=AUTH
        )
        assert mixed.status_code == 400
        anonymous = await client.get("/_consent/admin/export?format=texts")
        assert anonymous.status_code == 401


async def test_format_texts_of_a_log_without_texts_is_501() -> None:
    app = make_app(make_config(store=RecordingLog(), admin_token=TOKEN))
    async with client_for(app) as client:
        response = await client.get("/_consent/admin/export?format=texts", headers=AUTH)
    assert response.status_code == 501
