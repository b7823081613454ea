"""consentgate's own routes: recording a choice, the preference centre, assets."""

from __future__ import annotations

import asyncio
import re
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.types import Message

from consentgate import ConfigurationError
from consentgate._csrf import CsrfTokens
from consentgate.log import open_log

from .helpers import (
    BASE_URL,
    SECRET,
    RecordingLog,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
)

pytestmark = pytest.mark.anyio


async def token_for(client: httpx.AsyncClient) -> str:
    return csrf_token((await client.get("/_consent/preferences")).text)


async def post_choice(
    client: httpx.AsyncClient,
    data: dict[str, Any],
    headers: dict[str, str] | None = None,
    with_token: bool = True,
) -> httpx.Response:
    if with_token:
        data = {"csrf_token": await token_for(client), **data}
    return await client.post(
        "/_consent", data=data, headers={"origin": BASE_URL, **(headers or {})}
    )


# -- recording a choice -------------------------------------------------------


async def test_accepting_redirects_back_and_records_the_choice() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        response = await choose(
            client, "accept_all", next_path="/page?x=1", headers={"accept-language": "da"}
        )
        state = (await client.get("/_consent/me")).json()
    assert response.status_code == 303
    assert response.headers["location"] == "/page?x=1"
    assert response.headers["cache-control"] == "no-store"
    [record] = log.records
    assert record.consent_id == state["consent_id"]
    assert record.action == "grant"
    assert record.granted == ("marketing", "statistics")
    assert record.refused == ()
    assert record.policy_version == "2026-11"
    assert record.language == "da"
    assert record.source == "banner"
    assert len(record.text_fingerprint) == 64
    assert record.time.tzinfo is not None and record.time.microsecond is not None
    assert state["granted"] == ["marketing", "statistics"]


async def test_actions_follow_the_visitors_history() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "reject_all")
        await choose(client, "save", ["statistics"])
        await choose(client, "accept_all")
        await choose(client, "save", ["marketing"])
        await choose(client, "reject_all")
    assert [r.action for r in log.records] == ["reject", "update", "update", "withdraw", "withdraw"]
    assert len({r.consent_id for r in log.records}) == 1
    assert log.records[3].granted == ("marketing",) and log.records[3].refused == ("statistics",)


async def test_the_choice_lands_in_a_real_sqlite_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/consent.db"
    async with client_for(make_app(make_config(store=url))) as client:
        await choose(client, "save", ["statistics"])
        consent_id = (await client.get("/_consent/me")).json()["consent_id"]
    async with open_log(url) as log:
        [record] = await log.history(consent_id)
    assert record.granted == ("statistics",)
    assert record.refused == ("marketing",)
    assert record.sequence == 1


async def test_a_choice_from_the_preferences_page_is_recorded_as_such() -> None:
    log = RecordingLog()
    app = make_app(make_config(store=log))
    async with client_for(app) as client:
        await post_choice(client, {"action": "reject_all", "source": "preferences", "lang": "en"})
        await post_choice(client, {"action": "reject_all", "source": "banner", "lang": "en"})
        await post_choice(client, {"action": "reject_all", "source": "banner", "lang": "da"})
    from_preferences, from_banner, from_danish_banner = log.records
    assert from_preferences.source == "preferences"
    assert from_preferences.language == "en"
    # each records the texts it was shown: another page or language, another fingerprint
    fingerprints = {r.text_fingerprint for r in log.records}
    assert len(fingerprints) == 3
    assert from_danish_banner.language == "da"


async def test_unknown_categories_are_ignored_and_necessary_is_not_a_choice() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "save", ["statistics", "necessary", "bogus"])
    assert log.records[0].granted == ("statistics",)


