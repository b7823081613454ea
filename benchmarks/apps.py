"""The app the benchmarks serve, in five variants, as uvicorn factories.

``uvicorn --factory benchmarks.apps:bare`` (or ``consentgate``, ``floor``,
``passthrough``, ``naive``). Every variant serves the same routes:

- ``/json``: a small JSON document;
- ``/css``: a ~5 KB stylesheet (text/css);
- ``/page``: a 30 KB HTML page;
- ``/page-csp``: the same page with a fresh CSP nonce per request, in its
  ``Content-Security-Policy`` header and on its own inline script;
- ``/page-tags``: a 30 KB page full of ordinary tags (the site's own scripts,
  images, a preload), none of them a tracker's;
- ``/big``: a 1 MB HTML page in one body;
- ``/stream``: the same 1 MB page in 100 chunks through StreamingResponse;
- ``/rendered``: a shop's product list rendered by Jinja2 on every request;
- ``/api/stats``: a FastAPI route returning a pydantic model.

``/json`` to ``/stream`` serve bodies built at start-up, so the middleware's
cost is as visible as it can be; ``/rendered`` and ``/api/stats`` do the work a
real app does, which the middleware's cost is weighed against.

``naive`` is only the comparison baseline: what one gets with a
BaseHTTPMiddleware that buffers every HTML body and pastes a banner before
``</body>``. ``floor`` is the other bound: the least any pure-ASGI injector
must do (hold the response start, copy a one-message body once with a fixed
banner pasted in, correct Content-Length; copy each streamed chunk once to hold
back the stream's last 1 KiB, and paste the banner into that), with no consent
logic at all. ``passthrough`` wraps ``send`` and does nothing else: the cost of
merely being a middleware that sees responses. These three live here and nowhere
else.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import jinja2
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats, SiteKit

__all__ = [
    "BIG_PAGE",
    "CSS",
    "JSON_DOCUMENT",
    "PAGE",
    "STATS",
    "SECRET_KEY",
    "STORE_ENV",
    "WITHOUT_BLOCKER_ENV",
    "STREAM_CHUNKS",
    "TAGS_PAGE",
    "bare",
    "consentgate",
    "csp_header",
    "csp_page",
    "floor",
    "naive",
    "passthrough",
    "render_shop",
]

#: Environment variable with the consent log URL of the consentgate variant.
STORE_ENV = "CONSENTGATE_BENCH_STORE"
#: Environment variable: when "1", the consentgate variant runs without the blocker of
#: the app's own tracker markup (``--without-blocker``: what the rest of the path costs).
WITHOUT_BLOCKER_ENV = "CONSENTGATE_BENCH_WITHOUT_BLOCKER"
#: Shared by every consentgate server, so one consent cookie is valid in all of them.
SECRET_KEY = "benchmark-only-secret-key-never-use-it-anywhere-0123456789"

KIB = 1024
PAGE_SIZE = 30 * KIB
BIG_SIZE = 1024 * KIB
CHUNK_COUNT = 100


_PARAGRAPH = (
    "<p>Aarhus Analytics ApS hj\u00e6lper danske virksomheder med at forst\u00e5 "
    "deres data: dashboards, datastrategi og kurser, p\u00e5 dansk og engelsk.</p>\n"
)


def html_page(size: int, title: str, head_extra: str = "", paragraph: str = _PARAGRAPH) -> bytes:
    """A plausible HTML page of exactly ``size`` bytes: head, paragraphs, ``</body>``."""
    head = (
        '<!doctype html>\n<html lang="da">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<link rel="stylesheet" href="/css">\n{head_extra}</head>\n<body>\n'
        f'<header><nav><a href="/">Forside</a> <a href="/page">Side</a></nav></header>\n'
        f"<main>\n<h1>{title}</h1>\n"
    ).encode()
    tail = b"</main>\n<footer><p>Aarhus Analytics ApS</p></footer>\n</body>\n</html>\n"
    unit = paragraph.encode()
    room = size - len(head) - len(tail)
    body = (unit * (room // len(unit) + 1))[:room]
    # Cut at a tag boundary and pad with spaces, so the markup stays well formed.
    body = body[: body.rfind(b"\n") + 1]
    body += b" " * (room - len(body))
    page = head + body + tail
    assert len(page) == size
    return page


def stylesheet(size: int) -> bytes:
    rule = b".card-%d { margin: 0 0 1rem; padding: 0.5rem 1rem; border: 1px solid #ccc; }\n"
    out = b"/* benchmark stylesheet */\n"
    i = 0
    while len(out) + len(rule % i) <= size:
        out += rule % i
        i += 1
    return out + b" " * (size - len(out))


PAGE = html_page(PAGE_SIZE, "Side")
#: The 30 KB page with the site's own scripts, images and a preload, none of them a
#: tracker: what a blocker of tracker markup must look at and leave alone.
TAGS_PAGE = html_page(
    PAGE_SIZE,
    "Side",
    '<script src="/static/site.js" defer></script>\n'
    '<script>window.site = {"lang": "da", "shop": false};</script>\n'
    '<link rel="preload" href="/static/fonts/inter.woff2" as="font" crossorigin>\n',
    '<figure><img src="/img/kontor.jpg" alt="Kontoret i Aarhus" width="640" height="360" '
    'loading="lazy"><figcaption>Kontoret</figcaption></figure>\n'
    + _PARAGRAPH
    + '<p><a href="/kontakt"><img src="/img/ikon-mail.svg" alt="" width="16" height="16">'
    "Skriv til os</a></p>\n" + '<script src="/static/slider.js" defer></script>\n',
)
BIG_PAGE = html_page(BIG_SIZE, "Stor side")
CSS = stylesheet(5 * KIB)
_CHUNK = -(-len(BIG_PAGE) // CHUNK_COUNT)
#: The 1 MB page cut into 100 pieces at arbitrary byte offsets, as a server might send it.
STREAM_CHUNKS = tuple(BIG_PAGE[i : i + _CHUNK] for i in range(0, len(BIG_PAGE), _CHUNK))
assert len(STREAM_CHUNKS) == CHUNK_COUNT and b"".join(STREAM_CHUNKS) == BIG_PAGE

#: Where a CSP page's nonce goes; ``secrets.token_urlsafe(16)`` is 22 characters long.
_NONCE_MARK = "N" * 22
_CSP_PAGE = html_page(
    PAGE_SIZE,
    "Side",
    f'<script nonce="{_NONCE_MARK}">document.documentElement.className = "js";</script>\n',
)
_CSP_PAGE_BEFORE, _CSP_PAGE_AFTER = _CSP_PAGE.split(_NONCE_MARK.encode())


def csp_page(nonce: bytes) -> bytes:
    """The 30 KB page with ``nonce`` on its inline script, as an app renders it per request."""
    return b"".join((_CSP_PAGE_BEFORE, nonce, _CSP_PAGE_AFTER))


def csp_header(nonce: str) -> str:
    """A strict nonce-based policy (script and style), as a CSP-minded site sends it."""
    return (
        f"script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self' 'nonce-{nonce}'; "
        "object-src 'none'; base-uri 'none'"
    )


# A shop's product list: a base template, a macro per product card, filters, loops
# and autoescaping, rendered with a context built per request, as a real page is.
_SHOP_TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %} · {{ shop.name }}</title>
<link rel="stylesheet" href="/css">
</head>
<body>
<header><nav>{% for link in shop.menu %}<a href="{{ link.href }}"
{%- if link.href == current %} aria-current="page"{% endif %}>{{ link.label }}</a>
{% endfor %}</nav></header>
<main>{% block main %}{% endblock %}</main>
<footer><p>{{ shop.name }} · CVR {{ shop.cvr }} · {{ shop.address }}</p></footer>
</body>
</html>
""",
    "products.html": """{% extends "base.html" %}
{% from "card.html" import card %}
{% block title %}{{ category.title }}{% endblock %}
{% block main %}
<h1>{{ category.title }}</h1>
<p class="lead">{{ category.intro }}</p>
<ul class="filters">{% for tag in category.tags|sort %}
<li><a href="?tag={{ tag|urlencode }}">{{ tag|capitalize }}</a></li>{% endfor %}</ul>
<div class="grid">
{% for product in products %}{{ card(product, loop.index) }}{% endfor %}
</div>
<p>{{ products|length }} varer,
heraf {{ products|selectattr("in_stock")|list|length }} på lager.</p>
{% endblock %}
""",
    "card.html": """{% macro card(product, position) -%}
<article class="card{% if not product.in_stock %} card--sold-out{% endif %}"
 id="p{{ product.id }}" data-position="{{ position }}">
<h2><a href="/produkter/{{ product.slug }}">{{ product.name }}</a></h2>
<p>{{ product.description|truncate(90) }}</p>
<p class="price">{{ "%.2f"|format(product.price)|replace(".", ",") }} kr.
{%- if product.discount %}
 <s>{{ "%.2f"|format(product.price * 1.25)|replace(".", ",") }} kr.</s>{% endif %}</p>
<ul class="tags">{% for tag in product.tags %}<li>{{ tag }}</li>{% endfor %}</ul>
{% if product.in_stock %}<button name="add" value="{{ product.id }}">Læg i kurv</button>
{%- else %}<span>Udsolgt</span>{% endif %}
</article>
{%- endmacro %}
""",
}
_SHOP = jinja2.Environment(
    loader=jinja2.DictLoader(_SHOP_TEMPLATES), autoescape=True, auto_reload=False
).get_template("products.html")
#: How many products the rendered page lists: a render of ~0.8 ms on the project machine.
SHOP_PRODUCTS = 40
_SHOP_INFO = {
    "name": "Aarhus Kaffe & Te",
    "cvr": "12345678",
    "address": "Søndergade 1, 8000 Aarhus C",
    "menu": [
        {"href": "/", "label": "Forside"},
        {"href": "/rendered", "label": "Kaffe"},
        {"href": "/om", "label": "Om os"},
        {"href": "/kontakt", "label": "Kontakt"},
    ],
}


