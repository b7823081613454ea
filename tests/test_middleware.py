"""The request path: what reaches a visitor's browser, through real HTTP semantics."""

from __future__ import annotations

import gc
import gzip
import logging
import re
import tracemalloc
import weakref
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings, strategies as st
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate import SCOPE_KEY, ConsentMiddleware, ConsentState, get_consent
from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats, Provider, SiteKit

from .helpers import (
    OLD_SECRET,
    PAGE,
    SECRET,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
    page,
    site_routes,
)

pytestmark = pytest.mark.anyio

TRACKER_MARKERS = ("googletagmanager.com", "stats.wp.com", "bufferapp.com", "_stq", "gtag(")


def has_trackers(html: str) -> bool:
    return any(marker in html for marker in TRACKER_MARKERS)


# -- the banner and the gate ----------------------------------------------


async def test_first_visit_gets_the_banner_and_no_tracker() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/page")
    assert response.status_code == 200
    assert 'id="consentgate-banner"' in response.text
    assert response.text.index('id="consentgate-banner"') < response.text.index("</body>")
    assert not has_trackers(response.text)
    assert int(response.headers["content-length"]) == len(response.content)


async def test_banner_speaks_danish_to_a_danish_browser() -> None:
    async with client_for(make_app()) as client:
        danish = await client.get("/page", headers={"accept-language": "da-DK,da;q=0.9"})
        english = await client.get("/page", headers={"accept-language": "en-GB"})
    assert "Afvis alle" in danish.text and "Accepter alle" in danish.text
    assert "Reject all" in english.text and "Accept all" in english.text


@pytest.mark.parametrize(
    ("provider", "category", "marker"),
    [
        (GoogleAnalytics("G-ONLY123456"), "statistics", "gtag/js?id=G-ONLY123456"),
        (SiteKit("G-KIT1234567"), "statistics", 'id="google_gtagjs-js"'),
        (JetpackStats(blog_id=777), "statistics", "stats.wp.com/e-"),
        (Buffer(), "marketing", "static.bufferapp.com/js/button.js"),
        (
            Provider(
                name="chat",
                title="Chat",
                category="preferences",
                body='<script src="https://chat.example/widget.js"></script>',
            ),
            "preferences",
            "chat.example/widget.js",
        ),
    ],
)
async def test_each_provider_appears_only_after_its_category_is_granted(
    provider: Provider, category: str, marker: str
) -> None:
    others = {"statistics", "marketing", "preferences"} - {category}
    filler = [GoogleAnalytics("G-FILLER0000")] if category != "statistics" else [Buffer()]
    app = make_app(make_config(providers=[provider, *filler]))
    async with client_for(app) as client:
        assert marker not in (await client.get("/page")).text
        await choose(client, "save", sorted(others))
        assert marker not in (await client.get("/page")).text
        await choose(client, "save", [category])
        assert marker in (await client.get("/page")).text
        await choose(client, "reject_all")
        assert marker not in (await client.get("/page")).text


async def test_google_consent_mode_defaults_to_denied_before_gtag_loads() -> None:
    app = make_app(make_config(providers=[GoogleAnalytics("G-TEST123456")]))
    async with client_for(app) as client:
        await choose(client, "save", ["statistics"])
        html = (await client.get("/page")).text
    head = html[: html.index("</head>")]
    default = head.index('"default"')
    update = head.index('"update"')
    loader = head.index("googletagmanager.com/gtag/js")
    assert default < update < loader
    update_call = head[update : head.index(")", update)]
    assert '"analytics_storage": "granted"' in update_call
    assert '"ad_storage": "denied"' in update_call


async def test_accepted_visitor_gets_snippets_and_a_settings_link_not_the_banner() -> None:
    async with client_for(make_app()) as client:
        await choose(client, "accept_all")
        html = (await client.get("/page")).text
    assert 'id="consentgate-banner"' not in html
    assert 'id="consentgate-settings"' in html
    assert "gtag/js?id=G-TEST123456" in html
    assert html.index("gtag/js?id=G-TEST123456") < html.index("</head>")
    assert html.index("stats.wp.com/e-") < html.index("</body>")


