"""Click-to-load placeholders, as the server renders them in place of blocked embeds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate.providers import GoogleMaps, YouTube

from .helpers import client_for, make_app, make_config
from .tracker_corpus import GOOGLE_MAPS, VIMEO, YOUTUBE, page_with

pytestmark = pytest.mark.anyio

TWO_VIDEOS = page_with(YOUTUBE, GOOGLE_MAPS, VIMEO).replace(
    "<h1>",
    '<iframe id="intro" src="https://www.youtube.com/embed/abc" width="640" '
    'height="360" class="wide" style="margin:0"></iframe><h1>',
)


def app_for(html: str, **overrides: Any) -> Any:
    async def page(request: Request) -> Response:
        headers = {}
        if request.query_params.get("csp"):
            headers["content-security-policy"] = (
                "script-src 'nonce-abc123'; style-src 'nonce-def456'"
            )
        return HTMLResponse(html, headers=headers)

    config = make_config(providers=[YouTube(), GoogleMaps()], **overrides)
    return make_app(config, [Route("/page", page)])


async def get(html: str, url: str = "/page?x=1", **headers: str) -> str:
    async with client_for(app_for(html)) as client:
        return (await client.get(url, headers=headers)).text


def boxes(page: str) -> list[str]:
    return re.findall(r'<div class="cg-embed.*?</div></div>', page, flags=re.S)


async def test_each_blocked_embed_gets_a_placeholder_before_it() -> None:
    page = await get(TWO_VIDEOS)
    found = boxes(page)
    assert [re.search(r'data-consent-embed="([^"]+)"', b)[1] for b in found] == [  # type: ignore[index]
        "youtube",
        "youtube",
        "google-maps",
        "vimeo",
    ]
    for box in found:
        assert box + "<iframe" in page


async def test_the_form_allows_that_provider_and_comes_back_to_the_embed() -> None:
    page = await get(TWO_VIDEOS)
    first, second = boxes(page)[:2]
    for field, value in (
        ("action", "allow"),
        ("providers", "youtube"),
        ("source", "embed"),
        ("lang", "en"),
    ):
        assert f'name="{field}" value="{value}"' in first
    # Back to the iframe's own id, which it keeps once allowed; else to the placeholder.
    assert 'name="next" value="/page?x=1#intro"' in first
    assert 'name="next" value="/page?x=1#consentgate-embed-2"' in second
    assert re.search(r'name="csrf_token" value="[^"]+"', first)


async def test_the_placeholder_takes_the_embeds_size_class_and_style() -> None:
    first, second, maps, vimeo = boxes(await get(TWO_VIDEOS))
    assert first.startswith('<div class="cg-embed wide" id="consentgate-embed-1"')
    assert 'style="margin:0"' in first
    assert '<canvas class="cg-embed-size" width="640" height="360"' in first
    assert 'width="560" height="315"' in second
    assert 'width="600" height="450"' in maps
    # No size of its own: the kind's usual one, and the embed's style.
    assert 'width="560" height="315"' in vimeo and "position:absolute" in vimeo


async def test_buttons_name_the_content_and_the_provider() -> None:
    first, second, maps, _ = boxes(await get(TWO_VIDEOS))
    assert 'aria-label="Load video: YouTube">Load video</button>' in first
    assert 'aria-label="Load video: YouTube video player">Load video</button>' in second
    assert "Show map" in maps
    assert ">Always allow YouTube</button>" in first
    assert 'href="https://policies.google.com/privacy"' in first


async def test_texts_in_the_visitors_language() -> None:
    (first, *_) = boxes(await get(TWO_VIDEOS, **{"accept-language": "da"}))
    assert "Indlæs video" in first and "Tillad altid YouTube" in first
    assert 'lang="da"' in first


async def test_the_placeholder_assets_come_once_with_the_pages_nonce() -> None:
    page = await get(TWO_VIDEOS, "/page?csp=1")
    assert page.count("consentgate-embed.") == 2  # one stylesheet, one script
    assert re.search(r'consentgate-embed\.\w+\.css" nonce="def456"', page)
    assert re.search(r'consentgate-embed\.\w+\.js" defer nonce="abc123"', page)
    plain = await get(TWO_VIDEOS)
    assert "nonce" not in plain.split("<h1>")[1]


async def test_a_page_without_embeds_loads_no_placeholder_assets() -> None:
    assert "consentgate-embed" not in await get(page_with())


async def test_the_placeholder_assets_are_served() -> None:
    async with client_for(app_for(TWO_VIDEOS)) as client:
        page = (await client.get("/page")).text
        for url in re.findall(r'(?:href|src)="(/_consent/static/consentgate-embed[^"]+)"', page):
            response = await client.get(url)
            assert response.status_code == 200 and response.content


async def test_only_a_declared_provider_can_be_allowed_from_its_placeholder() -> None:
    # Vimeo is in the registry but not declared: the visitor was never told about it, so
    # the placeholder offers its category in the settings rather than an allow of its own.
    _, _, maps, vimeo = boxes(await get(TWO_VIDEOS, **{"accept-language": "da"}))
    assert 'name="providers" value="google-maps"' in maps and "cg-embed-settings" not in maps
    assert "<form" not in vimeo and "<button" not in vimeo
    link = re.search(r'<a class="cg-embed-settings" href="([^"]+)">([^<]+)</a>', vimeo)
    assert link is not None
    assert link[1] == "/_consent/preferences?next=%2Fpage%3Fx%3D1%23consentgate-embed-4"
    assert link[2] == "Tillad »Markedsføring« i cookie-indstillingerne"
    assert "Dette indhold leveres af Vimeo." in vimeo


async def test_an_undeclared_embed_whose_category_is_not_offered_gets_no_settings_link() -> None:
    # No declared provider in marketing: the settings do not offer it, so no link there.
    async def page(request: Request) -> Response:
        return HTMLResponse(page_with(VIMEO))

    app = make_app(make_config(providers=[]), [Route("/page", page)])
    async with client_for(app) as client:
        (vimeo,) = boxes((await client.get("/page")).text)
    assert 'data-consent-embed="vimeo"' in vimeo
    assert "<form" not in vimeo and "cg-embed-settings" not in vimeo
