"""Apps and clients shared by the tests: a small site behind ConsentMiddleware."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware, get_consent
from consentgate.log import ConsentLog, ConsentRecord
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats, SiteKit
from tests.pg_server import PostgresServer, find_binaries
from tests.stores import PostgresStore, SQLiteStore, Store

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


#: The browser tests drive Chromium through Playwright, a `dev` extra; without it they are
#: left out (said in the header) rather than failing to import.
collect_ignore = ["browser"] if importlib.util.find_spec("playwright") is None else []


def pytest_report_header() -> list[str]:
    if collect_ignore:
        return ["tests/browser left out: Playwright is not installed (pip install -e '.[dev]')"]
    return []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the PostgreSQL server ``postgres``, however it asks for it."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if fixtures & {"postgres_server", "postgres_database"} or "postgresql" in params:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app_factory() -> Callable[..., Any]:
    return make_app


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session, started on first use.

    Skipped where no server binary can be had; on CI (``CI`` set) that is a failure
    instead, because .ci/run installs the server.
    """
    bin_dir = find_binaries()
    if bin_dir is None:
        reason = (
            "no PostgreSQL server: initdb and pg_ctl are neither on PATH nor under "
            "/usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """The URL of a database the tests may fill, on the session's server."""
    import psycopg

    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE consentgate_test")
    return postgres_server.url.rsplit("/", 1)[0] + "/consentgate_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty consent log of each backend in turn: the one suite both must pass."""
    if request.param == "sqlite":
        return SQLiteStore(tmp_path)
    return PostgresStore(request.getfixturevalue("postgres_database"))
