"""Per-provider consent over HTTP: allowing one provider, saving providers, and what follows.

A visitor can allow one provider (a click-to-load embed) without answering the
banner; what is injected and which cookies pass then follow that provider.
"""

from __future__ import annotations

import re
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConfigurationError
from consentgate._csrf import CsrfTokens
from consentgate._outbox import Outbox
from consentgate.providers import DeclaredCookie, Provider

from .helpers import (
    BASE_URL,
    PAGE,
    SECRET,
    RecordingLog,
    all_providers,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
    site_routes,
)

pytestmark = pytest.mark.anyio

VIDEO_SCRIPT = "https://video.example/player.js"
#: An embed's provider: in marketing, with a snippet and a cookie of its own.
VIDEO = Provider(
    name="video-host",
    title="Video Host",
    category="marketing",
    body=f'<script src="{VIDEO_SCRIPT}"></script>',
    cookies=(DeclaredCookie(name="vh_id", purpose="Player", expiry="1 year", party="third"),),
)
MAPS = Provider(name="map-host", title="Map Host", category="preferences", body="<i>maps</i>")


async def set_video_cookie(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("vh_id", "v1")
    response.set_cookie("_ga", "GA1.1.123.456")
    return response


def app_with(log: RecordingLog | None = None, **overrides: Any) -> Any:
    config = make_config(
        providers=[*all_providers(), VIDEO, MAPS], store=log or RecordingLog(), **overrides
    )
    return make_app(config, [*site_routes(), Route("/video-cookie", set_video_cookie)])


async def post(
    client: httpx.AsyncClient,
    action: str,
    *,
    providers: list[str] = (),  # type: ignore[assignment]
    categories: list[str] = (),  # type: ignore[assignment]
    source: str = "embed",
    next_path: str = "/page",
    json: bool = False,
) -> httpx.Response:
    """Post what a placeholder's or a banner's form posts, without JavaScript by default."""
    token = csrf_token((await client.get("/_consent/preferences")).text)
    headers = {"origin": BASE_URL}
    if json:
        headers["accept"] = "application/json"
    fields = {
        "action": action,
        "providers": list(providers),
        "categories": list(categories),
        "csrf_token": token,
        "next": next_path,
        "source": source,
    }
    return await client.post("/_consent", data=fields, headers=headers)


async def me(client: httpx.AsyncClient) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get("/_consent/me")).json()
    return state


# -- allow ------------------------------------------------------------------------------


async def test_allowing_one_provider_returns_to_the_same_place_and_answers_nothing() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        response = await post(
            client, "allow", providers=["video-host"], next_path="/page?x=1#video-2"
        )
        state = await me(client)
        page = (await client.get("/page")).text
    assert response.status_code == 303
    assert response.headers["location"] == "/page?x=1#video-2"
    assert state["has_choice"] is False
    assert state["consent_id"] is not None
    assert state["providers"] == ["video-host"] and state["granted"] == []
    assert "video-host" in state["allowed_providers"]
    assert "google-analytics" not in state["allowed_providers"]
    # The banner stays until the visitor answers it; the allowed embed runs beside it.
    assert "consentgate-banner" in page
    assert VIDEO_SCRIPT in page
    assert "googletagmanager" not in page and "<i>maps</i>" not in page
    [record] = log.records
    assert (record.action, record.source) == ("allow", "embed")
    assert record.providers == ("video-host",)
    assert record.granted == () and record.refused == ()
    assert record.consent_id == state["consent_id"]


async def test_allow_adds_to_what_was_allowed_and_changes_nothing_else() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await choose(client, "save", ["statistics"])
        decided = await me(client)
        await post(client, "allow", providers=["video-host"])
        await post(client, "allow", providers=["map-host", "video-host"])
        state = await me(client)
        page = (await client.get("/page")).text
    assert state["has_choice"] is True
    assert state["granted"] == ["statistics"]
    assert state["providers"] == ["map-host", "video-host"]
    # Allowing an embed does not extend the lifetime of the choice made before.
    assert state["decided_at"] == decided["decided_at"]
    assert "consentgate-banner" not in page
    assert VIDEO_SCRIPT in page and "<i>maps</i>" in page and "googletagmanager" in page
    assert [r.action for r in log.records] == ["grant", "allow", "allow"]
    last = log.records[-1]
    assert last.granted == ("statistics",) and last.refused == ("marketing", "preferences")
    assert last.providers == ("map-host", "video-host")