async def test_a_request_asking_for_json_gets_the_state() -> None:
    async with client_for(make_app()) as client:
        response = await post_choice(
            client, {"action": "save", "categories": ["marketing"]}, {"accept": "application/json"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["granted"] == ["marketing"]
    assert body["has_choice"] is True
    assert response.cookies["consentgate"]


async def test_a_json_body_is_accepted_as_an_api_choice() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        token = await token_for(client)
        response = await client.post(
            "/_consent",
            json={"action": "save", "categories": ["statistics"], "csrf_token": token},
            headers={"origin": BASE_URL, "accept": "application/json"},
        )
    assert response.json()["granted"] == ["statistics"]
    assert log.records[0].source == "api"


async def test_a_json_body_gets_a_json_answer_without_an_accept_header() -> None:
    async with client_for(make_app()) as client:
        token = await token_for(client)
        response = await client.post(
            "/_consent",
            json={"action": "save", "categories": ["statistics"], "csrf_token": token},
            headers={"origin": BASE_URL},
        )
        refused = await client.post(
            "/_consent", json={"action": "save"}, headers={"origin": "https://evil.example"}
        )
    assert response.status_code == 200
    assert response.json()["granted"] == ["statistics"]
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/json")


# -- attacks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://testserver.evil.example"},
        {"origin": BASE_URL, "sec-fetch-site": "cross-site"},
        {"referer": "https://evil.example/page"},
        # The site's own host, but over https while the request came over http.
        {"origin": BASE_URL.replace("http://", "https://")},
        {"referer": BASE_URL.replace("http://", "https://") + "/page"},
    ],
)
async def test_cross_site_posts_are_refused(headers: dict[str, str]) -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        token = await token_for(client)
        response = await client.post(
            "/_consent", data={"action": "accept_all", "csrf_token": token}, headers=headers
        )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert log.records == []


async def test_a_post_with_two_origin_headers_is_refused() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        token = await token_for(client)
        response = await client.post(
            "/_consent",
            data={"action": "accept_all", "csrf_token": token},
            headers=[("origin", BASE_URL), ("origin", BASE_URL)],
        )
    assert response.status_code == 403
    assert log.records == []


@pytest.mark.parametrize(
    "token", [None, "", "forged", "consent.AAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBB"]
)
async def test_posts_without_a_valid_token_are_refused(token: str | None) -> None:
    data = (
        {"action": "accept_all"} if token is None else {"action": "accept_all", "csrf_token": token}
    )
    async with client_for(make_app()) as client:
        response = await post_choice(client, data, with_token=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "<h1>" in response.text


async def test_a_trusted_origin_may_post() -> None:
    config = make_config(trusted_origins=["https://www.example.dk"])
    async with client_for(make_app(config)) as client:
        response = await post_choice(
            client, {"action": "reject_all"}, {"origin": "https://www.example.dk"}
        )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "next_value",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "%2F%2Fevil.example",
        "/\r\nSet-Cookie: x=1",
    ],
)
async def test_next_never_leaves_the_site(next_value: str) -> None:
    async with client_for(make_app()) as client:
        response = await post_choice(client, {"action": "reject_all", "next": next_value})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"action=destroy", "application/x-www-form-urlencoded", 400),
        (b"csrf_token=x", "application/x-www-form-urlencoded", 400),
        (b"\xff\xfe\xfd", "application/x-www-form-urlencoded", 400),
        (b"[1, 2]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b'{"action": "save", "categories": "statistics"}', "application/json", 400),
        (b'{"action": "save", "categories": [1]}', "application/json", 400),
        (b'{"action": "save", "next": ["/"]}', "application/json", 400),
        (b"[" * 5000, "application/json", 400),
        (b'{"action": "save", "categories": ' + b"[" * 5000, "application/json", 400),
        (b"<xml/>", "application/xml", 415),
        (b"a=" + b"x" * 20_000, "application/x-www-form-urlencoded", 413),
    ],
)
async def test_malformed_posts_get_a_clear_4xx(
    content: bytes, content_type: str, status: int
) -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        response = await client.post(
            "/_consent", content=content, headers={"content-type": content_type, "origin": BASE_URL}
        )
    assert response.status_code == status
    assert "set-cookie" not in response.headers
    assert log.records == []


