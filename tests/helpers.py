"""What the tests share: a small site behind ConsentMiddleware, clients that make choices,
consent logs kept in lists, records, and the renderer as the middleware builds it.

Test modules import these from here, never from each other or from conftest.py.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware, get_consent
from consentgate._assets import Assets
from consentgate._render import Renderer
from consentgate.log import ConsentLog, ConsentRecord, record_hash
from consentgate.log._chain import GENESIS_HASH
from consentgate.log._texts import KeptTexts, ShownTexts
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats, SiteKit

# -- a site behind the middleware, and a visitor -----------------------------------------


SECRET = "test-secret-key-that-is-long-enough-0123456789"
OLD_SECRET = "older-secret-key-that-is-long-enough-9876543210"
BASE_URL = "http://testserver"
PAGE = (
    "<!doctype html><html><head><title>Side</title></head>"
    "<body><h1>Velkommen</h1><p>Indhold</p></body></html>"
)


def all_providers() -> list[Any]:
    return [
        GoogleAnalytics("G-TEST123456"),
        SiteKit("G-SITEKIT123"),
        JetpackStats(blog_id=4242),
        Buffer(),
    ]


def make_config(**overrides: Any) -> ConsentConfig:
    settings: dict[str, Any] = {
        "secret_key": SECRET,
        "policy_version": "2026-11",
        "providers": all_providers(),
        "store": "sqlite:///:memory:",
        "controller_name": "Testfirma ApS",
        "privacy_policy_url": "/privatliv",
    }
    settings.update(overrides)
    return ConsentConfig(**settings)


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def json_endpoint(request: Request) -> Response:
    return JSONResponse({"ok": True, "consent": get_consent(request).as_json()})


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"<!doctype html><html><he"
        yield b"ad><title>Stream</title></HE"
        yield b"AD><body><p>one</p>"
        yield b"<p>two</p></bo"
        yield b"dy></html>"

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def set_cookies(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("_ga", "GA1.1.123.456")
    response.set_cookie("_ga_TEST123456", "GS1.1.789")
    response.set_cookie("session", "abc")
    return response


async def json_set_cookies(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    response.set_cookie("_ga", "GA1.1.123.456")
    response.set_cookie("session", "abc")
    return response


def site_routes() -> list[Route]:
    return [
        Route("/", page),
        Route("/page", page),
        Route("/admin/page", page),
        Route("/api/data", json_endpoint),
        Route("/stream", stream),
        Route("/set-cookies", set_cookies),
        Route("/api/set-cookies", json_set_cookies),
    ]


def make_app(config: ConsentConfig | None = None, routes: Sequence[Route] | None = None) -> Any:
    app = Starlette(routes=list(routes if routes is not None else site_routes()))
    app.add_middleware(ConsentMiddleware, config=config or make_config())
    return app


def client_for(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, **kwargs)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf_token field in the page"
    return match[1]


async def choose(
    client: httpx.AsyncClient,
    action: str,
    categories: Sequence[str] = (),
    *,
    next_path: str = "/page",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Do what a visitor with JavaScript off does: load the preferences page and post its form."""
    form_page = await client.get("/_consent/preferences")
    data: dict[str, Any] = {
        "action": action,
        "categories": list(categories),
        "csrf_token": csrf_token(form_page.text),
        "next": next_path,
        "source": "banner",
    }
    return await client.post(
        "/_consent", data=data, headers={"origin": BASE_URL, **(headers or {})}
    )


class RecordingLog(ConsentLog):
    """A log kept in a list, that can be told to fail: for testing what the middleware does."""

    def __init__(self) -> None:
        self.records: list[ConsentRecord] = []
        self.failing = False

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        from consentgate import StorageError

        if self.failing:
            raise StorageError("the test log is failing on purpose")
        self.records.append(record)
        return record

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        return [r for r in self.records if r.consent_id == consent_id]

    async def iter_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[ConsentRecord]:
        for r in self.records:
            if (
                (consent_id is None or r.consent_id == consent_id)
                and (since is None or r.time >= since)
                and (until is None or r.time < until)
            ):
                yield r

    async def prune(self, before: datetime) -> int:
        kept = [r for r in self.records if r.time >= before]
        pruned, self.records = len(self.records) - len(kept), kept
        return pruned

    async def erase(self, consent_id: str) -> int:
        kept = [r for r in self.records if r.consent_id != consent_id]
        erased, self.records = len(self.records) - len(kept), kept
        return erased

    async def aclose(self) -> None:
        pass


class ListLog(RecordingLog):
    """The suite's list-backed log, chaining what it keeps, so the default verify() applies."""

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        prev_hash = self.records[-1].hash if self.records else GENESIS_HASH
        placed = dataclasses.replace(record, sequence=len(self.records) + 1, prev_hash=prev_hash)
        self.records.append(dataclasses.replace(placed, hash=record_hash(placed)))
        return self.records[-1]


# -- records -----------------------------------------------------------------------


class TextsLog(RecordingLog):
    """A log in lists that keeps texts as the SQL logs do."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, KeptTexts] = {}

    async def keep_texts(self, texts: Iterable[ShownTexts], now: datetime) -> None:
        for shown in texts:
            known = self.texts.get(shown.fingerprint)
            self.texts[shown.fingerprint] = KeptTexts(
                fingerprint=shown.fingerprint,
                kind=shown.kind,
                name=shown.name,
                language=shown.language,
                content=shown.content,
                first_seen=known.first_seen if known else now,
                last_seen=now,
            )

    async def kept_texts(self, kind: str | None = None) -> list[KeptTexts]:
        return [t for t in self.texts.values() if kind is None or t.kind == kind]


def make_record(**overrides: Any) -> ConsentRecord:
    fields: dict[str, Any] = {
        "consent_id": "visitor-1",
        "time": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        "action": "grant",
        "granted": ("analytics", "marketing"),
        "refused": ("personalisation",),
        "policy_version": "2024-05",
        "language": "de",
        "source": "banner",
        "text_fingerprint": "ab" * 32,
    }
    fields.update(overrides)
    return ConsentRecord(**fields)


@contextmanager
def peek(path: Path) -> Iterator[sqlite3.Connection]:
    """A second, independent connection, to see what really reached the file."""
    with closing(sqlite3.connect(path)) as conn:
        yield conn


def sequence_of(record: ConsentRecord) -> int:
    assert record.sequence is not None
    return record.sequence


def ids_in(path: Path) -> list[str]:
    with peek(path) as conn:
        return [row[0] for row in conn.execute("SELECT consent_id FROM consent_records")]


# -- the renderer --------------------------------------------------------------------


def build(config: ConsentConfig) -> Renderer:
    """A Renderer built the way the middleware builds it."""
    return Renderer(config, Assets(config.prefix))