async def test_several_providers_in_one_post() -> None:
    async with client_for(app_with()) as client:
        await post(client, "allow", providers=["video-host", "map-host"])
        assert (await me(client))["providers"] == ["map-host", "video-host"]


@pytest.mark.parametrize(
    "providers",
    [[], ["no-such-provider"], ["consentgate"], ["necessary"], ["marketing"]],
)
async def test_an_allow_naming_no_provider_to_allow_is_a_bad_request(
    providers: list[str],
) -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        response = await post(client, "allow", providers=providers)
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert log.records == []


async def test_unknown_and_always_on_providers_are_ignored_beside_known_ones() -> None:
    necessary = Provider(name="uptime", title="Uptime", category="necessary")
    log = RecordingLog()
    app = make_app(make_config(providers=[VIDEO, necessary], store=log))
    async with client_for(app) as client:
        response = await post(client, "allow", providers=["bogus", "uptime", "video-host"])
        state = await me(client)
    assert response.status_code == 303
    assert state["providers"] == ["video-host"]
    assert log.records[0].providers == ("video-host",)
    assert "uptime" in state["allowed_providers"]  # necessary: always


async def test_a_provider_whose_category_is_granted_needs_no_entry_of_its_own() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await choose(client, "accept_all")
        await post(client, "allow", providers=["video-host"])
        state = await me(client)
    assert state["providers"] == []
    assert "video-host" in state["allowed_providers"]
    assert log.records[-1].action == "allow"


# -- answering the banner after allowing ---------------------------------------------------


async def test_accepting_after_an_allow_is_the_first_answer() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await post(client, "allow", providers=["video-host"])
        allowed = await me(client)
        await choose(client, "accept_all")
        state = await me(client)
        page = (await client.get("/page")).text
    assert [r.action for r in log.records] == ["allow", "grant"]
    assert state["consent_id"] == allowed["consent_id"]
    assert state["has_choice"] is True and state["providers"] == []
    assert "video-host" in state["allowed_providers"]
    assert "consentgate-banner" not in page and VIDEO_SCRIPT in page


async def test_rejecting_all_after_an_allow_withdraws_it_and_expires_its_cookies() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await post(client, "allow", providers=["video-host"])
        client.cookies.set("vh_id", "v1")
        response = await choose(client, "reject_all")
        state = await me(client)
        page = (await client.get("/page")).text
    assert [r.action for r in log.records] == ["allow", "withdraw"]
    assert log.records[-1].providers == ()
    assert state["has_choice"] is True and state["providers"] == []
    assert any(h.startswith("vh_id=;") for h in response.headers.get_list("set-cookie"))
    assert VIDEO_SCRIPT not in page


async def test_save_takes_providers_beside_categories() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await post(
            client,
            "save",
            categories=["statistics"],
            # google-analytics is covered by statistics; bogus is unknown: neither is kept.
            providers=["video-host", "google-analytics", "bogus"],
            source="preferences",
        )
        state = await me(client)
        page = (await client.get("/page")).text
    assert state["has_choice"] is True
    assert state["granted"] == ["statistics"] and state["providers"] == ["video-host"]
    [record] = log.records
    assert record.action == "grant" and record.source == "preferences"
    assert record.granted == ("statistics",) and record.providers == ("video-host",)
    assert record.refused == ("marketing", "preferences")
    assert VIDEO_SCRIPT in page and "googletagmanager" in page and "<i>maps</i>" not in page


async def test_save_without_a_provider_withdraws_those_allowed_before() -> None:
    """Save is the whole answer as the form shows it: what it does not name is off."""
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await choose(client, "save", ["statistics"])
        await post(client, "allow", providers=["video-host"])
        await post(client, "save", categories=["statistics"], source="preferences")
        state = await me(client)
    assert [r.action for r in log.records] == ["grant", "allow", "withdraw"]
    assert state["providers"] == []


