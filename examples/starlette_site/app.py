"""A small but real Starlette site behind consentgate: the demo the README starts.

Run it with ``make demo`` and open http://127.0.0.1:8000. The consent log is a
SQLite file (``consentgate-demo.db``) in the current folder.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from consentgate import ConsentConfig, ConsentMiddleware, get_consent
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats, SiteKit, YouTube

HERE = Path(__file__).parent
# A fixed secret keeps the demo's cookies valid across restarts. Never use it on a real site.
DEMO_SECRET = "demo-only-secret-do-not-use-in-production-0123456789"

PAGES = {
    "/": (
        "Welcome",
        "<p>Aarhus Analytics ApS helps Danish companies make sense of their data.</p>",
    ),
    "/services": (
        "Services",
        "<p>Data strategy, dashboards and training, in Danish and English.</p>",
    ),
    "/contact": ("Contact", "<p>Write to <a href='mailto:hej@example.dk'>hej@example.dk</a>.</p>"),
    # The site's own embed, as pasted from YouTube: consentgate shows a click-to-load
    # placeholder in its place until the visitor allows YouTube.
    "/video": (
        "Video",
        "<p>Our introduction to dashboards.</p>"
        '<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" '
        'title="Dashboards in ten minutes" allowfullscreen></iframe>',
    ),
}


def layout(title: str, content: str, request: Request) -> str:
    consent = get_consent(request)
    granted = ", ".join(sorted(consent.granted)) or "nothing optional"
    nav = " · ".join(f'<a href="{path}">{escape(t)}</a>' for path, (t, _) in PAGES.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Aarhus Analytics</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header><strong>Aarhus Analytics</strong> <nav>{nav} · <a href="/stream">Stream</a> ·
<a href="/api/stats">JSON</a> · <a href="/privacy">Privacy</a></nav></header>
<main><h1>{escape(title)}</h1>{content}
<p class="consent-state">Your consent: {escape(granted)}.</p></main>
</body>
</html>"""


async def page(request: Request) -> HTMLResponse:
    title, content = PAGES[request.url.path]
    return HTMLResponse(layout(title, content, request))


async def privacy(request: Request) -> HTMLResponse:
    content = (
        "<p>We use Google Analytics, Site Kit, Jetpack Stats and Buffer only with your consent. "
        'See <a href="/_consent/preferences">cookie settings</a> for every cookie.</p>'
    )
    return HTMLResponse(layout("Privacy policy", content, request))


async def stream(request: Request) -> StreamingResponse:
    """A page sent in many chunks, to show injection without buffering."""

    async def chunks() -> AsyncIterator[str]:
        head, _, tail = layout("Streaming", "\x00", request).partition("\x00")
        yield head
        for i in range(20):
            await asyncio.sleep(0.01)
            yield f"<p>Chunk {i}</p>\n"
        yield tail

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"visitors": 42, "consent": get_consent(request).as_json()})


config = ConsentConfig(
    secret_key=os.environ.get("CONSENTGATE_SECRET_KEY", DEMO_SECRET),
    policy_version="2026-11",
    controller_name="Aarhus Analytics ApS",
    controller_address="Åboulevarden 1, 8000 Aarhus C, Danmark",
    controller_email="privacy@example.dk",
    privacy_policy_url="/privacy",
    default_language="da",
    providers=[
        GoogleAnalytics("G-DEMO000000"),
        SiteKit("G-DEMO111111"),
        JetpackStats(blog_id=123456),
        Buffer(),
        YouTube(),
    ],
    store=os.environ.get("CONSENTGATE_STORE", "sqlite:///consentgate-demo.db"),
    # Proof of a choice is kept a year: longer than the six months a choice lasts.
    retention_days=365,
    exclude_paths=["/api"],
)

app = Starlette(
    routes=[
        *(Route(path, page) for path in PAGES),
        Route("/privacy", privacy),
        Route("/stream", stream),
        Route("/api/stats", stats),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ],
    middleware=[Middleware(ConsentMiddleware, config=config)],
)
