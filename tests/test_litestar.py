"""Litestar: the ConsentPlugin and the app wrapped in ConsentMiddleware, in process and under
uvicorn; and the ``DefineMiddleware`` set-up, which cannot work, told in one clear error."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, MediaType, Request, get
from litestar.middleware import DefineMiddleware

from consentgate import ConsentMiddleware, _placement, get_consent
from consentgate.litestar import ConsentPlugin
from tests.helpers import PAGE, choose, client_for, make_config
from tests.servers import Lifespan, choose_over_http, uvicorn

pytestmark = pytest.mark.anyio


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> str:
    granted = ",".join(sorted(get_consent(request).granted)) or "none"
    return PAGE.replace("Indhold", f"granted: {granted}")


@get("/other", media_type=MediaType.HTML)
async def other() -> str:
    return PAGE


def site(handlers: list[Any], **options: Any) -> Litestar:
    # Litestar's own logging set-up would take the log records from pytest's caplog.
    return Litestar(handlers, logging_config=None, **options)


async def test_the_wrapped_app_gets_a_banner_a_choice_and_the_state() -> None:
    app = ConsentMiddleware(site([home]), config=make_config())
    async with client_for(app) as client:
        assert "consentgate-banner" in (await client.get("/")).text
        assert (await choose(client, "save", ["statistics"], next_path="/")).status_code == 303
        page = (await client.get("/")).text
    assert "granted: statistics" in page and "consentgate-banner" not in page


async def test_the_plugin_gets_a_banner_a_choice_and_the_state(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    plugin = ConsentPlugin(make_config(store=f"sqlite:///{path}"))
    app = site([home], plugins=[plugin])
    server = Lifespan(app)
    assert await server.startup() == {"type": "lifespan.startup.complete"}
    assert path.exists()  # opened at start-up
    async with client_for(app) as client:
        assert "consentgate-banner" in (await client.get("/")).text
        assert (await choose(client, "save", ["statistics"], next_path="/")).status_code == 303
        page = (await client.get("/")).text
    assert "granted: statistics" in page and "consentgate-banner" not in page
    assert await server.shutdown() == {"type": "lifespan.shutdown.complete"}
    async with client_for(app) as client:  # the log is closed: no grant without a record
        assert (await choose(client, "accept_all", next_path="/")).status_code == 503


async def test_the_plugin_fails_startup_on_a_log_it_cannot_open(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (999)")
        conn.commit()
    plugin = ConsentPlugin(make_config(store=f"sqlite:///{path}"))
    answer = await Lifespan(site([home], plugins=[plugin])).startup()
    assert answer["type"] == "lifespan.startup.failed"
    assert "could not open the consent log" in answer["message"]


@pytest.fixture
def placement_unlogged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_placement, "_logged", False)


async def test_define_middleware_is_told_once_with_what_to_do(
    placement_unlogged: None, caplog: pytest.LogCaptureFixture
) -> None:
    # What a Litestar user would write first; mypy rightly objects to it too.
    misplaced = DefineMiddleware(ConsentMiddleware, config=make_config())  # type: ignore[arg-type]
    app = site([home, other], middleware=[misplaced])
    with caplog.at_level(logging.ERROR, logger="consentgate"):
        async with client_for(app) as client:
            for path in ("/", "/other", "/", "/_consent/preferences"):
                await client.get(path)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors
    assert "DefineMiddleware" in errors[0]
    assert "plugins=[consentgate.litestar.ConsentPlugin(config)]" in errors[0]
    assert "app = ConsentMiddleware(app, config=config)" in errors[0]


async def test_the_wrapped_app_logs_no_placement_error(
    placement_unlogged: None, caplog: pytest.LogCaptureFixture
) -> None:
    app = ConsentMiddleware(site([home]), config=make_config())
    with caplog.at_level(logging.ERROR, logger="consentgate"):
        async with client_for(app) as client:
            await client.get("/")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.slow
def test_the_example_under_uvicorn_makes_a_choice(tmp_path: Path) -> None:
    env = {"CONSENTGATE_STORE": f"sqlite:///{tmp_path / 'log.db'}"}
    with uvicorn("examples.litestar_app:app", tmp_path, env=env) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            answer = choose_over_http(client, "/", "accept_all")
            assert answer.status_code == 303 and answer.headers["location"] == "/"
            page = client.get("/").text
            assert client.get("/api/items").json() == [{"id": 1}, {"id": 2}]
    assert "<p>statistics</p>" in page and "gtag/js" in page