def render_shop() -> str:
    """The product list page: the context is built and the template rendered, every call."""
    products = [
        {
            "id": i,
            "slug": f"kaffe-{i}",
            "name": f"Kaffe nr. {i} <{'økologisk' if i % 3 else 'fairtrade'}>",
            "description": "Hele bønner, ristet i Aarhus: noter af mørk chokolade, "
            f"nødder og {'bær' if i % 2 else 'karamel'}, til filter og espresso.",
            "price": 49.95 + i % 40,
            "discount": i % 5 == 0,
            "in_stock": i % 7 != 0,
            "tags": ["kaffe", "hele bønner", "økologisk" if i % 3 else "fairtrade"],
        }
        for i in range(1, SHOP_PRODUCTS + 1)
    ]
    category = {
        "title": "Kaffe",
        "intro": "Friskristet kaffe fra vores eget risteri & små producenter.",
        "tags": ["økologisk", "fairtrade", "espresso", "filter"],
    }
    return _SHOP.render(shop=_SHOP_INFO, category=category, products=products, current="/rendered")


class TopPage(BaseModel):
    path: str
    visitors: int
    bounce_rate: float


class Stats(BaseModel):
    """What a small analytics API returns: a pydantic model FastAPI validates and encodes."""

    site: str
    period: str
    visitors: int
    page_views: int
    top_pages: list[TopPage]


