"""A ConsentMiddleware set up inside the app's routing is told, once, at the first request."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from consentgate import ConsentMiddleware, _placement
from tests.helpers import client_for, make_app, make_config, page

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def unlogged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_placement, "_logged", False)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_route_middleware_is_told_once(caplog: pytest.LogCaptureFixture) -> None:
    inner = [Middleware(ConsentMiddleware, config=make_config())]
    app = Starlette(
        routes=[Route("/", page, middleware=inner), Route("/b", page, middleware=inner)]
    )
    with caplog.at_level(logging.ERROR, logger="consentgate"):
        async with client_for(app) as client:
            assert "consentgate-banner" in (await client.get("/")).text
            await client.get("/b")
            assert (await client.get("/_consent/preferences")).status_code == 404
    assert len(errors(caplog)) == 1
    assert "a route's or mount's middleware" in errors(caplog)[0]


async def test_a_mounted_app_is_told(caplog: pytest.LogCaptureFixture) -> None:
    sub = ConsentMiddleware(Starlette(routes=[Route("/", page)]), config=make_config())
    app = Starlette(routes=[Mount("/shop", app=sub)])
    with caplog.at_level(logging.ERROR, logger="consentgate"):
        async with client_for(app) as client:
            await client.get("/shop/")
    assert len(errors(caplog)) == 1


async def test_the_app_wrapped_whole_is_not(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="consentgate"):
        async with client_for(make_app()) as client:
            await client.get("/")
            await client.get("/_consent/preferences")
    assert errors(caplog) == []
