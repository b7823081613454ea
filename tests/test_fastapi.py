"""consentgate.fastapi: the ``Consent`` dependency, in a FastAPI app behind the middleware."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from starlette.types import Message

from consentgate import ConsentMiddleware
from consentgate.fastapi import Consent
from tests.helpers import choose, client_for, make_config
from tests.servers import choose_over_http, uvicorn

pytestmark = pytest.mark.anyio


def consent_api() -> FastAPI:
    api = FastAPI()

    @api.get("/consent")
    async def consent(consent: Consent) -> dict[str, object]:
        return {"has_choice": consent.has_choice, "statistics": consent.allows("statistics")}

    api.add_middleware(ConsentMiddleware, config=make_config())
    return api


async def test_the_dependency_gives_the_visitors_choice() -> None:
    async with client_for(consent_api()) as client:
        before = (await client.get("/consent")).json()
        await choose(client, "save", ["statistics"])
        after = (await client.get("/consent")).json()
    assert before == {"has_choice": False, "statistics": False}
    assert after == {"has_choice": True, "statistics": True}


async def test_the_dependency_is_no_choice_without_the_middleware() -> None:
    api = FastAPI()

    @api.get("/consent")
    async def consent(consent: Consent) -> bool:
        return consent.has_choice

    async with client_for(api) as client:
        response = await client.get("/consent")
    assert response.status_code == 200 and response.json() is False


async def test_the_dependency_resolves_in_a_websocket_route() -> None:
    api = FastAPI()

    @api.websocket("/ws")
    async def ws(websocket: WebSocket, consent: Consent) -> None:
        await websocket.accept()
        await websocket.send_json(consent.has_choice)
        await websocket.close()

    api.add_middleware(ConsentMiddleware, config=make_config())
    incoming = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    await api(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "false"


async def test_the_example_app_shows_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTGATE_STORE", "sqlite:///:memory:")
    monkeypatch.delitem(sys.modules, "examples.fastapi_app", raising=False)
    example = importlib.import_module("examples.fastapi_app")
    async with client_for(example.app) as client:
        assert "nothing optional" in (await client.get("/")).text
        await choose(client, "accept_all")
        assert "<p>statistics</p>" in (await client.get("/")).text


@pytest.mark.slow
def test_the_example_under_uvicorn_makes_a_choice(tmp_path: Path) -> None:
    env = {"CONSENTGATE_STORE": f"sqlite:///{tmp_path / 'log.db'}"}
    with uvicorn("examples.fastapi_app:app", tmp_path, env=env) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            answer = choose_over_http(client, "/", "accept_all")
            assert answer.status_code == 303 and answer.headers["location"] == "/"
            page = client.get("/").text
            assert client.get("/api/items").json() == [{"id": 1}, {"id": 2}]
    assert "<p>statistics</p>" in page and "gtag/js" in page