# -- a form that expired in its tab ---------------------------------------------------

HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
BUTTON = re.compile(r'<button type="submit" class="cg-button" name="action" value="([^"]*)">')


def stale_token() -> str:
    """A genuine token, issued three days ago: past the default two days."""
    return CsrfTokens((SECRET,), 2 * 24 * 60 * 60, clock=lambda: time.time() - 3 * 86400).issue()


async def post_pairs(client: httpx.AsyncClient, pairs: list[tuple[str, str]]) -> httpx.Response:
    """POST a form whose fields repeat, in the order given."""
    return await client.post(
        "/_consent",
        content=urlencode(pairs),
        headers={"origin": BASE_URL, "content-type": "application/x-www-form-urlencoded"},
    )


def resent_form(html: str) -> list[tuple[str, str]]:
    """The fields the confirm page posts when its one button is clicked."""
    assert 'class="cg-confirm-form"' in html
    fields = [(k, unescape(v)) for k, v in HIDDEN.findall(html)]
    [action] = BUTTON.findall(html)
    return [*fields, ("action", unescape(action))]


async def test_a_form_expired_in_its_tab_is_offered_again_with_one_click() -> None:
    log = RecordingLog()
    stale = [
        ("csrf_token", stale_token()),
        ("action", "save"),
        ("categories", "statistics"),
        ("categories", "marketing"),
        ("next", "/page?a=1&b=<2>"),
        ("source", "preferences"),
        ("lang", "da"),
    ]
    async with client_for(make_app(make_config(store=log))) as client:
        refused = await post_pairs(client, stale)
        assert refused.status_code == 403
        assert refused.headers["cache-control"] == "no-store"
        assert 'lang="da"' in refused.text and "Bekræft det med ét klik" in refused.text
        assert "<li>Statistik</li>" in refused.text and "<li>Markedsføring</li>" in refused.text
        again = resent_form(refused.text)
        assert log.records == []
        response = await post_pairs(client, again)
        state = (await client.get("/_consent/me")).json()
    assert response.status_code == 303
    assert response.headers["location"] == "/page?a=1&b=%3C2%3E"  # as safe_next keeps it
    assert state["granted"] == ["marketing", "statistics"]
    [record] = log.records
    assert (record.source, record.language) == ("preferences", "da")


@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
async def test_the_confirm_button_is_the_action_the_visitor_chose(action: str) -> None:
    async with client_for(make_app()) as client:
        refused = await client.post(
            "/_consent",
            data={"csrf_token": stale_token(), "action": action},
            headers={"origin": BASE_URL},
        )
    assert ("action", action) in resent_form(refused.text)
    label = "Reject all" if action == "reject_all" else "Accept all"
    assert f">{label}</button>" in refused.text


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        ("forged", {"origin": BASE_URL}),  # no token of ours
        ("tampered", {"origin": BASE_URL}),
        ("stale", {"origin": "https://evil.example"}),  # ours and old, but posted cross-site
        ("stale", {"origin": BASE_URL, "accept": "application/json"}),  # the script: JSON 403
    ],
)
async def test_a_forged_or_cross_site_post_gets_the_plain_403(
    token: str, headers: dict[str, str]
) -> None:
    value = stale_token()
    if token == "forged":
        value = CsrfTokens(("another-secret-that-is-long-enough-000000",), 10).issue()
    elif token == "tampered":
        value = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    async with client_for(make_app()) as client:
        response = await client.post(
            "/_consent", data={"csrf_token": value, "action": "accept_all"}, headers=headers
        )
    assert response.status_code == 403
    assert "cg-confirm-form" not in response.text
    assert "set-cookie" not in response.headers