async def test_a_choice_lapses_even_while_the_visitor_is_remembered() -> None:
    # What a visitor's headers imply is cached; a cookie past cookie_max_age must
    # still read as no choice, even from a browser that keeps sending it.
    app = make_app(make_config(cookie_max_age=2))
    async with client_for(app) as client:
        chosen = await choose(client, "accept_all")
        value = chosen.cookies["consentgate"]
    headers = {"cookie": f"consentgate={value}"}
    async with client_for(app) as client:
        assert "consentgate-banner" not in (await client.get("/page", headers=headers)).text
        await anyio.sleep(2.1)
        assert "consentgate-banner" in (await client.get("/page", headers=headers)).text


async def test_settings_link_can_be_turned_off() -> None:
    async with client_for(make_app(make_config(show_settings_link=False))) as client:
        await choose(client, "reject_all")
        html = (await client.get("/page")).text
    assert "consentgate-settings" not in html
    # The script stays, for the page API: a site may open the settings from its own link.
    head, body = html.split("</head>")
    assert re.search(r"consentgate\.[0-9a-f]+\.js", head)
    assert body == PAGE.split("</head>")[1]


@pytest.mark.parametrize(
    ("policy_url", "path"),
    [
        ("/privatliv", "/privatliv"),
        ("/privatliv", "/privatliv/"),
        ("/privatliv#cookies", "/privatliv"),
        ("https://example.dk/privatliv?lang=da", "/privatliv"),
        ("/privatlivspolitik-%C3%A6", "/privatlivspolitik-æ"),
    ],
)
async def test_the_banner_folds_on_the_privacy_policys_own_page(policy_url: str, path: str) -> None:
    config = make_config(privacy_policy_url=policy_url)
    app = make_app(config, routes=[*site_routes(), Route(path.rstrip("/") or "/", page)])
    async with client_for(app, follow_redirects=True) as client:
        policy = (await client.get(path)).text
        other = (await client.get("/page")).text
    assert re.search(r'<div id="consentgate-banner"[^>]* data-folded[ >]', policy)
    assert "data-folded" not in other
    # Folded, it is the same form: the same choice can be made from it.
    assert 'value="accept_all"' in policy and 'value="reject_all"' in policy
    assert csrf_token(policy)


@pytest.mark.parametrize(("policy_url", "path"), [("/pag", "/page"), ("https://firma.dk/", "/")])
async def test_a_page_that_is_not_the_policy_gets_the_whole_banner(
    policy_url: str, path: str
) -> None:
    app = make_app(make_config(privacy_policy_url=policy_url))
    async with client_for(app) as client:
        html = (await client.get(path)).text
    assert "consentgate-banner" in html and "data-folded" not in html


async def test_no_optional_provider_means_no_banner() -> None:
    async with client_for(make_app(make_config(providers=[]))) as client:
        html = (await client.get("/page")).text
    assert "consentgate-banner" not in html
    assert 'id="consentgate-settings"' in html


async def test_bumping_the_policy_version_asks_again() -> None:
    async with client_for(make_app(make_config(policy_version="1"))) as client:
        await choose(client, "accept_all")
        cookie = client.cookies["consentgate"]
    async with client_for(make_app(make_config(policy_version="2"))) as client:
        client.cookies["consentgate"] = cookie
        html = (await client.get("/page")).text
    assert 'id="consentgate-banner"' in html
    assert not has_trackers(html)


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "",
        ".eJwFwUkOgCAM",
        URLSafeSerializer("x" * 40, salt="consentgate.consent").dumps([1, "id", ["statistics"]]),
        URLSafeSerializer(SECRET, salt="consentgate.consent").dumps(["not", "the", "shape"]),
    ],
)
async def test_forged_or_broken_cookie_means_no_consent_never_an_error(cookie: str) -> None:
    async with client_for(make_app()) as client:
        client.cookies["consentgate"] = cookie
        response = await client.get("/page")
    assert response.status_code == 200
    assert 'id="consentgate-banner"' in response.text
    assert not has_trackers(response.text)


async def test_tampered_grant_is_not_honoured() -> None:
    async with client_for(make_app()) as client:
        await choose(client, "reject_all")
        value = client.cookies["consentgate"]
        payload, _, signature = value.rpartition(".")
        client.cookies["consentgate"] = (
            payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
        )
        html = (await client.get("/page")).text
    assert 'id="consentgate-banner"' in html


