"""Category revisions: a grant covers what the visitor was shown, and lapses when that changes.

A visitor grants statistics while only Google Analytics is configured; the site
adds Jetpack Stats to statistics without bumping ``policy_version``. The grant
lapses (asked again, on a banner saying what changed), the other categories keep
their state, and refusals never lapse this way.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate._cookie import SALT
from consentgate._locales import available_languages, builtin_texts
from consentgate._provider_table import ProviderTable
from consentgate._revisions import short
from consentgate.log._texts import KeptTexts
from consentgate.providers import Buffer, DeclaredCookie, GoogleAnalytics, JetpackStats, Provider

from .helpers import (
    BASE_URL,
    PAGE,
    SECRET,
    RecordingLog,
    TextsLog,
    build,
    client_for,
    csrf_token,
    make_app,
    make_config,
    site_routes,
)
from .servers import Lifespan

pytestmark = pytest.mark.anyio

GA = "googletagmanager.com/gtag/js?id=G-TEST123456"
JETPACK = "stats.wp.com"
BUFFER = "static.bufferapp.com/js/button.js"
VIDEO = Provider(
    name="video-host",
    title="Video Host",
    category="marketing",
    body='<script src="https://video.example/player.js"></script>',
    cookies=(DeclaredCookie(name="vh_id", purpose="Player", expiry="1 year", party="third"),),
)


def before() -> list[Any]:
    """The site as the visitor first saw it: statistics is Google Analytics alone."""
    return [GoogleAnalytics("G-TEST123456"), Buffer(), VIDEO]


def after() -> list[Any]:
    """The next deployment: Jetpack Stats joins statistics, same policy_version."""
    return [*before(), JetpackStats(blog_id=4242)]


def app(providers: list[Any], log: RecordingLog | None = None, **overrides: Any) -> Any:
    return make_app(make_config(providers=providers, store=log or RecordingLog(), **overrides))


def renderer(providers: list[Any], **overrides: Any) -> Any:
    return build(make_config(providers=providers, **overrides))


async def post(client: httpx.AsyncClient, action: str, **fields: Any) -> httpx.Response:
    token = csrf_token((await client.get("/_consent/preferences")).text)
    data = {"action": action, "csrf_token": token, "next": "/page", **fields}
    return await client.post("/_consent", data=data, headers={"origin": BASE_URL})


async def me(client: httpx.AsyncClient) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get("/_consent/me")).json()
    return result


async def chosen_before(action: str, **fields: Any) -> httpx.Cookies:
    """The consent cookie of a visitor who answered on the site as it was."""
    async with client_for(app(before())) as client:
        assert (await post(client, action, **fields)).status_code == 303
        return client.cookies


# -- the revisions -----------------------------------------------------------------


def test_a_provider_added_to_a_category_changes_that_category_only() -> None:
    old, new = renderer(before()).revisions, renderer(after()).revisions
    assert old.categories.keys() == {"statistics", "marketing"}
    assert old.categories["statistics"].revision != new.categories["statistics"].revision
    assert old.categories["marketing"] == new.categories["marketing"]
    assert old.providers["google-analytics"] == new.providers["google-analytics"]


def test_configuration_order_and_markup_change_nothing() -> None:
    old = renderer(before()).revisions
    assert renderer(list(reversed(before()))).revisions == old
    remarked = replace(VIDEO, body="<script src='https://video.example/v2.js'></script>")
    assert renderer([*before()[:2], remarked]).revisions == old


@pytest.mark.parametrize(
    "changed",
    [
        replace(VIDEO, title="Video Host Pro"),
        replace(VIDEO, privacy_policy_url="https://video.example/privacy"),
        replace(VIDEO, description={"en": "Plays videos.", "da": "Afspiller videoer."}),
        replace(VIDEO, cookies=(replace(VIDEO.cookies[0], expiry="2 years"),)),
        replace(VIDEO, cookies=(replace(VIDEO.cookies[0], processing_location="USA"),)),
    ],
)
def test_what_a_provider_discloses_is_part_of_its_revision_and_its_categorys(
    changed: Provider,
) -> None:
    old = renderer(before()).revisions
    new = renderer([*before()[:2], changed]).revisions
    assert old.providers["video-host"] != new.providers["video-host"]
    assert old.categories["marketing"].revision != new.categories["marketing"].revision
    assert old.categories["statistics"] == new.categories["statistics"]


def test_a_text_changed_in_one_language_only_changes_the_revision() -> None:
    """A Danish visitor consented to the Danish text: a change there is a change."""
    old = renderer(before()).revisions
    new = renderer(before(), texts={"da": {"categories.statistics.description": "Andet."}})
    assert new.revisions.categories["statistics"].revision != (
        old.categories["statistics"].revision
    )
    content = new.revisions.categories["statistics"].content
    assert content["da"]["description"] == "Andet."
    assert set(content) == set(available_languages())
    assert content["de"]["providers"][0]["name"] == "google-analytics"


# -- a lapsed grant ----------------------------------------------------------------


async def test_only_the_changed_category_lapses_and_is_asked_again() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after()), cookies=cookies) as client:
        state = await me(client)
        assert state["has_choice"] and state["granted"] == ["marketing"]
        assert state["lapsed"] == ["statistics"]
        assert "video-host" in state["allowed_providers"]
        assert "google-analytics" not in state["allowed_providers"]
        html = (await client.get("/page")).text
    # Asked again, about statistics alone, saying what it now holds.
    assert 'id="consentgate-banner"' in html
    assert "Something has changed since your choice" in html
    banner = html[html.index('id="consentgate-banner"') :]
    assert 'name="asked" value="statistics"' in banner
    assert 'name="categories" value="statistics"' in banner
    assert 'name="categories" value="marketing"' not in banner
    notice = banner[banner.index('class="cg-changed"') : banner.index("</ul>")]
    assert "Statistics" in notice and "Jetpack Stats" in notice and "Google Analytics" in notice
    # Meanwhile what is still granted runs; what lapsed does not.
    assert BUFFER in html and GA not in html and JETPACK not in html


async def test_the_same_site_asks_nothing_again() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(before()), cookies=cookies) as client:
        state = await me(client)
        html = (await client.get("/page")).text
    assert state["granted"] == ["marketing", "statistics"] and state["lapsed"] == []
    assert 'id="consentgate-banner"' not in html and GA in html


async def test_a_refusal_never_lapses() -> None:
    cookies = await chosen_before("save", categories=["marketing"])
    async with client_for(app(after()), cookies=cookies) as client:
        state = await me(client)
        html = (await client.get("/page")).text
    assert state["granted"] == ["marketing"] and state["lapsed"] == []
    assert 'id="consentgate-banner"' not in html and JETPACK not in html and GA not in html


async def test_a_lapsed_category_is_not_granted_to_the_cookie_firewall() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after()), cookies=cookies) as client:
        client.cookies.set("_ga", "GA1.1.1.1")
        response = await client.get("/page")
    expired = [h for h in response.headers.get_list("set-cookie") if h.startswith("_ga=")]
    assert expired and "Max-Age=0" in expired[0]


@pytest.mark.parametrize(
    ("action", "fields", "granted"),
    [
        ("reject_all", {}, ["marketing"]),
        ("accept_all", {}, ["marketing", "statistics"]),
        ("save", {"categories": ["statistics"]}, ["marketing", "statistics"]),
        ("save", {}, ["marketing"]),
    ],
)
async def test_the_answer_to_the_banner_asking_again_leaves_the_other_categories(
    action: str, fields: dict[str, Any], granted: list[str]
) -> None:
    cookies = await chosen_before("accept_all")
    log = RecordingLog()
    async with client_for(app(after(), log), cookies=cookies) as client:
        response = await post(client, action, asked=["statistics"], **fields)
        assert response.status_code == 303
        state = await me(client)
        html = (await client.get("/page")).text
    assert state["granted"] == granted and state["lapsed"] == []
    assert 'id="consentgate-banner"' not in html
    assert (JETPACK in html) is ("statistics" in granted)
    assert [r.granted for r in log.records] == [tuple(granted)]


async def test_a_policy_version_bump_still_asks_everything_again() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after(), policy_version="2027-01"), cookies=cookies) as client:
        state = await me(client)
        html = (await client.get("/page")).text
    assert not state["has_choice"] and state["granted"] == [] and state["lapsed"] == []
    assert "Your choice about cookies" in html and 'name="asked"' not in html


async def test_allowing_an_embed_keeps_the_question_open() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after()), cookies=cookies) as client:
        response = await post(client, "allow", providers=["jetpack-stats"], source="embed")
        assert response.status_code == 303
        state = await me(client)
    assert state["lapsed"] == ["statistics"] and state["providers"] == ["jetpack-stats"]


async def test_a_provider_allowed_on_its_own_outlives_a_change_of_its_category() -> None:
    """It was shown itself, on its placeholder: only a change of its own disclosure lapses it."""
    cookies = await chosen_before("allow", providers=["video-host"], source="embed")
    retold = {"en": {"categories.marketing.description": "Ads, and more."}}
    async with client_for(app(before(), texts=retold), cookies=cookies) as client:
        assert (await me(client))["providers"] == ["video-host"]
    renamed = [*before()[:2], replace(VIDEO, title="Video Host Pro")]
    async with client_for(app(renamed), cookies=cookies) as client:
        assert (await me(client))["providers"] == []


def signed(payload: list[Any]) -> str:
    return URLSafeSerializer(SECRET, salt=SALT).dumps(payload)


async def test_a_cookie_from_before_revisions_asks_again_for_its_grants_only() -> None:
    table = ProviderTable.of(after())
    legacy = [2, "legacy-id", ["marketing"], "2026-11", 1_800_000_000, 1, table.digest, 0]
    legacy[4] = int(__import__("time").time()) - 60
    async with client_for(app(after())) as client:
        client.cookies.set("consentgate", signed(legacy))
        state = await me(client)
        html = (await client.get("/page")).text
    assert state["consent_id"] == "legacy-id" and state["has_choice"]
    assert state["granted"] == [] and state["lapsed"] == ["marketing"]
    banner = html[html.index('id="consentgate-banner"') :]
    assert 'name="asked" value="marketing"' in banner and "Statistics" not in banner
    assert BUFFER not in html


@pytest.mark.parametrize("lang", available_languages())
async def test_the_banner_says_what_is_new_in_every_language(lang: str) -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after()), cookies=cookies) as client:
        html = (await client.get("/page", headers={"accept-language": lang})).text
    texts = builtin_texts(lang)
    for key in ("banner.changed_title", "banner.changed", "banner.changed_kept"):
        assert _escaped(texts[key]) in html, key
    assert len({builtin_texts(lang)["banner.changed"] for lang in available_languages()}) == 10


def _escaped(text: str) -> str:
    return re.sub("'", "&#39;", text.replace("&", "&amp;"))


def kept(providers: list[Any], **overrides: Any) -> list[KeptTexts]:
    """The texts table of a log that ran the site with ``providers``."""
    now = datetime.now(UTC)
    return [
        KeptTexts(
            fingerprint=t.fingerprint,
            kind=t.kind,
            name=t.name,
            language=t.language,
            content=t.content,
            first_seen=now,
            last_seen=now,
        )
        for t in renderer(providers, **overrides).shown_texts()
    ]


def test_the_texts_kept_are_what_the_revisions_and_fingerprints_digest() -> None:
    site = renderer(after())
    texts = kept(after())
    categories = {t.name: t.fingerprint for t in texts if t.kind == "category"}
    assert categories == {n: c.revision for n, c in site.revisions.categories.items()}
    pages = {(t.name, t.language, t.fingerprint) for t in texts if t.kind == "page"}
    # Each page as every visitor sees it, and as a browser sending GPC does (its notice).
    assert pages == {
        (source, lang, site.fingerprint(source, lang, gpc))
        for source, lang in site.fingerprints
        for gpc in (False, True)
    }
    assert len(pages) == 2 * len(site.fingerprints)
    assert all(t.intact for t in texts)


def test_with_the_old_texts_kept_the_banner_names_what_is_new_and_what_changed() -> None:
    old = renderer(before()).revisions.categories
    retitled = replace(VIDEO, title="Video Host Pro")
    site = renderer([*after()[:2], retitled, after()[3]])
    lapsed = (
        ("marketing", short(old["marketing"].revision)),
        ("statistics", short(old["statistics"].revision)),
    )
    unknown = site.banner_again("en", lapsed).html
    assert "New: " not in unknown and "Changed: " not in unknown
    site.remember(kept(before()))
    html = site.banner_again("en", lapsed).html
    assert "New: Jetpack Stats" in html and "Changed: Video Host Pro" in html
    assert "Google Analytics, Jetpack Stats. New: Jetpack Stats</li>" in html
    assert "Nyt: Jetpack Stats" in site.banner_again("da", lapsed).html


async def test_the_preference_centre_says_which_grant_lapsed() -> None:
    cookies = await chosen_before("accept_all")
    async with client_for(app(after()), cookies=cookies) as client:
        html = (await client.get("/_consent/preferences")).text
    statistics = html[html.index('id="cg-category-statistics"') :]
    marketing = html[html.index('id="cg-category-marketing"') :]
    assert "so your consent to it has lapsed" in statistics[: statistics.index("</h3>")]
    assert "so your consent to it has lapsed" not in marketing[: marketing.index("</h3>")]
    assert 'value="statistics" checked' not in html and 'value="marketing" checked' in html


async def test_start_up_warns_of_changed_revisions_and_the_banner_says_what_is_new(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = TextsLog()

    def changed() -> list[str]:
        return [r.getMessage() for r in caplog.records if "log last saw it" in r.getMessage()]

    first = app(before(), log)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        server = Lifespan(first)
        await server.startup()
        assert not changed()
        async with client_for(first) as client:
            assert (await post(client, "accept_all")).status_code == 303
            cookies = client.cookies
        await server.shutdown()
        second = app(after(), log)
        server = Lifespan(second)
        await server.startup()
    warnings = changed()
    # One line per changed category, saying what changed: statistics alone.
    assert len(warnings) == 1 and "'statistics'" in warnings[0], warnings
    jetpack = JetpackStats(blog_id=4242).name
    assert f"providers added: {jetpack}. Visitors who granted it" in warnings[0]
    async with client_for(second, cookies=cookies) as client:
        html = (await client.get("/page")).text
    await server.shutdown()
    assert "Google Analytics, Jetpack Stats. New: Jetpack Stats</li>" in html
    # Kept once each: the same site started again adds nothing and warns of nothing.
    caplog.clear()
    count = len(log.texts)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        server = Lifespan(app(after(), log))
        await server.startup()
        await server.shutdown()
    assert len(log.texts) == count and not changed()
    categories = {t.name for t in log.texts.values() if t.kind == "category"}
    assert categories == {"statistics", "marketing"}


async def test_an_answer_to_the_banner_asking_again_is_recorded_with_what_it_showed() -> None:
    cookies = await chosen_before("accept_all")
    log = TextsLog()
    async with client_for(app(after(), log), cookies=cookies) as client:
        assert (await post(client, "reject_all", asked=["statistics"])).status_code == 303
        assert (await post(client, "accept_all")).status_code == 303
    again, plain = log.records
    shown = log.texts[again.text_fingerprint]
    assert shown.kind == "page" and shown.language == "en" and shown.intact
    assert "Something has changed since your choice" in shown.content
    assert plain.text_fingerprint == renderer(after()).fingerprints["banner", "en"]
    assert plain.text_fingerprint in log.texts


async def test_the_apps_own_tracker_markup_is_blocked_while_its_category_lapsed() -> None:
    own = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-OWNMARKUP1"></script>'

    async def tagged(request: Request) -> Response:
        return HTMLResponse(PAGE.replace("</head>", own + "</head>"))

    def site(providers: list[Any]) -> Any:
        config = make_config(providers=providers, store=RecordingLog())
        return make_app(config, [*site_routes(), Route("/tagged", tagged)])

    async with client_for(site(before())) as client:
        assert (await post(client, "accept_all")).status_code == 303
        assert own in (await client.get("/tagged")).text
        cookies = client.cookies
    async with client_for(site(after()), cookies=cookies) as client:
        html = (await client.get("/tagged")).text
    assert 'id="consentgate-banner"' in html
    assert own not in html and "G-OWNMARKUP1" in html  # kept aside, inert


async def test_the_record_keeps_the_revision_of_each_granted_category() -> None:
    log = RecordingLog()
    async with client_for(app(after(), log)) as client:
        assert (await post(client, "save", categories=["statistics"])).status_code == 303
        assert (await post(client, "reject_all")).status_code == 303
    granted, rejected = log.records
    revision = renderer(after()).revisions.categories["statistics"].revision
    assert granted.revisions == (("statistics", revision),)
    assert rejected.revisions == ()


async def test_an_answer_to_the_banner_asking_again_with_gpc_leaves_out_what_it_refuses() -> None:
    """Main's GPC rule holds on the banner asking again: there Accept all grants the lapsed
    category unless the signal refuses it, and the banner says the signal is honoured."""
    cookies = await chosen_before("accept_all")
    log = RecordingLog()
    async with client_for(app(after(), log, gpc="all"), cookies=cookies) as client:
        html = (await client.get("/page", headers={"sec-gpc": "1"})).text
        assert "Something has changed since your choice" in html and 'class="cg-gpc"' in html
        answer = await post(client, "accept_all", asked=["statistics"], gpc="1")
        assert answer.status_code == 303
        state = await me(client)
    [again] = log.records
    # Statistics, asked about again, is left out; marketing, not asked about, stands.
    assert again.granted == ("marketing",) and again.gpc
    assert again.text_fingerprint != renderer(after(), gpc="all").fingerprint("banner", "en", True)
    assert state["lapsed"] == [] and "statistics" not in state["granted"]


def test_a_language_the_site_added_is_in_the_revision_as_its_visitors_read_it(
    tmp_path: Path,
) -> None:
    """A corrected Polish purpose changes what a Polish visitor consented to, even when
    the built-in languages stay the same."""
    from .test_site_locales import POLISH_PROVIDERS, polish

    changed = {key: text.replace("PL:", "PL (nowe):") for key, text in POLISH_PROVIDERS.items()}
    first = renderer(after(), locale_dirs=[polish(tmp_path / "a")])
    second = renderer(after(), locale_dirs=[polish(tmp_path / "b", **changed)])
    was, now = first.revisions.categories, second.revisions.categories
    assert was["statistics"].revision != now["statistics"].revision
    assert was["statistics"].content["en"] == now["statistics"].content["en"]
    assert now["statistics"].content["pl"]["providers"][0]["description"].startswith("PL (nowe):")