async def test_posted_values_cannot_open_holes_in_the_confirm_page() -> None:
    async with client_for(make_app()) as client:
        response = await client.post(
            "/_consent",
            data={"csrf_token": stale_token(), "action": "save", "source": "\x00csrf\x00\x00x\x00"},
            headers={"origin": BASE_URL},
        )
    assert response.status_code == 403
    assert ("source", "csrfx") in resent_form(response.text)


async def post_trickled(app: Any, chunks: int, interval: float) -> tuple[int, dict[str, str]]:
    """POST a choice straight through ASGI, its body arriving one byte every ``interval`` s."""
    body = b"action=reject_all&csrf_token=x"
    pieces = iter([body[i : i + 1] for i in range(min(chunks, len(body)))])
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(interval)
        piece = next(pieces, None)
        return {"type": "http.request", "body": piece or b"", "more_body": piece is not None}

    async def send(message: Message) -> None:
        sent.append(message)

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
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers


async def test_a_body_trickled_past_body_timeout_is_answered_408() -> None:
    log = RecordingLog()
    app = make_app(make_config(store=log, body_timeout=0.3))
    started = time.monotonic()
    status, headers = await post_trickled(app, chunks=1000, interval=0.05)
    assert status == 408
    assert time.monotonic() - started < 2
    assert headers["connection"] == "close"
    assert log.records == []


async def test_a_body_that_arrives_in_time_in_pieces_is_read() -> None:
    status, _ = await post_trickled(make_app(make_config(body_timeout=5)), chunks=1000, interval=0)
    assert status == 403  # read whole and judged: the token is no token


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), True, "10"])
def test_body_timeout_must_be_a_positive_number(value: object) -> None:
    with pytest.raises(ConfigurationError, match="body_timeout"):
        make_config(body_timeout=value)


# -- when the log cannot be written ---------------------------------------------


async def test_a_grant_that_cannot_be_logged_is_not_applied() -> None:
    log = RecordingLog()
    log.failing = True
    async with client_for(make_app(make_config(store=log))) as client:
        response = await choose(client, "accept_all")
        page = await client.get("/page")
    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert "consentgate-banner" in page.text
    assert "gtag" not in page.text


async def test_a_refusal_is_honoured_even_when_the_log_fails() -> None:
    log = RecordingLog()
    log.failing = True
    async with client_for(make_app(make_config(store=log))) as client:
        response = await choose(client, "reject_all")
        page = await client.get("/page")
    assert response.status_code == 303
    assert "consentgate-banner" not in page.text
    assert "gtag" not in page.text


async def test_when_the_log_fails_a_mixed_change_keeps_only_its_withdrawal() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "save", ["statistics"])
        log.failing = True
        response = await choose(
            client, "save", ["marketing"], headers={"accept": "application/json"}
        )
        state = (await client.get("/_consent/me")).json()
    assert response.status_code == 503
    assert "error" in response.json()
    assert state["granted"] == []


