"""Variants of the demo site for the browser tests, each served by its own uvicorn.

- ``google``: Google's tags only, so every provider can be stopped without a reload.
- ``strict``: all the demo's providers, and every page under a nonce-only
  Content-Security-Policy with a fresh nonce per response, as a strict site sends it.
- ``corpus``: the vendors' own tracker snippets in the app's page, blocked until allowed.
- ``html_lang``: ``language_from="html-lang"``, with a German and a Danish page, and
  providers inside and outside the EU/EEA for the disclosures.
- ``embed``: the demo with a page holding a click-to-load form for one provider, as a
  placeholder posts it (``action=allow``), far down the page under ``#video``.
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
from consentgate._csrf import CsrfTokens
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


async def embed_page(request: Request) -> HTMLResponse:
    """A page whose embed waits for its provider (Buffer's button stands in for a video)."""
    token = CsrfTokens(demo_config.signing_keys, demo_config.csrf_max_age).issue()
    filler = "".join(f"<p>Afsnit {i}</p>" for i in range(80))
    return HTMLResponse(
        "<!doctype html><html lang='da'><head><title>Video</title></head><body><main>"
        f"<h1>Video</h1>{filler}"
        '<section id="video"><form method="post" action="/_consent">'
        f'<input type="hidden" name="csrf_token" value="{token}">'
        '<input type="hidden" name="action" value="allow">'
        '<input type="hidden" name="providers" value="buffer">'
        '<input type="hidden" name="source" value="embed">'
        '<input type="hidden" name="next" value="/video#video">'
        "<button>Vis indhold fra Buffer</button></form></section>"
        "</main></body></html>"
    )


embed = Starlette(
    routes=[Route("/video", embed_page), *demo.routes],
    middleware=[Middleware(ConsentMiddleware, config=demo_config)],
)


def _page_in(lang: str, heading: str) -> Route:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{heading}</title></head><body><main><h1>{heading}</h1>"
            f'<p><a href="/{lang}">{heading}</a></p></main></body></html>'
        )

    return Route(f"/{lang}", page)


html_lang_config = ConsentConfig(
    secret_key=DEMO_SECRET,
    policy_version="2026-11",
    controller_name="Aarhus Analytics ApS",
    privacy_policy_url="/privacy",
    language_from="html-lang",
    providers=[GoogleAnalytics("G-DEMO000000"), Hotjar()],
    store=os.environ["CONSENTGATE_STORE"],
)
html_lang = Starlette(
    routes=[_page_in("de", "Willkommen"), _page_in("da", "Velkommen"), *demo.routes],
    middleware=[Middleware(ConsentMiddleware, config=html_lang_config)],
)