async def test_cookie_signed_with_an_older_key_is_accepted_and_reissued() -> None:
    old_app = make_app(make_config(secret_key=OLD_SECRET))
    async with client_for(old_app) as client:
        await choose(client, "save", ["statistics"])
        old_cookie = client.cookies["consentgate"]
    rotated = make_app(make_config(secret_key=None, secret_keys=[SECRET, OLD_SECRET]))
    async with client_for(rotated) as client:
        client.cookies["consentgate"] = old_cookie
        response = await client.get("/page")
        assert "gtag/js" in response.text
        new_cookie = response.cookies["consentgate"]
        assert new_cookie != old_cookie
        client.cookies.clear()
        client.cookies["consentgate"] = new_cookie
        again = await client.get("/page")
    assert "gtag/js" in again.text
    assert "set-cookie" not in again.headers


# -- headers ----------------------------------------------------------------


async def test_consent_dependent_pages_vary_by_cookie_merged_with_existing_vary() -> None:
    async def varied(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"Vary": "Accept-Encoding"})

    app = make_app(routes=[Route("/", varied)])
    async with client_for(app) as client:
        response = await client.get("/")
    assert response.headers["vary"] == "Accept-Encoding, Cookie"


async def test_app_cannot_set_tracker_cookies_without_consent() -> None:
    async with client_for(make_app()) as client:
        html_response = await client.get("/set-cookies")
        json_response = await client.get("/api/set-cookies")
        set_before = html_response.headers.get_list("set-cookie")
        await choose(client, "save", ["statistics"])
        client.cookies.clear()
        # granted now: the same responses keep the app's tracker cookies
        await choose(client, "save", ["statistics"])
        after = (await client.get("/set-cookies")).headers.get_list("set-cookie")
    assert [c.split("=")[0] for c in set_before] == ["session"]
    assert [c.split("=")[0] for c in json_response.headers.get_list("set-cookie")] == ["session"]
    # which cookies a response sets depends on consent: a shared cache must know
    assert json_response.headers["vary"] == "Cookie"
    assert sorted(c.split("=")[0] for c in after) == ["_ga", "_ga_TEST123456", "session"]


async def test_tracker_cookies_a_browser_still_holds_are_expired_without_consent() -> None:
    async with client_for(make_app(), cookies={"_ga": "GA1.1.1.1", "session": "x"}) as client:
        response = await client.get("/page")
    expiring = response.headers.get_list("set-cookie")
    assert expiring and all(c.startswith("_ga=;") and "Max-Age=0" in c for c in expiring)


async def test_withdrawing_expires_that_categorys_cookies_on_host_and_cookie_domain() -> None:
    config = make_config(cookie_domain=".example.com")
    app = make_app(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://www.example.com"
    ) as client:
        page_html = (await client.get("/_consent/preferences")).text

        token = csrf_token(page_html)
        origin = {"origin": "http://www.example.com"}
        await client.post(
            "/_consent", data={"action": "accept_all", "csrf_token": token}, headers=origin
        )
        client.cookies.set("_ga", "GA1.1.1.1", domain="www.example.com")
        client.cookies.set("_ga_TEST123456", "GS1", domain="www.example.com")
        response = await client.post(
            "/_consent",
            data={"action": "save", "categories": ["marketing"], "csrf_token": token},
            headers=origin,
        )
    headers = response.headers.get_list("set-cookie")
    expired = [h for h in headers if "Max-Age=0" in h]
    assert any(h.startswith("_ga=;") and "Domain" not in h for h in expired)
    assert any(h.startswith("_ga=;") and "Domain=example.com" in h for h in expired)
    assert any(h.startswith("_ga_TEST123456=;") for h in expired)
    consent = next(h for h in headers if h.startswith("consentgate="))
    assert "Domain=.example.com" in consent