#: The figures ``/api/stats`` serves (the model is built, validated and encoded per request).
STATS = {
    "site": "aarhus-analytics.dk",
    "period": "2026-W48",
    "visitors": 4211,
    "page_views": 12873,
    "top_pages": [
        {"path": f"/side/{i}", "visitors": 900 - 70 * i, "bounce_rate": 0.31 + i / 100}
        for i in range(10)
    ],
}


#: What the naive middleware pastes in: about the size of consentgate's own banner.
NAIVE_BANNER = (
    b'<div id="naive-banner" class="banner"><form method="post" action="/_consent">'
    b"<h2>Dit valg om cookies</h2><p>"
    + b"Vi bruger cookies, som er n\xc3\xb8dvendige for, at hjemmesiden fungerer. "
    * 20
    + b'</p><button name="action" value="accept_all">Accepter alle</button>'
    b'<button name="action" value="reject_all">Afvis alle</button></form></div>'
)

_HTML = "text/html; charset=utf-8"


#: What ``/json`` serves (encoded per request).
JSON_DOCUMENT = {"ok": True, "visitors": 42, "items": [1, 2, 3]}


async def json_endpoint(request: Request) -> Response:
    return JSONResponse(JSON_DOCUMENT)


async def css_endpoint(request: Request) -> Response:
    return Response(CSS, media_type="text/css; charset=utf-8")


async def page_endpoint(request: Request) -> Response:
    return Response(PAGE, media_type=_HTML)


async def tags_page_endpoint(request: Request) -> Response:
    return Response(TAGS_PAGE, media_type=_HTML)


async def csp_page_endpoint(request: Request) -> Response:
    nonce = secrets.token_urlsafe(16)
    return Response(
        csp_page(nonce.encode()),
        media_type=_HTML,
        headers={"content-security-policy": csp_header(nonce)},
    )


async def big_endpoint(request: Request) -> Response:
    return Response(BIG_PAGE, media_type=_HTML)


async def stream_endpoint(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in STREAM_CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type=_HTML)


async def rendered_endpoint(request: Request) -> Response:
    return HTMLResponse(render_shop())


async def stats_endpoint() -> Stats:
    return Stats.model_validate(STATS)


