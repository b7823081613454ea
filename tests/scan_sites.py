"""Small sites for the scanner's tests, in process and (by import path) under uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.scan import Scanner, ScanReport
from tests.helpers import BASE_URL, make_config

META_PIXEL = (
    '<script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    "<script>fbq('init', '1'); fbq('track', 'PageView');</script>"
)


def html_page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><title>Side</title>{head}</head><body>{body}</body></html>"


def site(
    pages: dict[str, str],
    config: ConsentConfig | None = None,
    *,
    cookies: dict[str, dict[str, str]] | None = None,
    extra: Sequence[Route] = (),
    middleware: bool = True,
) -> Any:
    """An app serving ``pages`` (path -> HTML), setting ``cookies`` (path -> name -> value)."""

    def handler(path: str) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            response = HTMLResponse(pages[path])
            for name, value in (cookies or {}).get(path, {}).items():
                response.set_cookie(name, value, max_age=3600)
            return response

        return serve

    app = Starlette(routes=[*(Route(p, handler(p)) for p in pages), *extra])
    if middleware:
        app.add_middleware(ConsentMiddleware, config=config or make_config())
    return app


def text_route(path: str, text: str, media_type: str = "text/plain") -> Route:
    async def serve(request: Request) -> Response:
        return PlainTextResponse(text, media_type=media_type)

    return Route(path, serve)


def redirect_route(path: str, to: str) -> Route:
    async def serve(request: Request) -> Response:
        return RedirectResponse(to, status_code=302)

    return Route(path, serve)


class Recording(httpx.AsyncBaseTransport):
    """The app's transport, keeping every request's URL."""

    def __init__(self, app: Any, requests: list[str]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests = requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        return await self.inner.handle_async_request(request)


async def scan(app: Any, requests: list[str] | None = None, **options: Any) -> ScanReport:
    seen = requests if requests is not None else []

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=Recording(app, seen), base_url=BASE_URL)

    return await Scanner(client, BASE_URL + "/", **options).scan()


def subjects(report: ScanReport, kind: str) -> set[tuple[str, str | None]]:
    return {(f.subject, f.visitor) for f in report.findings if f.kind == kind}


def tidy_config(tmp: Path) -> ConsentConfig:
    return make_config(store=f"sqlite:///{tmp / 'consent.db'}")


#: For the command's tests under uvicorn: a site with an undeclared first-party cookie
#: that needs no consent as far as anyone knows (no violation, one undeclared finding).
undeclared_app = site(
    {"/": html_page("<p>Hei</p>")},
    make_config(store="sqlite:///:memory:"),
    cookies={"/": {"cart": "1"}},
)


LOADER_JS = """\
var pixel = document.createElement("script");
pixel.src = "https://connect.facebook.net/en_US/fbevents.js";
document.head.appendChild(pixel);
document.cookie = "_hjSessionUser_42=1; max-age=3600; path=/";
"""

#: For ``--browser``: a first-party script that loads a tracker and sets a tracker's cookie,
#: neither of which the HTML names. Only a browser running the page sees them.
script_loader_app = site(
    {"/": html_page("<p>Hei</p>", '<script src="/loader.js"></script>')},
    make_config(store="sqlite:///:memory:"),
    extra=[text_route("/loader.js", LOADER_JS, "text/javascript")],
)
