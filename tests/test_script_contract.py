"""What the server tells consentgate.js: the script tag, the granted categories of a page,
and the JSON answer to a choice (which providers to start, whether to reload, the Google
Consent Mode update, the settings link)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentState
from consentgate._render import consent_mode
from consentgate.providers import Buffer, GoogleAnalytics, Provider, SiteKit

from .helpers import (
    BASE_URL,
    PAGE,
    RecordingLog,
    build,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
)

pytestmark = pytest.mark.anyio

JSON = {"accept": "application/json"}


async def choose_in_background(
    client: httpx.AsyncClient, action: str, categories: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What consentgate.js does: post the banner's form fields, asking for JSON."""
    page = (await client.get("/page")).text
    token = csrf_token(page) if "consentgate-banner" in page else None
    if token is None:
        token = csrf_token((await client.get("/_consent/preferences")).text)
    response = await client.post(
        "/_consent",
        data={
            "action": action,
            "categories": list(categories),
            "csrf_token": token,
            "next": "/page?x=1",
            "source": "banner",
            "lang": "en",
        },
        headers={"origin": BASE_URL, **JSON},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def test_pages_load_the_script_beside_the_stylesheet() -> None:
    async with client_for(make_app()) as client:
        banner_page = (await client.get("/page")).text
        preferences = (await client.get("/_consent/preferences")).text
        await choose(client, "reject_all")
        chosen_page = (await client.get("/page")).text
        match = re.search(
            r'<script src="(/_consent/static/consentgate\.\w+\.js)" defer>', chosen_page
        )
        assert match is not None
        script = await client.get(match[1])
    for html in (banner_page, preferences, chosen_page):
        assert f'<script src="{match[1]}" defer></script>' in html
        head = html[: html.index("</head>")]
        assert head.index("consentgate.") < head.index(match[1])
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert b"consentgate:change" in script.content


async def test_a_page_names_the_granted_categories_for_the_script() -> None:
    async with client_for(make_app()) as client:
        banner_page = (await client.get("/page")).text
        await choose(client, "save", ["statistics", "marketing"])
        chosen = (await client.get("/page")).text
        await choose(client, "reject_all")
        rejected = (await client.get("/page")).text
    assert "consentgate-granted" not in banner_page
    head = chosen[: chosen.index("</head>")]
    assert '<meta name="consentgate-granted" content="marketing statistics">' in head
    assert '<meta name="consentgate-granted" content="">' in rejected


async def test_without_the_settings_link_the_page_api_stays() -> None:
    async with client_for(make_app(make_config(show_settings_link=False))) as client:
        await choose(client, "accept_all")
        html = (await client.get("/page")).text
    head = html[: html.index("</head>")]
    assert '<meta name="consentgate-granted" content="marketing statistics">' in head
    assert re.search(r'<script src="/_consent/static/consentgate\.[0-9a-f]+\.js" defer>', head)
    assert "consentgate-settings" not in html


async def test_first_choice_starts_every_granted_provider() -> None:
    async with client_for(make_app()) as client:
        body = await choose_in_background(client, "accept_all")
    head, page_body = body["snippets"]["head"], body["snippets"]["body"]
    assert head.count('"default"') == 1  # the Consent Mode prelude, once
    assert head.index('"default"') < head.index("gtag/js?id=G-TEST123456")
    assert "gtag/js?id=G-SITEKIT123" in head
    assert "stats.wp.com/e-" in page_body
    assert "bufferapp.com" in head + page_body
    assert body["reload"] is False
    assert body["granted"] == ["marketing", "statistics"]
    assert body["consent_mode"]["analytics_storage"] == "granted"
    assert body["consent_mode"]["ad_storage"] == "granted"
    assert 'id="consentgate-settings"' in body["settings_link"]
    assert "next=%2Fpage%3Fx%3D1" in body["settings_link"]


async def test_a_refusal_starts_nothing() -> None:
    async with client_for(make_app()) as client:
        body = await choose_in_background(client, "reject_all")
    assert body["snippets"] == {"head": "", "body": ""}
    assert body["reload"] is False
    assert set(body["consent_mode"].values()) == {"denied", "granted"}
    assert body["consent_mode"]["security_storage"] == "granted"
    assert body["consent_mode"]["analytics_storage"] == "denied"


async def test_a_second_grant_starts_only_what_was_not_running() -> None:
    async with client_for(make_app()) as client:
        await choose_in_background(client, "save", ("statistics",))
        body = await choose_in_background(client, "accept_all")
    head, page_body = body["snippets"]["head"], body["snippets"]["body"]
    # Google's tags and the Consent Mode prelude are on the page already; Buffer is new.
    assert "googletagmanager" not in head and '"default"' not in head
    assert "stats.wp.com" not in page_body
    assert "bufferapp.com" in head + page_body
    assert body["consent_mode"]["ad_storage"] == "granted"
    assert body["reload"] is False


async def test_withdrawing_a_provider_that_cannot_be_stopped_asks_for_a_reload() -> None:
    async with client_for(make_app()) as client:
        await choose_in_background(client, "accept_all")
        body = await choose_in_background(client, "save", ("statistics",))
    assert body["reload"] is True  # Buffer's script cannot be taken back
    assert body["snippets"] == {"head": "", "body": ""}


async def test_withdrawing_google_only_is_a_consent_mode_update_without_reload() -> None:
    config = make_config(providers=[GoogleAnalytics("G-TEST123456"), SiteKit("G-SITEKIT123")])
    async with client_for(make_app(config)) as client:
        await choose_in_background(client, "accept_all")
        body = await choose_in_background(client, "reject_all")
    assert body["reload"] is False
    assert body["consent_mode"]["analytics_storage"] == "denied"


async def test_no_google_provider_means_no_consent_mode() -> None:
    async with client_for(make_app(make_config(providers=[Buffer()]))) as client:
        body = await choose_in_background(client, "accept_all")
    assert body["consent_mode"] is None


async def test_no_settings_link_in_the_answer_when_turned_off() -> None:
    async with client_for(make_app(make_config(show_settings_link=False))) as client:
        body = await choose_in_background(client, "reject_all")
    assert body["settings_link"] is None


async def test_a_failed_log_write_answers_an_error_and_starts_nothing() -> None:

    log = RecordingLog()
    log.failing = True
    async with client_for(make_app(make_config(store=log))) as client:
        token = csrf_token((await client.get("/page")).text)
        response = await client.post(
            "/_consent",
            data={"action": "accept_all", "csrf_token": token},
            headers={"origin": BASE_URL, **JSON},
        )
    assert response.status_code == 503
    assert set(response.json()) == {"error"}


def test_necessary_providers_start_with_the_first_choice_only() -> None:
    necessary = Provider(
        name="uptime", title="Uptime", category="necessary", head="<script src='/up.js'></script>"
    )
    renderer = build(make_config(providers=[necessary, Buffer()]))
    rejected = ConsentState(consent_id="x")
    first = renderer.started(ConsentState(), rejected, "202648", "example.com")
    later = renderer.started(
        rejected, ConsentState(consent_id="x", granted=frozenset({"marketing"})), "202648", "h"
    )
    assert "/up.js" in first[0]
    assert "/up.js" not in later[0] and "bufferapp" in later[0] + later[1]
    assert renderer.needs_reload(ConsentState(), rejected) is False


@pytest.mark.parametrize(
    "granted",
    # Google's tag runs only with statistics; the other types vary beside it.
    [{"statistics"}, {"statistics", "marketing"}, {"statistics", "preferences"}],
)
def test_consent_mode_matches_the_prelude_template(granted: set[str]) -> None:
    renderer = build(make_config(providers=[GoogleAnalytics("G-TEST123456")]))
    head, _ = renderer.snippets(frozenset(granted), frozenset(), "202648", "example.com")
    update = re.search(r'gtag\("consent", "update", (\{.*?\})\);', head, re.S)
    assert update is not None
    assert json.loads(update[1]) == consent_mode(frozenset(granted))


async def test_started_snippets_carry_no_nonce_placeholder() -> None:
    async with client_for(make_app()) as client:
        body = await choose_in_background(client, "accept_all")
    for html in body["snippets"].values():
        assert "nonce" not in html and "\x01" not in html


async def test_the_script_tag_gets_the_page_nonce() -> None:
    async def page_with_csp(request: Request) -> Response:
        policy = "script-src 'nonce-abc123'; style-src 'self' 'nonce-abc123'"
        return HTMLResponse(PAGE, headers={"content-security-policy": policy})

    app = make_app(routes=[Route("/page", page_with_csp)])
    async with client_for(app) as client:
        html = (await client.get("/page")).text
    assert re.search(
        r'<script src="/_consent/static/consentgate\.\w+\.js" defer nonce="abc123">', html
    )