def api() -> FastAPI:
    """The API as its own FastAPI app (FastAPI's routes need its app around them)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.get("/stats")(stats_endpoint)
    return app


def routes() -> list[Route | Mount]:
    return [
        Route("/json", json_endpoint),
        Route("/css", css_endpoint),
        Route("/page", page_endpoint),
        Route("/page-csp", csp_page_endpoint),
        Route("/page-tags", tags_page_endpoint),
        Route("/big", big_endpoint),
        Route("/stream", stream_endpoint),
        Route("/rendered", rendered_endpoint),
        # A FastAPI app mounted in the site, the middleware around both: the variants
        # differ only by their middleware, and the mount costs each the same ~1-2 µs.
        Mount("/api", api()),
    ]


class NaiveBannerMiddleware(BaseHTTPMiddleware):
    """The baseline: buffer the whole HTML body, then ``replace(b"</body>", ...)``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if not response.headers.get("content-type", "").startswith("text/html"):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        body = body.replace(b"</body>", NAIVE_BANNER + b"</body>")
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        return Response(body, status_code=response.status_code, headers=headers)


class PassthroughMiddleware:
    """Wraps ``send`` and does nothing else: what any middleware that watches responses costs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, watch)


#: What the floor holds back of a stream: where ``</body>`` may be.
FLOOR_WINDOW = 1024


def paste_banner(body: bytes) -> bytes:
    """``body`` with NAIVE_BANNER before its last ``</body>`` (at the end without one), one copy."""
    at = body.rfind(b"</body>")
    at = len(body) if at < 0 else at
    view = memoryview(body)
    return b"".join((view[:at], NAIVE_BANNER, view[at:]))


class FloorBannerMiddleware:
    """The floor: what pasting a banner into an HTML body costs, and nothing else.

    A body in one message is copied once with the banner in it. A streamed body is
    sent on as it comes, but for its last 1 KiB, where ``</body>`` may be: each
    chunk is copied once, to hold its end back, and the banner goes into the end.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # an HTML response's start, until its first body
        tail: bytes | None = None  # the held end of a streamed HTML body

        async def paste(message: Message) -> None:
            nonlocal held, tail
            if message["type"] == "http.response.start":
                if any(
                    k == b"content-type" and v.startswith(b"text/html")
                    for k, v in message["headers"]
                ):
                    held = message
                    return
                await send(message)
                return
            if held is None and tail is None:  # not an HTML body
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more_body: bool = message.get("more_body", False)
            if held is not None:
                start, held = held, None
                headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                headers.append((b"vary", b"Cookie"))
                if not more_body:
                    body = paste_banner(body)
                    headers.append((b"content-length", b"%d" % len(body)))
                    await send({**start, "headers": headers})
                    await send({**message, "body": body})
                    return
                await send({**start, "headers": headers})
                tail = b""
            assert tail is not None
            if not more_body:
                body, tail = paste_banner(tail + body), None
                await send({"type": "http.response.body", "body": body})
                return
            cut = len(body) - FLOOR_WINDOW
            if cut >= 0:
                out, tail = b"".join((tail, memoryview(body)[:cut])), body[cut:]
            else:
                joined = tail + body
                out, tail = joined[:-FLOOR_WINDOW], joined[-FLOOR_WINDOW:]
            await send({"type": "http.response.body", "body": out, "more_body": True})

        await self.app(scope, receive, paste)


def consent_config() -> ConsentConfig:
    return ConsentConfig(
        secret_key=SECRET_KEY,
        policy_version="bench-1",
        controller_name="Aarhus Analytics ApS",
        privacy_policy_url="/privacy",
        default_language="da",
        providers=[
            GoogleAnalytics("G-BENCH00000"),
            SiteKit("G-BENCH11111"),
            JetpackStats(blog_id=123456),
            Buffer(),
        ],
        store=os.environ.get(STORE_ENV, "sqlite:///:memory:"),
    )


def bare() -> Starlette:
    return Starlette(routes=routes())


class _NoBlocking:
    def page_of(self, *args: object, **kwargs: object) -> None:
        return None


class ConsentMiddlewareWithoutBlocker(ConsentMiddleware):
    """consentgate with no blocker of the app's own markup: a page is only injected into.
    A measurement aid, to tell the blocker's cost from the rest of the request path."""

    def __init__(self, app: ASGIApp, *, config: ConsentConfig) -> None:
        super().__init__(app, config=config)
        self.blocking = _NoBlocking()  # type: ignore[assignment]


def consentgate() -> Starlette:
    without_blocker = os.environ.get(WITHOUT_BLOCKER_ENV) == "1"
    middleware = ConsentMiddlewareWithoutBlocker if without_blocker else ConsentMiddleware
    return Starlette(routes=routes(), middleware=[Middleware(middleware, config=consent_config())])


def floor() -> Starlette:
    return Starlette(routes=routes(), middleware=[Middleware(FloorBannerMiddleware)])


def passthrough() -> Starlette:
    return Starlette(routes=routes(), middleware=[Middleware(PassthroughMiddleware)])


def naive() -> Starlette:
    return Starlette(routes=routes(), middleware=[Middleware(NaiveBannerMiddleware)])
