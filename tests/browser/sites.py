"""Variants of the demo site for the browser tests, each served by its own uvicorn.

- ``google``: Google's tags only, so every provider can be stopped without a reload.
- ``strict``: all the demo's providers, and every page under a nonce-only
  Content-Security-Policy with a fresh nonce per response, as a strict site sends it.
- ``corpus``: the vendors' own tracker snippets in the app's page, blocked until allowed.
"""

from __future__ import annotations

import base64
import os
import secrets

from examples.starlette_site.app import DEMO_SECRET, app as demo, config as demo_config
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.providers import (
    GoogleAnalytics,
    GoogleMaps,
    GoogleTagManager,
    Hotjar,
    JetpackStats,
    LinkedInInsight,
    Matomo,
    MetaPixel,
    MicrosoftClarity,
    SiteKit,
    Vimeo,
    YouTube,
)
from tests.tracker_corpus import CORPUS, page_with

google_config = ConsentConfig(
    secret_key=DEMO_SECRET,
    policy_version="2026-11",
    controller_name="Aarhus Analytics ApS",
    privacy_policy_url="/privacy",
    default_language="da",
    providers=[GoogleAnalytics("G-DEMO000000"), SiteKit("G-DEMO111111")],
    store=os.environ["CONSENTGATE_STORE"],
)
google = Starlette(
    routes=demo.routes, middleware=[Middleware(ConsentMiddleware, config=google_config)]
)


class StrictPolicy:
    """Adds a nonce-only CSP to every response, as the app (inside consentgate) would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        nonce = base64.b64encode(secrets.token_bytes(16)).decode()
        policy = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self'; connect-src 'self'; base-uri 'none'; object-src 'none'"
        )

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", ()),
                    (b"content-security-policy", policy.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


strict = Starlette(
    routes=demo.routes,
    middleware=[
        Middleware(ConsentMiddleware, config=demo_config),
        Middleware(StrictPolicy),
    ],
)


async def _corpus_page(request: Request) -> HTMLResponse:
    return HTMLResponse(page_with(*CORPUS, title="Tracker corpus"))


#: ``corpus``: every vendor snippet of tests/tracker_corpus.py written into the app's own page
#: (``/corpus``), with the providers declared as a site using them would.
corpus_config = ConsentConfig(
    secret_key=DEMO_SECRET,
    policy_version="2026-11",
    controller_name="Aarhus Analytics ApS",
    privacy_policy_url="/privacy",
    default_language="da",
    providers=[
        GoogleAnalytics("G-A1B2C3D4E5", inject=False),
        GoogleTagManager(),
        MetaPixel(),
        LinkedInInsight(),
        Hotjar(),
        MicrosoftClarity(),
        Matomo("https://matomo.example.org/"),
        YouTube(),
        Vimeo(),
        GoogleMaps(),
        JetpackStats(blog_id=123456),
    ],
    store=os.environ["CONSENTGATE_STORE"],
)
corpus = Starlette(
    routes=[*demo.routes, Route("/corpus", _corpus_page)],
    middleware=[Middleware(ConsentMiddleware, config=corpus_config)],
)
