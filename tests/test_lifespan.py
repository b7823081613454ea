"""The ASGI lifespan: the consent log opened at start-up, closed at shutdown, around the app's."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from consentgate import ConsentMiddleware
from consentgate._outbox import Outbox
from consentgate.log import SQLiteConsentLog
from tests.helpers import (
    RecordingLog,
    choose,
    client_for,
    make_app,
    make_config,
    make_record,
    site_routes,
)
from tests.servers import Lifespan, start_uvicorn, uvicorn

pytestmark = pytest.mark.anyio


def sqlite_url(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "log.db"
    return f"sqlite:///{path}", path


def schema_version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        version: int = conn.execute("SELECT version FROM schema_version").fetchone()[0]
    return version


async def test_startup_creates_and_migrates_the_log_before_any_request(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    server = Lifespan(make_app(make_config(store=url)))
    assert await server.startup() == {"type": "lifespan.startup.complete"}
    assert schema_version(path) >= 1
    assert await server.shutdown() == {"type": "lifespan.shutdown.complete"}


async def test_shutdown_closes_the_log(tmp_path: Path) -> None:
    url, _ = sqlite_url(tmp_path)
    app = make_app(make_config(store=url))
    server = Lifespan(app)
    await server.startup()
    async with client_for(app) as client:
        assert (await choose(client, "accept_all")).status_code == 303
    await server.shutdown()
    log = SQLiteConsentLog(url.removeprefix("sqlite:///"))
    assert len(await log.history(await _only_id(log))) == 1
    await log.aclose()
    async with client_for(app) as client:
        refused = await choose(client, "accept_all")
    assert refused.status_code == 503  # the app's log is closed: no grant without a record


async def _only_id(log: SQLiteConsentLog) -> str:
    ids = {record.consent_id async for record in log.iter_records()}
    assert len(ids) == 1
    return ids.pop()


async def test_shutdown_finishes_pending_writes_first(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    log = SQLiteConsentLog(path)
    server = Lifespan(make_app(make_config(store=log)))
    await server.startup()
    writes = [asyncio.create_task(log.record(make_record(consent_id=f"v{i}"))) for i in range(50)]
    await asyncio.sleep(0)
    await server.shutdown()
    stored = await asyncio.gather(*writes)
    assert len({record.sequence for record in stored}) == 50
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM consent_records").fetchone() == (50,)


async def test_a_schema_newer_than_the_code_fails_startup(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (999)")
        conn.commit()
    answer = await Lifespan(make_app(make_config(store=url))).startup()
    assert answer["type"] == "lifespan.startup.failed"
    assert "could not open the consent log" in answer["message"]
    assert "schema version 999" in answer["message"]


async def test_an_unreachable_store_fails_startup_within_the_timeout() -> None:
    pytest.importorskip("psycopg")
    # Port 9 (discard) on 127.0.0.1: nothing listens, the connection is refused.
    config = make_config(store="postgresql://nobody@127.0.0.1:9/none", store_timeout=1.0)
    started = asyncio.get_running_loop().time()
    answer = await Lifespan(make_app(config)).startup()
    assert answer["type"] == "lifespan.startup.failed"
    assert "could not open the consent log" in answer["message"]
    assert "127.0.0.1" in answer["message"]
    assert asyncio.get_running_loop().time() - started < 5


async def test_the_apps_own_failed_startup_is_passed_on_and_opens_nothing(
    tmp_path: Path,
) -> None:
    url, path = sqlite_url(tmp_path)

    @contextlib.asynccontextmanager
    async def broken(app: Any) -> AsyncIterator[None]:
        raise RuntimeError("the app's own database is down")
        yield

    app = Starlette(lifespan=broken)
    app.add_middleware(ConsentMiddleware, config=make_config(store=url))
    answer = await Lifespan(app).startup()
    assert answer["type"] == "lifespan.startup.failed"
    assert "the app's own database is down" in answer["message"]
    assert not path.exists()


class PruneLog(RecordingLog):
    def __init__(self) -> None:
        super().__init__()
        self.pruned = asyncio.Event()
        self.closed = False

    async def prune(self, before: Any) -> int:
        self.pruned.set()
        return await super().prune(before)

    async def aclose(self) -> None:
        self.closed = True


async def test_retention_starts_at_startup_and_stops_at_shutdown() -> None:
    log = PruneLog()
    middleware = ConsentMiddleware(Starlette(), config=make_config(store=log, retention_days=365))
    retention = middleware.endpoints.retention
    assert retention is not None
    server = Lifespan(middleware)
    await server.startup()
    await asyncio.wait_for(log.pruned.wait(), 5)  # no request needed
    schedule = retention._schedule
    assert schedule is not None and not schedule.done()
    await server.shutdown()
    assert schedule.cancelled() and log.closed


async def test_without_lifespan_the_log_still_opens_on_first_use(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    async with client_for(make_app(make_config(store=url))) as client:
        assert (await choose(client, "reject_all")).status_code == 303
    assert schema_version(path) >= 1


@pytest.mark.slow
def test_uvicorn_refuses_to_start_on_a_log_it_cannot_open(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (999)")
        conn.commit()
    log_path = tmp_path / "server.log"
    process, _ = start_uvicorn(
        "tests.process_app:app", log_path, env={"CONSENTGATE_TEST_STORE": url}
    )
    assert process.wait(timeout=30) != 0
    output = log_path.read_text()
    assert "consentgate could not open the consent log" in output
    assert "schema version 999" in output
    assert "Application startup failed" in output


@pytest.mark.slow
def test_uvicorn_serves_after_opening_the_log_at_startup(tmp_path: Path) -> None:
    url, path = sqlite_url(tmp_path)
    with uvicorn("tests.process_app:app", tmp_path, env={"CONSENTGATE_TEST_STORE": url}):
        assert schema_version(path) >= 1  # before any request that writes to the log


async def refuses(scope: Any, receive: Any, send: Any) -> None:
    # What Django's ASGIHandler does with a lifespan scope.
    raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")


async def ignores(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return


@pytest.mark.parametrize("http_only", [refuses, ignores])
async def test_an_app_that_refuses_the_lifespan_gets_consentgate_alone(
    tmp_path: Path, http_only: Any
) -> None:
    url, path = sqlite_url(tmp_path)

    server = Lifespan(ConsentMiddleware(http_only, config=make_config(store=url)))
    assert await server.startup() == {"type": "lifespan.startup.complete"}
    assert schema_version(path) >= 1
    assert await server.shutdown() == {"type": "lifespan.shutdown.complete"}


async def test_an_app_failing_during_its_lifespan_is_not_hidden() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("failed after starting")

    server = Lifespan(ConsentMiddleware(broken, config=make_config()))
    await server.to_app.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    with pytest.raises(RuntimeError, match="failed after starting"):
        await server.app(scope, server.to_app.get, server.send)


async def test_startup_replays_what_an_earlier_process_left_in_the_outbox(
    tmp_path: Path,
) -> None:
    url, path = sqlite_url(tmp_path)
    outbox = tmp_path / "outbox"
    await Outbox(RecordingLog(), outbox).add(make_record(consent_id="refused-while-down"))
    server = Lifespan(make_app(make_config(store=url, outbox=outbox)))
    await server.startup()
    reader = SQLiteConsentLog(path)
    try:
        for _ in range(100):  # replayed in the background, no request needed
            if await reader.history("refused-while-down"):
                break
            await asyncio.sleep(0.05)
        assert len(await reader.history("refused-while-down")) == 1
    finally:
        await reader.aclose()
        await server.shutdown()


async def test_shutdown_stops_the_outboxs_retries() -> None:
    log = RecordingLog()
    middleware = ConsentMiddleware(Starlette(routes=site_routes()), config=make_config(store=log))
    server = Lifespan(middleware)
    await server.startup()
    log.failing = True
    async with client_for(middleware) as client:
        assert (await choose(client, "reject_all")).status_code == 303  # kept in the outbox
    retry = middleware.endpoints.outbox.task
    assert retry is not None and not retry.done()
    await server.shutdown()
    assert retry.done() and middleware.endpoints.outbox.task is None