async def test_consent_cookie_is_secure_on_https() -> None:
    app = make_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        form = (await client.get("/_consent/preferences")).text

        response = await client.post(
            "/_consent",
            data={"action": "reject_all", "csrf_token": csrf_token(form)},
            headers={"origin": "https://testserver"},
        )
    cookie = response.headers["set-cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# -- what passes untouched ----------------------------------------------------


async def bare_and_gated(path: str, method: str = "GET") -> tuple[httpx.Response, httpx.Response]:
    bare = Starlette(routes=site_routes())
    async with client_for(bare) as client:
        expected = await client.request(method, path)
    async with client_for(make_app()) as client:
        actual = await client.request(method, path)
    return expected, actual


async def test_json_passes_byte_for_byte_with_vary_cookie_since_it_read_the_consent() -> None:
    expected, actual = await bare_and_gated("/api/data")
    assert actual.content == expected.content
    assert actual.headers.raw == [*expected.headers.raw, (b"vary", b"Cookie")]


async def test_head_of_a_page_announces_no_length_its_get_would_not_keep() -> None:
    async with client_for(make_app()) as client:
        head = await client.head("/page")
        get = await client.get("/page")
    assert head.content == b""
    assert "content-length" not in head.headers
    assert int(get.headers["content-length"]) == len(get.content) > len(PAGE)
    assert {**head.headers, "content-length": "-"} == {**get.headers, "content-length": "-"}


async def test_a_partial_content_response_passes_untouched() -> None:
    async def part(request: Request) -> Response:
        return Response(
            PAGE.encode()[10:60],
            status_code=206,
            headers={"content-type": "text/html", "content-range": f"bytes 10-59/{len(PAGE)}"},
        )

    async with client_for(make_app(routes=[Route("/", part)])) as client:
        response = await client.get("/", headers={"range": "bytes=10-59"})
    assert response.status_code == 206
    assert response.content == PAGE.encode()[10:60]
    assert response.headers["content-length"] == "50"


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_statuses_pass_untouched(status: int) -> None:
    async def empty(request: Request) -> Response:
        return Response(status_code=status, headers={"content-type": "text/html"})

    async with client_for(make_app(routes=[Route("/", empty)])) as client:
        response = await client.get("/")
    assert response.status_code == status
    assert response.content == b""
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"


async def test_redirects_are_not_rewritten() -> None:
    async def moved(request: Request) -> Response:
        return HTMLResponse(
            "<html><body>moved</body></html>", status_code=302, headers={"location": "/"}
        )

    async with client_for(make_app(routes=[Route("/old", moved)])) as client:
        response = await client.get("/old")
    assert response.text == "<html><body>moved</body></html>"


async def test_excluded_paths_get_no_banner_but_neighbours_do() -> None:
    config = make_config(exclude_paths=["/admin"])
    routes = [Route("/admin/page", page), Route("/admin", page), Route("/administrator", page)]
    async with client_for(make_app(config, routes)) as client:
        assert (await client.get("/admin/page")).text == PAGE
        assert (await client.get("/admin")).text == PAGE
        assert "consentgate-banner" in (await client.get("/administrator")).text


async def test_websocket_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    middleware = ConsentMiddleware(app, config=make_config())

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": []}
    await middleware(scope, receive, send)
    assert seen == [(scope, receive, send)]
    assert seen[-1][0] is scope
    assert SCOPE_KEY not in scope


async def test_lifespan_reaches_the_app_with_its_scope_and_the_servers_messages() -> None:
    # What consentgate adds to the lifespan is in test_lifespan.py.
    seen: list[tuple[Scope, Message]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, await receive()))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "lifespan"}
    await ConsentMiddleware(app, config=make_config())(scope, receive, send)
    assert seen == [(scope, {"type": "lifespan.startup"})] and seen[0][0] is scope


