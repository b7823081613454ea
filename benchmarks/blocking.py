"""``python -m benchmarks blocking``: what blocking the app's own tracker markup costs a page.

In-process timing of whole requests through the ASGI stack (no server, no
sockets), so the numbers are the middleware's own work per page:

- ``bare``: the app alone;
- ``today``: consentgate without the blocker (what it did before it blocked
  the app's markup: banner or snippets only);
- ``blocking``: consentgate as shipped (``block_known_trackers=True``,
  ``unknown_third_party="warn"``).

Two 30 KB pages, each for a visitor without a choice (banner) and one who
accepted all: ``ordinary`` has 20 ordinary ``<script>``/``<img>`` tags and no
tracker markup; ``trackers`` has the same plus GA4, GTM (with its noscript
iframe) and a YouTube iframe. Reported: the fastest of ``--repeats`` runs of
``--number`` requests, in µs per page, and what blocking adds to today's path.
The machine is shared and noisy: the fastest run is the one least disturbed by it;
compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any, cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from benchmarks.apps import KIB, consent_config, html_page
from consentgate import ConsentMiddleware

PAGE_SIZE = 30 * KIB

ORDINARY_TAGS = "".join(
    f'<script src="/static/js/module-{i}.js" defer></script>\n'
    f'<img src="/media/photo-{i}.jpg" alt="Foto {i}" width="640" height="480" loading="lazy">\n'
    for i in range(10)
)
TRACKER_TAGS = """<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH22222"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-BENCH22222');
</script>
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-BENCH01');</script>
"""
TRACKER_BODY_TAGS = """<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-BENCH01"
height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ"
title="YouTube video player" allowfullscreen></iframe>
"""


def page_with(head_tags: str, body_tags: str) -> bytes:
    """A 30 KB page (as the other benchmarks' page) with ``head_tags`` and ``body_tags`` in."""
    base = html_page(PAGE_SIZE - len(head_tags.encode()) - len(body_tags.encode()), "Side")
    page = base.replace(b"</head>", head_tags.encode() + b"</head>", 1).replace(
        b"<main>\n", b"<main>\n" + body_tags.encode(), 1
    )
    assert len(page) == PAGE_SIZE
    return page


PAGES = {
    "ordinary": page_with("", ORDINARY_TAGS),
    "trackers": page_with(TRACKER_TAGS, ORDINARY_TAGS + TRACKER_BODY_TAGS),
}


def routes() -> list[Route]:
    def endpoint(body: bytes) -> Any:
        async def page(request: Request) -> Response:
            return HTMLResponse(body)

        return page

    return [Route(f"/{name}", endpoint(body)) for name, body in PAGES.items()]


class _NoBlocking:
    """Stands in for the middleware's blocking: no blocker, so today's path."""

    def page_of(self, *args: object, **kwargs: object) -> None:
        return None


def variants() -> dict[str, ASGIApp]:
    bare = Starlette(routes=routes())
    gated = Starlette(
        routes=routes(), middleware=[Middleware(ConsentMiddleware, config=consent_config())]
    )
    today = Starlette(
        routes=routes(), middleware=[Middleware(ConsentMiddleware, config=consent_config())]
    )
    cast(Any, today).middleware_stack = today.build_middleware_stack()
    _middleware_of(today).blocking = cast(Any, _NoBlocking())
    return {"bare": bare, "today": today, "blocking": gated}


def _middleware_of(app: Starlette) -> ConsentMiddleware:
    layer: Any = app.middleware_stack
    while not isinstance(layer, ConsentMiddleware):
        layer = layer.app
    return layer


async def call(app: ASGIApp, path: str, cookie: bytes | None) -> tuple[int, bytes, list[Any]]:
    """One GET through the ASGI app; the status, body and headers."""
    headers = [(b"host", b"www.example.dk"), (b"accept-language", b"da")]
    if cookie:
        headers.append((b"cookie", cookie))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, sent[0]["headers"]


async def consent_cookie(app: ASGIApp) -> bytes:
    """A cookie of a visitor who accepted all, made the way a form post makes it."""
    _, page, _ = await call(app, "/ordinary", None)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = b"action=accept_all&source=banner&next=%2F&csrf_token=" + token[1]
    sent: list[Message] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/_consent",
        "raw_path": b"/_consent",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"www.example.dk"),
            (b"origin", b"http://www.example.dk"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": form, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    for name, value in sent[0]["headers"]:
        if name == b"set-cookie" and value.startswith(b"consentgate="):
            cookie: bytes = value.split(b";", 1)[0]
            return cookie
    raise SystemExit(f"accepting all failed: {sent[0]}")


async def check(apps: dict[str, ASGIApp], cookie: bytes) -> None:
    """Each variant does what its name says, before anything is timed."""
    _, blocked, _ = await call(apps["blocking"], "/trackers", None)
    _, today, _ = await call(apps["today"], "/trackers", None)
    assert b'data-consent="google-analytics"' in blocked and b"cg-embed" in blocked
    assert b"data-consent" not in today
    _, allowed, _ = await call(apps["blocking"], "/trackers", cookie)
    assert b"data-consent" not in allowed and TRACKER_TAGS.encode() in allowed


async def time_per_page(app: ASGIApp, path: str, cookie: bytes | None, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        await call(app, path, cookie)
    return (time.perf_counter() - start) / number * 1e6


async def run(number: int, repeats: int) -> list[tuple[str, str, dict[str, float]]]:
    apps = variants()
    cookie = await consent_cookie(apps["blocking"])
    await check(apps, cookie)
    rows = []
    for page in PAGES:
        for visitor, visitor_cookie in (("no choice (banner)", None), ("accepted all", cookie)):
            runs: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(repeats):  # interleaved, so a noisy moment hits every variant
                for name, app in apps.items():
                    runs[name].append(await time_per_page(app, f"/{page}", visitor_cookie, number))
            rows.append((page, visitor, {name: min(t) for name, t in runs.items()}))
    return rows


def table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    lines = [
        "| page (30 KB) | visitor | bare µs | today µs | blocking µs | blocking adds µs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for page, visitor, times in rows:
        lines.append(
            f"| {page} | {visitor} | {times['bare']:.0f} | {times['today']:.0f} | "
            f"{times['blocking']:.0f} | {times['blocking'] - times['today']:+.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks blocking", description=__doc__)
    parser.add_argument("--number", type=int, default=300, help="requests per timed run")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per variant")
    args = parser.parse_args(argv)
    print(table(asyncio.run(run(args.number, args.repeats))))
    return 0