async def test_a_store_that_is_unreachable_answers_503_not_500(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = make_config(store=f"sqlite:///{blocker}/consent.db")
    async with client_for(make_app(config)) as client:
        response = await choose(client, "accept_all")
    assert response.status_code == 503
    assert "Please try again" in response.text or "Prøv igen" in response.text


# -- the preference centre --------------------------------------------------------


async def test_preferences_page_declares_every_provider_and_cookie() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/_consent/preferences", headers={"accept-language": "da"})
    html = response.text
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    for text in (
        "Google Analytics",
        "Site Kit",
        "Jetpack",
        "Buffer",
        "<code>_ga</code>",
        "<code>_ga_TEST123456</code>",
        "<code>consentgate</code>",
        "Nødvendige",
        "Altid slået til",
        "Testfirma ApS",
        "/privatliv",
        "https://policies.google.com/privacy",
    ):
        assert text in html, text
    assert "checked" not in html


async def test_preferences_page_shows_the_current_choice() -> None:
    async with client_for(make_app()) as client:
        await choose(client, "save", ["statistics"])
        html = (await client.get("/_consent/preferences")).text
        consent_id = (await client.get("/_consent/me")).json()["consent_id"]
    assert consent_id in html
    assert 'value="statistics" checked' in html
    assert 'value="marketing" checked' not in html


async def test_preferences_page_keeps_a_safe_next() -> None:
    async with client_for(make_app()) as client:
        good = (await client.get("/_consent/preferences?next=/page%3Fa%3D1")).text
        bad = (await client.get("/_consent/preferences?next=//evil.example")).text
    assert 'name="next" value="/page?a=1"' in good
    assert 'name="next" value="/"' in bad


async def test_me_without_a_choice() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/_consent/me")
    assert response.json() == {
        "consent_id": None,
        "has_choice": False,
        "granted": [],
        "providers": [],
        "allowed_providers": [],
        "lapsed": [],
        "policy_version": "",
        "decided_at": None,
    }


async def test_assets_are_served_with_a_content_hash_and_cached_for_good() -> None:
    async with client_for(make_app()) as client:
        page = (await client.get("/page")).text
        start = page.index("/_consent/static/consentgate.")
        url = page[start : page.index('"', start)]
        response = await client.get(url)
        missing = await client.get("/_consent/static/consentgate.0000.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "immutable" in response.headers["cache-control"]
    assert b".cg-banner" in response.content
    assert missing.status_code == 404


async def test_assets_are_served_minified() -> None:
    source = (Path(__file__).resolve().parents[1] / "static" / "consentgate.js").read_text()
    async with client_for(make_app()) as client:
        page = (await client.get("/page")).text
        start = page.index('src="/_consent/static/consentgate.') + len('src="')
        served = (await client.get(page[start : page.index('"', start)])).text
    assert "// " in source and "// " not in served
    assert len(served) < 0.8 * len(source)
    assert "window.consentgate" in served


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/_consent", 405),
        ("POST", "/_consent/preferences", 405),
        ("GET", "/_consent/nothing-here", 404),
        ("PUT", "/_consent/me", 405),
    ],
)
async def test_other_routes_and_methods(method: str, path: str, status: int) -> None:
    async with client_for(make_app()) as client:
        response = await client.request(method, path)
    assert response.status_code == status


async def test_prefix_is_configurable() -> None:
    async with client_for(make_app(make_config(prefix="/privacy/consent"))) as client:
        page = (await client.get("/page")).text
        form = await client.get("/privacy/consent/preferences")
    assert 'action="/privacy/consent"' in page
    assert form.status_code == 200


async def test_a_host_prefixed_consent_cookie_is_set_as_its_prefix_requires() -> None:
    app = make_app(make_config(cookie_name="__Host-consentgate"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        form = await client.get("/_consent/preferences")
        response = await client.post(
            "/_consent",
            data={"action": "reject_all", "csrf_token": csrf_token(form.text)},
            headers={"origin": "https://testserver"},
        )
        after = await client.get("/page")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-consentgate=")
    assert "; Secure" in cookie and "; Path=/;" in cookie and "Domain" not in cookie
    assert "consentgate-banner" not in after.text


async def test_a_host_prefixed_cookie_is_secure_even_over_plain_http() -> None:
    """Behind a proxy that does not say it was https: the browser still needs Secure."""
    app = make_app(make_config(cookie_name="__Host-consentgate"))
    async with client_for(app) as client:
        response = await choose(client, "reject_all")
    assert "; Secure" in response.headers["set-cookie"]


async def test_consentgates_own_pages_may_only_be_framed_by_the_site() -> None:
    async with client_for(make_app()) as client:
        preferences = await client.get("/_consent/preferences")
        refused = await client.post(
            "/_consent", data={"action": "accept_all"}, headers={"origin": BASE_URL}
        )
        bad = await post_choice(client, {"action": "frobnicate"})
    for response in (preferences, refused, bad):
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert (refused.status_code, bad.status_code) == (403, 400)
