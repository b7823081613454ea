"""Quart: an ASGI framework too, so the wrapped app works as Starlette's does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from quart import Quart, request

from consentgate import ConsentMiddleware, get_consent
from tests.helpers import PAGE, choose, client_for, make_config
from tests.servers import Lifespan, choose_over_http, uvicorn

pytestmark = pytest.mark.anyio


def quart_site() -> Quart:
    site = Quart(__name__)

    @site.get("/")
    async def home() -> str:
        granted = ",".join(sorted(get_consent(request).granted)) or "none"
        return PAGE.replace("Indhold", f"granted: {granted}")

    @site.get("/api/items")
    async def items() -> list[int]:
        return [1, 2]

    return site


async def test_the_wrapped_app_gets_a_banner_a_choice_and_the_state() -> None:
    app = ConsentMiddleware(quart_site(), config=make_config())
    async with client_for(app) as client:
        assert "consentgate-banner" in (await client.get("/")).text
        assert (await client.get("/api/items")).json() == [1, 2]
        assert (await choose(client, "save", ["statistics"], next_path="/")).status_code == 303
        page = (await client.get("/")).text
    assert "granted: statistics" in page and "consentgate-banner" not in page


async def test_the_lifespan_runs_quarts_and_consentgates(tmp_path: Path) -> None:
    site = quart_site()
    started: list[str] = []

    @site.before_serving
    async def opened() -> None:
        started.append("quart")

    path = tmp_path / "log.db"
    server = Lifespan(ConsentMiddleware(site, config=make_config(store=f"sqlite:///{path}")))
    assert await server.startup() == {"type": "lifespan.startup.complete"}
    assert started == ["quart"] and path.exists()
    assert await server.shutdown() == {"type": "lifespan.shutdown.complete"}


async def test_quarts_own_way_of_adding_asgi_middleware() -> None:
    site = quart_site()
    # Quart types its ASGI callables with TypedDicts of its own, which Starlette's do not match.
    site.asgi_app = ConsentMiddleware(site.asgi_app, config=make_config())  # type: ignore[assignment]
    async with client_for(site) as client:
        assert (await choose(client, "accept_all", next_path="/")).status_code == 303
        assert "gtag/js" in (await client.get("/")).text


@pytest.mark.slow
def test_the_example_under_uvicorn_makes_a_choice(tmp_path: Path) -> None:
    env = {"CONSENTGATE_STORE": f"sqlite:///{tmp_path / 'log.db'}"}
    with uvicorn("examples.quart_app:app", tmp_path, env=env) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            answer = choose_over_http(client, "/", "accept_all")
            assert answer.status_code == 303 and answer.headers["location"] == "/"
            page = client.get("/").text
            assert client.get("/api/items").json() == [{"id": 1}, {"id": 2}]
    assert "<p>statistics</p>" in page and "gtag/js" in page