class _Server:
    """Like uvicorn's request cycle: it holds the scope, and ``send`` is its method."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)


@pytest.mark.parametrize("path", ["/", "/api/data", "/stream"])
async def test_a_finished_request_is_freed_without_the_garbage_collector(path: str) -> None:
    # The scope holds the gate and the gate the server's send: if that cycle outlived
    # the request, every request would wait for the collector, which costs a busy
    # server several per cent of its time.
    middleware = ConsentMiddleware(Starlette(routes=site_routes()), config=make_config())

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
        "server": ("testserver", 80),
    }
    server = _Server(scope)
    freed = weakref.ref(server)
    gc.disable()
    try:
        await middleware(scope, receive, server.send)
        assert server.sent[-1]["type"] == "http.response.body"
        del server, scope
        assert freed() is None
    finally:
        gc.enable()


# -- the body: streaming, chunking, encodings ---------------------------------


async def test_a_streamed_page_is_rewritten_as_it_flows() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/stream")
    assert "content-length" not in response.headers
    text = response.text
    assert text.startswith("<!doctype html><html><head><title>Stream</title>")
    assert text.index("consentgate.") < text.index("</HEAD>")
    assert text.index('id="consentgate-banner"') < text.index("</body>")
    assert text.endswith("</body></html>")


async def drive(app: ASGIApp, path: str = "/", forwarded: list[bytes] | None = None) -> bytes:
    """Run ``app`` behind the middleware at the ASGI level; the body chunks go to ``forwarded``."""
    chunks = forwarded if forwarded is not None else []
    middleware = ConsentMiddleware(app, config=make_config())

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message["body"])

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"accept-language", b"da")],
        "scheme": "http",
    }
    await middleware(scope, receive, send)
    return b"".join(chunks)


HTML_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/html; charset=utf-8")],
}


async def test_streamed_chunks_are_forwarded_before_the_app_finishes() -> None:
    """Only the final window is held back: a stream is never buffered whole."""
    forwarded: list[bytes] = []
    paused = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(HTML_START)
        first = b"<html><head></head><body>" + b"x" * 8000
        await send({"type": "http.response.body", "body": first, "more_body": True})
        # The first chunk must already have gone out before the app sends more.
        assert sum(chunk.count(b"x") for chunk in forwarded) >= 8000 - 1024
        paused.set()
        await send({"type": "http.response.body", "body": b"</body></html>", "more_body": False})

    body = await drive(app, forwarded=forwarded)
    assert paused.is_set()
    assert b"consentgate-banner" in body


def gated_body_for(chunks: list[bytes]) -> bytes:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(HTML_START)
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    body = anyio.run(drive, app, "/p")
    # The form token carries the time it was signed; everything else must be identical.
    return re.sub(rb'name="csrf_token" value="[^"]+"', b"TOKEN", body)


@pytest.mark.slow  # a whole request per example
@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(PAGE)), max_size=12))
def test_any_split_of_the_body_gives_the_same_page(cuts: list[int]) -> None:
    body = PAGE.encode()
    points = sorted(set(cuts))
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    whole = gated_body_for([body])
    assert gated_body_for(chunks) == whole
    assert b'id="consentgate-banner"' in whole


@pytest.mark.parametrize(
    "page_html",
    [
        "<html><body><p>no head</p></body></html>",
        "<html><head><title>no body end</title></head><p>text",
        "just text, no markup at all",
    ],
)
async def test_pages_without_markers_still_get_what_they_need(page_html: str) -> None:
    async def odd(request: Request) -> Response:
        return HTMLResponse(page_html)

    async with client_for(make_app(routes=[Route("/", odd)])) as client:
        text = (await client.get("/")).text
    assert 'id="consentgate-banner"' in text
    assert "consentgate." in text  # the stylesheet


async def test_gzip_bodies_are_rewritten_and_stay_valid_gzip() -> None:
    big_page = PAGE.replace("<p>Indhold</p>", "<p>Indhold</p>" * 200)

    async def large(request: Request) -> Response:
        return HTMLResponse(big_page)

    inner = Starlette(routes=[Route("/", large)])
    inner.add_middleware(GZipMiddleware, minimum_size=10)
    app = ConsentMiddleware(inner, config=make_config())
    async with client_for(app) as client:
        async with client.stream("GET", "/", headers={"accept-encoding": "gzip"}) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw)
    text = gzip.decompress(raw).decode()
    assert 'id="consentgate-banner"' in text
    assert text.endswith("</body></html>")


async def test_other_encodings_pass_untouched_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def brotli(request: Request) -> Response:
        return Response(
            b"\x8b\x03\x80opaque", media_type="text/html", headers={"content-encoding": "br"}
        )

    app = make_app(routes=[Route("/", brotli)])
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client_for(app) as client:
            for _ in range(3):
                response = await client.get("/", headers={"accept-encoding": "identity"})
                assert response.content == b"\x8b\x03\x80opaque"
    warnings = [r for r in caplog.records if "Content-Encoding" in r.getMessage()]
    assert len(warnings) == 1


async def test_latin1_pages_get_the_danish_banner_as_character_references() -> None:
    async def latin1(request: Request) -> Response:
        html = "<html><head><title>Æble</title></head><body>Blåbær</body></html>"
        return Response(html.encode("latin-1"), media_type="text/html; charset=iso-8859-1")

    async with client_for(make_app(routes=[Route("/", latin1)])) as client:
        response = await client.get("/", headers={"accept-language": "da"})
    text = response.content.decode("latin-1")
    assert "Blåbær" in text
    assert "Gem valg" in text
    assert "–" not in text and "&#8211;" in text  # the en dash is not in latin-1


async def test_pages_in_ascii_incompatible_charsets_pass_untouched() -> None:
    html = "<html><head></head><body>hej</body></html>".encode("utf-16")

    async def utf16(request: Request) -> Response:
        return Response(html, media_type="text/html; charset=utf-16")

    async with client_for(make_app(routes=[Route("/", utf16)])) as client:
        response = await client.get("/")
    assert response.content == html


# -- what the app sees ---------------------------------------------------------


async def test_the_app_reads_consent_from_scope_and_helper() -> None:
    seen: dict[str, Any] = {}

    async def inspect(request: Request) -> Response:
        seen["helper"] = get_consent(request)
        seen["scope"] = request.scope[SCOPE_KEY].state
        return JSONResponse({})

    async with client_for(make_app(routes=[Route("/", inspect)] + site_routes()[1:])) as client:
        await client.get("/")
        assert seen["helper"].has_choice is False
        await choose(client, "save", ["statistics"])
        await client.get("/")
    assert seen["helper"] is seen["scope"]
    assert seen["helper"].granted == frozenset({"statistics"})
    assert seen["helper"].allows("necessary") and not seen["helper"].allows("marketing")


async def test_works_around_fastapi() -> None:
    api = FastAPI()

    @api.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return PAGE

    @api.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    api.add_middleware(ConsentMiddleware, config=make_config())
    async with client_for(api) as client:
        assert "consentgate-banner" in (await client.get("/")).text
        assert (await client.get("/items")).json() == [1, 2]
        await choose(client, "accept_all")
        assert "gtag/js" in (await client.get("/")).text


async def test_get_consent_outside_the_middleware_is_no_choice() -> None:
    assert get_consent({"type": "http"}).has_choice is False


async def test_banner_next_field_is_the_current_path_and_query() -> None:
    async with client_for(make_app()) as client:
        html = (await client.get("/page?a=1&b=%C3%A6")).text
    assert 'name="next" value="/page?a=1&amp;b=%C3%A6"' in html


async def test_the_host_header_is_never_shown_as_the_data_controller() -> None:
    config = make_config(controller_name=None)
    async with client_for(make_app(config)) as client:
        hostile = (await client.get("/page", headers={"host": '"><script>alert(1)</script>'})).text
        plain = (await client.get("/page", headers={"host": "evil.example"})).text
    assert "alert(1)" not in hostile and "&lt;script&gt;" not in hostile
    assert "evil.example" not in plain
    assert "This site uses cookies" in plain


async def test_a_corrupt_gzip_stream_is_ended_cleanly_not_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = gzip.compress(PAGE.encode())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start = {**HTML_START, "headers": [*HTML_START["headers"], (b"content-encoding", b"gzip")]}
        await send(start)
        await send({"type": "http.response.body", "body": good[:20], "more_body": True})
        await send({"type": "http.response.body", "body": b"\x00garbage" * 8, "more_body": True})
        await send({"type": "http.response.body", "body": b"more", "more_body": False})

    with caplog.at_level(logging.ERROR, logger="consentgate"):
        await drive(app)
    assert any("cut a streamed response short" in r.getMessage() for r in caplog.records)


# -- hostile request headers ------------------------------------------------

HUGE = 1024 * 1024
HOSTILE_REQUESTS = 2000


@pytest.mark.timeout(600)  # 6 GB of headers go through: slow on a loaded machine
async def test_megabyte_headers_do_not_make_the_process_keep_them() -> None:
    """2,000 requests, each with its own 1 MB Cookie, Host and Accept-Language:
    the caches keep what consentgate needs of them, bounded, and the pages are right."""
    middleware = ConsentMiddleware(_page_app, config=make_config())
    now = datetime.now(UTC).replace(microsecond=0)
    refused = ConsentState(
        consent_id="c0ffee00-0000-4000-8000-000000000000", policy_version="2026-11", decided_at=now
    )
    consent = middleware.cookie.encode(refused).encode()
    junk, far_host, languages = b"x" * HUGE, b"h" * HUGE, b"da," + b"y" * HUGE

    async def request(i: int, cookie: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
        tag = b"%d" % i
        headers = [
            (b"host", tag + far_host),
            (b"accept-language", languages + tag),
            (b"cookie", b"junk" + tag + b"=" + junk + b"; _ga=GA1.1.1; " + cookie),
        ]
        return await _exchange(middleware, headers)

    async def check(i: int) -> None:
        headers, body = await request(i, b"consentgate=" + consent)
        assert b"consentgate-banner" not in body and b"gtag(" not in body
        assert b"Cookie-indstillinger" in body  # the settings link, in Danish
        assert any(v.startswith(b"_ga=;") for k, v in headers if k == b"set-cookie")
        # A megabyte consent cookie is not one consentgate wrote: the banner.
        headers, body = await request(i, b"consentgate=" + junk + b"%d" % i)
        assert b"consentgate-banner" in body

    for i in range(20):  # warm up: first-use allocations are not growth
        await check(i)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20, 20 + HOSTILE_REQUESTS // 2):
            await check(i)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20 * 1024 * 1024, f"grew by {grown / 2**20:.1f} MiB"


async def _page_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send(HTML_START)
    await send({"type": "http.response.body", "body": PAGE.encode()})


async def _exchange(
    middleware: ConsentMiddleware, headers: list[tuple[bytes, bytes]], path: str = "/page"
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """One GET through ``middleware`` at the ASGI level: the response headers and body."""
    out: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        out.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
    }
    await middleware(scope, receive, send)
    start = next(m for m in out if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    return list(start["headers"]), body


# -- conditional requests and shared caches ---------------------------------

VALIDATED = {
    "etag": '"v1"',
    "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT",
    "accept-ranges": "bytes",
    "cache-control": "public, max-age=3600, s-maxage=86400",
    "cdn-cache-control": "max-age=86400",
    "surrogate-control": "max-age=86400",
}
BROWSER_PAGE_REQUEST = {"accept": "text/html,application/xhtml+xml", "sec-fetch-dest": "document"}


def validating_app(seen: list[dict[str, str]]) -> Any:
    """A page that answers 304 to a matching If-None-Match, as a real app would."""

    async def validated(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return HTMLResponse(PAGE, headers=VALIDATED)

    async def asset(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return Response(b"body{}", media_type="text/css", headers=VALIDATED)

    return make_app(routes=[Route("/", validated), Route("/style.css", asset)])


async def test_a_rewritten_page_carries_none_of_the_apps_validators() -> None:
    async with client_for(validating_app([])) as client:
        banner = await client.get("/")
        await choose(client, "accept_all")
        snippets = await client.get("/")
    for response in (banner, snippets):
        assert response.status_code == 200
        for name in ("etag", "last-modified", "accept-ranges"):
            assert name not in response.headers


async def test_a_visitor_without_a_choice_never_gets_a_304_for_a_page() -> None:
    seen: list[dict[str, str]] = []
    conditions = {"if-none-match": '"v1"', "if-modified-since": "Tue, 01 Dec 2026 10:00:00 GMT"}
    async with client_for(validating_app(seen)) as client:
        response = await client.get("/", headers={**BROWSER_PAGE_REQUEST, **conditions})
    assert response.status_code == 200
    assert "consentgate-banner" in response.text
    assert not {"if-none-match", "if-modified-since"} & set(seen[0])


async def test_if_range_is_dropped_with_its_range_for_a_visitor_without_a_choice() -> None:
    seen: list[dict[str, str]] = []
    request = {**BROWSER_PAGE_REQUEST, "if-range": '"v1"', "range": "bytes=0-10"}
    async with client_for(validating_app(seen)) as client:
        response = await client.get("/", headers=request)
    assert response.status_code == 200
    assert not {"if-range", "range"} & set(seen[0])


async def test_assets_and_chosen_visitors_keep_their_304s() -> None:
    seen: list[dict[str, str]] = []
    async with client_for(validating_app(seen)) as client:
        asset = await client.get(
            "/style.css",
            headers={"if-none-match": '"v1"', "sec-fetch-dest": "style", "accept": "text/css"},
        )
        await choose(client, "reject_all")
        page = await client.get("/", headers={**BROWSER_PAGE_REQUEST, "if-none-match": '"v1"'})
    assert asset.status_code == 304
    assert page.status_code == 304
    assert seen[-1]["if-none-match"] == '"v1"'


async def test_personal_pages_are_private_and_keep_the_apps_max_age() -> None:
    async with client_for(validating_app([])) as client:
        banner = await client.get("/")
        await choose(client, "accept_all")
        snippets = await client.get("/")
        asset = await client.get("/style.css")
    for response in (banner, snippets):
        assert response.headers["cache-control"] == "private, max-age=3600"
        assert "cdn-cache-control" not in response.headers
        assert "surrogate-control" not in response.headers
    # What consentgate did not touch keeps the app's caching.
    assert asset.headers["cache-control"] == VALIDATED["cache-control"]
    assert asset.headers["cdn-cache-control"] == VALIDATED["cdn-cache-control"]


async def test_a_page_consentgate_did_not_change_keeps_its_caching() -> None:
    config = make_config(exclude_paths=["/"])
    async with client_for(
        make_app(config, [Route("/", lambda r: HTMLResponse(PAGE, headers=VALIDATED))])
    ) as client:
        response = await client.get("/")
    assert response.headers["cache-control"] == VALIDATED["cache-control"]
    assert response.headers["etag"] == '"v1"'


async def test_a_page_without_cache_control_is_made_private() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/page")
    assert response.headers["cache-control"] == "private"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("public", "private"),
        ("max-age=60, public", "private, max-age=60"),
        ("s-maxage=600,must-revalidate", "private, must-revalidate"),
        ('private="Set-Cookie", max-age=5', "private, max-age=5"),
        ("no-store", "private, no-store"),
        ("Public, Proxy-Revalidate, no-cache", "private, no-cache"),
    ],
)
async def test_cache_control_of_a_personal_page(given: str, expected: str) -> None:
    route = Route("/", lambda r: HTMLResponse(PAGE, headers={"cache-control": given}))
    async with client_for(make_app(routes=[route])) as client:
        response = await client.get("/")
    assert response.headers["cache-control"] == expected


async def test_a_page_that_only_gets_a_cookie_from_consentgate_is_private() -> None:
    """Excluded from rewriting, but the tracker cookies of a refusal are expired on it."""
    config = make_config(exclude_paths=["/"])
    route = Route("/", lambda r: HTMLResponse(PAGE, headers={"cache-control": "public"}))
    async with client_for(make_app(config, [route])) as client:
        await choose(client, "reject_all")
        response = await client.get("/", headers={"cookie": "_ga=GA1.1.1"})
    assert any(c.startswith("_ga=;") for c in response.headers.get_list("set-cookie"))
    assert response.headers["cache-control"] == "private"


async def test_any_response_the_app_read_consent_for_varies_on_cookie() -> None:
    async def plain(request: Request) -> Response:
        return Response(str(get_consent(request).has_choice), media_type="text/plain")

    async def unread(request: Request) -> Response:
        return Response("same for all", media_type="text/plain")

    routes = [Route("/read", plain), Route("/unread", unread)]
    async with client_for(make_app(routes=routes)) as client:
        read = await client.get("/read")
        unread_response = await client.get("/unread")
    assert read.headers["vary"] == "Cookie"
    assert "vary" not in unread_response.headers


async def test_excluded_pages_keep_their_304s_for_visitors_without_a_choice() -> None:
    async def validated(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return HTMLResponse(PAGE, headers={"etag": '"v1"'})

    config = make_config(exclude_paths=["/admin"])
    async with client_for(make_app(config, [Route("/admin/page", validated)])) as client:
        response = await client.get(
            "/admin/page", headers={**BROWSER_PAGE_REQUEST, "if-none-match": '"v1"'}
        )
    assert response.status_code == 304


@pytest.mark.parametrize(
    ("host", "srv"),
    [
        ("Www.Example.COM:8443", '"srv": "www.example.com"'),
        ("evil.example/<script>", '"srv": ""'),
        ("x" * 300, '"srv": ""'),
    ],
)
async def test_only_a_valid_host_name_reaches_a_snippet(host: str, srv: str) -> None:
    app = make_app(make_config(providers=[JetpackStats(blog_id=777)]))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        html = (await client.get("/page", headers={"host": host})).text
    assert srv in html
    assert "evil" not in html and "x" * 100 not in html