async def test_a_json_body_allows_providers_too() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        token = csrf_token((await client.get("/_consent/preferences")).text)
        response = await client.post(
            "/_consent",
            json={"action": "allow", "providers": ["video-host"], "csrf_token": token},
            headers={"origin": BASE_URL, "accept": "application/json"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["providers"] == ["video-host"] and body["has_choice"] is False
    assert VIDEO_SCRIPT in body["snippets"]["body"]
    assert body["reload"] is False
    assert log.records[0].source == "api" and log.records[0].action == "allow"


@pytest.mark.parametrize(
    "content",
    [
        b'{"action": "allow", "providers": "video-host"}',
        b'{"action": "allow", "providers": [1]}',
        b'{"action": "save", "providers": [["video-host"]]}',
        b'{"action": "allow", "providers": null}',
    ],
)
async def test_malformed_providers_in_json_are_a_bad_request(content: bytes) -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        response = await client.post(
            "/_consent",
            content=content,
            headers={"content-type": "application/json", "origin": BASE_URL},
        )
    assert response.status_code == 400
    assert log.records == []


# -- the page update the script gets -------------------------------------------------------


async def test_the_page_update_starts_an_allowed_provider_once() -> None:
    async with client_for(app_with()) as client:
        allowed = (await post(client, "allow", providers=["video-host"], json=True)).json()
        accepted = (await post(client, "accept_all", source="banner", json=True)).json()
        rejected = (await post(client, "reject_all", source="banner", json=True)).json()
    assert VIDEO_SCRIPT in allowed["snippets"]["body"]
    assert "googletagmanager" not in allowed["snippets"]["head"]
    # The page already runs the video: accepting starts the rest, not the video again.
    assert VIDEO_SCRIPT not in accepted["snippets"]["body"]
    assert "googletagmanager" in accepted["snippets"]["head"]
    # A withdrawn script-based provider only stops with a reload.
    assert rejected["reload"] is True


async def test_a_withdrawn_provider_allowed_on_its_own_needs_a_reload() -> None:
    async with client_for(app_with()) as client:
        await choose(client, "reject_all")
        await post(client, "allow", providers=["video-host"])
        update = (await post(client, "save", source="preferences", json=True)).json()
    assert update["reload"] is True


# -- cookies follow the provider -----------------------------------------------------------


async def test_an_allowed_providers_cookies_pass_and_others_stay_blocked() -> None:
    async with client_for(app_with()) as client:
        before = (await client.get("/video-cookie")).headers.get_list("set-cookie")
        await post(client, "allow", providers=["video-host"])
        after = (await client.get("/video-cookie")).headers.get_list("set-cookie")
    assert not any(h.startswith("vh_id=v1") for h in before)
    assert any(h.startswith("vh_id=v1") for h in after)
    assert not any(h.startswith("_ga=") for h in before + after)


async def test_cookies_of_a_provider_not_allowed_are_expired_on_the_page() -> None:
    async with client_for(app_with()) as client:
        await post(client, "allow", providers=["map-host"])
        client.cookies.set("vh_id", "v1")
        response = await client.get("/page")
    assert any(h.startswith("vh_id=;") for h in response.headers.get_list("set-cookie"))


# -- when the log cannot be written --------------------------------------------------------


async def test_an_allow_that_cannot_be_logged_is_not_applied() -> None:
    log = RecordingLog()
    log.failing = True
    async with client_for(app_with(log)) as client:
        response = await post(client, "allow", providers=["video-host"])
        page = (await client.get("/page")).text
    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert VIDEO_SCRIPT not in page


async def test_when_the_log_fails_a_withdrawn_provider_stays_withdrawn() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await post(client, "allow", providers=["video-host"])
        log.failing = True
        # Grants statistics (needs proof) and withdraws the video (honoured anyway).
        response = await post(client, "save", categories=["statistics"], source="preferences")
        state = await me(client)
    assert response.status_code == 503
    assert state["providers"] == [] and state["granted"] == []
    assert state["has_choice"] is False  # the answer itself was not recorded


async def test_a_withdrawn_provider_is_kept_in_the_outbox_and_recorded_later(
    tmp_path: Path,
) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(app_with(log, outbox=path)) as client:
        await choose(client, "save", ["statistics"])
        await post(client, "allow", providers=["video-host", "map-host"])
        log.failing = True
        # Grants marketing (refused: no proof), takes the map off (honoured, queued).
        response = await post(
            client, "save", categories=["statistics", "marketing"], providers=["video-host"]
        )
        state = await me(client)
        log.failing = False
        assert await Outbox(log, path).replay() == 1
    assert response.status_code == 503
    assert state["granted"] == ["statistics"] and state["providers"] == ["video-host"]
    withdrawal = log.records[-1]
    assert withdrawal.action == "withdraw"
    assert withdrawal.granted == ("statistics",) and withdrawal.providers == ("video-host",)
    assert withdrawal.refused == ("marketing", "preferences")


async def test_allowing_a_provider_waits_for_the_log_and_is_not_queued(tmp_path: Path) -> None:
    log = RecordingLog()
    path = tmp_path / "outbox"
    async with client_for(app_with(log, outbox=path)) as client:
        log.failing = True
        response = await post(client, "allow", providers=["video-host"])
    assert response.status_code == 503
    assert not Outbox(log, path).pending()


async def test_an_embed_form_that_expired_is_offered_again_naming_its_provider() -> None:
    """A placeholder left open in a tab for days: one click allows what it would have."""
    log = RecordingLog()
    stale = CsrfTokens((SECRET,), 2 * 86400, clock=lambda: time.time() - 3 * 86400).issue()
    fields = [
        ("csrf_token", stale),
        ("action", "allow"),
        ("providers", "video-host"),
        ("source", "embed"),
        ("next", "/page#video-2"),
        ("lang", "da"),
    ]
    async with client_for(app_with(log)) as client:
        refused = await client.post(
            "/_consent",
            content=urlencode(fields),
            headers={"origin": BASE_URL, "content-type": "application/x-www-form-urlencoded"},
        )
        form = refused.text.split('class="cg-confirm-form"', 1)[1]
        again = [(k, unescape(v)) for k, v in re.findall(r'name="([^"]*)" value="([^"]*)"', form)]
        response = await client.post(
            "/_consent",
            content=urlencode(again),
            headers={"origin": BASE_URL, "content-type": "application/x-www-form-urlencoded"},
        )
    assert refused.status_code == 403
    assert "<li>Video Host</li>" in refused.text
    assert (
        '<button type="submit" class="cg-button" name="action" value="allow">Tillad</button>'
        in (refused.text)
    )
    assert response.status_code == 303 and response.headers["location"] == "/page#video-2"
    [record] = log.records
    assert (record.action, record.source, record.providers) == ("allow", "embed", ("video-host",))


# -- configuration -------------------------------------------------------------------------


def test_one_provider_name_in_two_categories_is_a_configuration_error() -> None:
    other = Provider(name="video-host", title="Video Host ads", category="statistics")
    with pytest.raises(ConfigurationError, match=r"providers\[1\]\.category"):
        make_config(providers=[VIDEO, other])


# -- Google Consent Mode -------------------------------------------------------------------


async def test_a_google_provider_allowed_on_its_own_gets_its_storage_granted() -> None:
    """Allowed, Google Analytics runs as with statistics granted, not in cookieless pings."""
    async with client_for(app_with()) as client:
        update = (await post(client, "allow", providers=["google-analytics"], json=True)).json()
        page = (await client.get("/page")).text
    assert update["consent_mode"]["analytics_storage"] == "granted"
    assert update["consent_mode"]["ad_storage"] == "denied"
    assert "G-TEST123456" in update["snippets"]["head"]
    assert "G-SITEKIT123" not in update["snippets"]["head"]  # the other statistics tag
    assert '"analytics_storage": "granted"' in page
    assert '"ad_storage": "denied"' in page


# -- the preference centre -----------------------------------------------------------------


def current_choice(html: str) -> str:
    return html.split('class="cg-current"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Besides the necessary cookies, you have allowed: Map Host, Video Host."),
        ("da", "Ud over de nødvendige cookies har du tilladt: Map Host, Video Host."),
        ("de", "Neben den notwendigen Cookies haben Sie erlaubt: Map Host, Video Host."),
    ],
)
async def test_the_preference_centre_says_what_was_allowed_before_a_choice(
    language: str, said: str
) -> None:
    """Not "only necessary cookies are used": the embeds allowed are named."""
    headers = {"accept-language": language}
    async with client_for(app_with()) as client:
        before = current_choice((await client.get("/_consent/preferences", headers=headers)).text)
        await post(client, "allow", providers=["video-host", "map-host"])
        after = current_choice((await client.get("/_consent/preferences", headers=headers)).text)
    assert said not in before
    assert said in after
