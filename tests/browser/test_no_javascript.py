"""A visitor with JavaScript off can refuse, accept, choose, change and withdraw.

Real Chromium (Debian's ``/usr/bin/chromium``, through Playwright) against the
demo site (``examples/starlette_site``) under uvicorn, in Danish, the demo's
default language. Every choice is a plain HTML form POST and a 303 back to the
page the visitor was on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Locator, expect

from .helpers import CHROMIUM, TRACKER_HOSTS, VIEWPORT, Visitor

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PAGE = "/services"
ACCEPT_ALL = "Accepter alle"
REJECT_ALL = "Afvis alle"
SAVE = "Gem valg"
SETTINGS = "Cookie-indstillinger"

GA_LOADER = "https://www.googletagmanager.com/gtag/js?id=G-DEMO000000"
SITE_KIT_LOADER = "https://www.googletagmanager.com/gtag/js?id=G-DEMO111111"
JETPACK_LOADER = re.compile(r'<script src="(https://stats\.wp\.com/e-(\d{6})\.js)"')
BUFFER_LOADER = "https://static.bufferapp.com/js/button.js"
OTHER_SCRIPTS = 'script:not([src^="/_consent/static/consentgate."])'


def this_iso_week() -> str:
    year, week, _ = datetime.now(UTC).isocalendar()
    return f"{year}{week:02d}"


def banner(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-banner")


def settings_link(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-settings")


def scripts_from(visitor: Visitor, src: str) -> Locator:
    return visitor.page.locator(f'script[src="{src}"]')


def assert_no_trackers(visitor: Visitor) -> None:
    html = visitor.html()
    for host in TRACKER_HOSTS:
        assert host not in html, f"{host} in the page without consent"
    assert "_stq" not in html and "gtag(" not in html
    # consentgate's own script is the only one (and does not run here: JavaScript is off).
    expect(visitor.page.locator(OTHER_SCRIPTS)).to_have_count(0)
    assert visitor.tracker_requests() == []


def assert_statistics_trackers(visitor: Visitor) -> None:
    """Google Analytics, Site Kit and Jetpack Stats loaders: in the HTML and in the DOM."""
    week_before = this_iso_week()
    html = visitor.html()
    week_after = this_iso_week()
    for loader in (GA_LOADER, SITE_KIT_LOADER):
        assert f'src="{loader}"' in html
        expect(scripts_from(visitor, loader)).to_have_count(1)
    jetpack = JETPACK_LOADER.search(html)
    assert jetpack is not None, "no Jetpack Stats loader in the page"
    assert jetpack[2] in (week_before, week_after)
    expect(scripts_from(visitor, jetpack[1])).to_have_count(1)


def assert_marketing_trackers(visitor: Visitor, present: bool) -> None:
    assert (f'src="{BUFFER_LOADER}"' in visitor.html()) is present
    expect(scripts_from(visitor, BUFFER_LOADER)).to_have_count(1 if present else 0)


def assert_chosen(visitor: Visitor, path: str) -> None:
    """Back on ``path`` after a choice: the banner gone, the settings link in its place."""
    assert visitor.page.url == visitor.url(path)
    expect(banner(visitor)).to_have_count(0)
    expect(settings_link(visitor)).to_have_text(SETTINGS)
    expect(settings_link(visitor)).to_be_visible()


def choose_on_banner(
    visitor: Visitor, button: str, categories: tuple[str, ...] = (), path: str = PAGE
) -> None:
    visitor.goto(path)
    form = banner(visitor)
    expect(form).to_be_visible()
    for category in categories:
        form.locator(f'input[name="categories"][value="{category}"]').check()
    visitor.submit(form.get_by_role("button", name=button, exact=True), lands_on=path)
    assert_chosen(visitor, path)


def open_preferences(visitor: Visitor, path: str = PAGE) -> Locator:
    """Follow the settings link; the preference centre's form."""
    visitor.follow(settings_link(visitor))
    assert visitor.page.url.startswith(visitor.url("/_consent/preferences?"))
    expect(visitor.page.get_by_role("heading", level=1)).to_have_text(SETTINGS)
    form = visitor.page.locator("form.cg-preferences-form")
    expect(form.locator('input[name="next"]')).to_have_value(path)
    return form


def category_box(form: Locator, category: str) -> Locator:
    return form.locator(f'input[name="categories"][value="{category}"]')


@pytest.mark.browser
def test_first_visit_shows_the_banner_and_no_tracker(visitor: Visitor) -> None:
    response = visitor.goto(PAGE)
    assert response.status == 200

    form = banner(visitor)
    expect(form).to_be_visible()
    expect(form).to_have_attribute("lang", "da")
    expect(form.get_by_role("button", name=ACCEPT_ALL, exact=True)).to_be_visible()
    expect(form.get_by_role("button", name=REJECT_ALL, exact=True)).to_be_visible()
    expect(form.get_by_role("button", name=SAVE, exact=True)).to_be_visible()
    for category in ("statistics", "marketing"):
        expect(category_box(form, category)).not_to_be_checked()
    expect(settings_link(visitor)).to_have_count(0)
    assert_no_trackers(visitor)
    assert visitor.blocked == []
    # Nothing is stored in the browser before a choice.
    assert visitor.context.cookies() == []


@pytest.mark.browser
def test_reject_all_returns_to_the_same_page_without_trackers(visitor: Visitor) -> None:
    choose_on_banner(visitor, REJECT_ALL)

    assert_no_trackers(visitor)
    assert visitor.blocked == []
    expect(visitor.page.locator(".consent-state")).to_have_text("Your consent: nothing optional.")
    me = visitor.me()
    assert me["has_choice"] is True
    assert me["granted"] == []
    # Another page: still no banner, still no tracker.
    visitor.goto("/contact")
    assert_chosen(visitor, "/contact")
    assert_no_trackers(visitor)


@pytest.mark.browser
def test_accept_all_adds_the_trackers(visitor: Visitor) -> None:
    choose_on_banner(visitor, ACCEPT_ALL)

    assert_statistics_trackers(visitor)
    assert_marketing_trackers(visitor, present=True)
    expect(visitor.page.locator(".consent-state")).to_have_text(
        "Your consent: marketing, statistics."
    )
    assert visitor.me()["granted"] == ["marketing", "statistics"]


@pytest.mark.browser
def test_save_choices_with_statistics_only(visitor: Visitor) -> None:
    choose_on_banner(visitor, SAVE, categories=("statistics",))

    assert_statistics_trackers(visitor)
    assert "bufferapp.com" not in visitor.html()
    assert_marketing_trackers(visitor, present=False)
    assert visitor.me()["granted"] == ["statistics"]


@pytest.mark.browser
def test_change_then_withdraw_on_the_preferences_page(visitor: Visitor) -> None:
    choose_on_banner(visitor, SAVE, categories=("statistics",))
    consent_id = visitor.me()["consent_id"]
    assert consent_id

    # The preference centre shows the current choice, and the consent id.
    form = open_preferences(visitor)
    expect(category_box(form, "statistics")).to_be_checked()
    expect(category_box(form, "marketing")).not_to_be_checked()
    expect(visitor.page.locator(".cg-current")).to_contain_text(consent_id)

    # Untick statistics and save: back on the page, trackers gone.
    category_box(form, "statistics").uncheck()
    visitor.submit(form.get_by_role("button", name=SAVE, exact=True), lands_on=PAGE)
    assert_chosen(visitor, PAGE)
    assert_no_trackers(visitor)
    assert visitor.me()["granted"] == []

    # Accept everything again from the preference centre.
    form = open_preferences(visitor)
    expect(category_box(form, "statistics")).not_to_be_checked()
    visitor.submit(form.get_by_role("button", name=ACCEPT_ALL, exact=True), lands_on=PAGE)
    assert_chosen(visitor, PAGE)
    assert_statistics_trackers(visitor)
    assert_marketing_trackers(visitor, present=True)
    granted_cookie = visitor.consent_cookie()["value"]

    # Withdraw with "Reject all" on the preference centre.
    form = open_preferences(visitor)
    expect(category_box(form, "statistics")).to_be_checked()
    expect(category_box(form, "marketing")).to_be_checked()
    visitor.submit(form.get_by_role("button", name=REJECT_ALL, exact=True), lands_on=PAGE)
    assert_chosen(visitor, PAGE)
    assert_no_trackers(visitor)
    assert visitor.consent_cookie()["value"] != granted_cookie
    me = visitor.me()
    assert me["has_choice"] is True
    assert me["granted"] == []
    # The same consent id throughout, so the log links the withdrawal to the grant.
    assert me["consent_id"] == consent_id
    assert visitor.blocked == []


@pytest.mark.browser
def test_consent_cookie_is_http_only_and_same_site_lax(visitor: Visitor) -> None:
    choose_on_banner(visitor, REJECT_ALL)

    cookie = visitor.consent_cookie()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    # Plain http on loopback: no Secure flag, or the browser would never send it back.
    assert cookie["secure"] is False
    # Only the consent cookie: a refusal stores nothing else.
    assert [c["name"] for c in visitor.context.cookies()] == ["consentgate"]


STYLE_PROPERTIES = (
    "font-size",
    "font-weight",
    "font-family",
    "line-height",
    "background-color",
    "color",
    "border-top-width",
    "border-right-width",
    "border-bottom-width",
    "border-left-width",
    "border-top-style",
    "border-top-color",
    "border-right-color",
    "border-bottom-color",
    "border-left-color",
    "border-radius",
    "padding-top",
    "padding-left",
    "text-decoration-line",
    "opacity",
)


def computed_style(button: Locator) -> dict[str, str]:
    style: dict[str, str] = button.evaluate(
        "(el, names) => Object.fromEntries("
        "names.map(n => [n, getComputedStyle(el).getPropertyValue(n)]))",
        list(STYLE_PROPERTIES),
    )
    return style


@pytest.mark.browser
def test_accept_and_reject_have_equal_prominence(visitor: Visitor) -> None:
    visitor.goto(PAGE)
    form = banner(visitor)
    accept = form.get_by_role("button", name=ACCEPT_ALL, exact=True)
    reject = form.get_by_role("button", name=REJECT_ALL, exact=True)
    expect(accept).to_be_visible()
    expect(reject).to_be_visible()

    accept_style, reject_style = computed_style(accept), computed_style(reject)
    assert accept_style == reject_style
    assert float(accept_style["font-size"].removesuffix("px")) >= 14

    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert accept_box is not None and reject_box is not None
    assert abs(accept_box["width"] - reject_box["width"]) <= 1
    assert abs(accept_box["height"] - reject_box["height"]) <= 1
    # Both in view on first paint, without scrolling.
    for box in (accept_box, reject_box):
        assert 0 <= box["x"] and box["x"] + box["width"] <= VIEWPORT["width"]
        assert 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORT["height"]


@pytest.mark.browser
def test_see_and_erase_the_consent_record(visitor: Visitor) -> None:
    choose_on_banner(visitor, SAVE, categories=("statistics",))
    consent_id = visitor.me()["consent_id"]

    # From the preference centre to the record, read from the log.
    open_preferences(visitor)
    visitor.follow(visitor.page.get_by_role("link", name="Se din samtykkeregistrering"))
    expect(visitor.page.get_by_role("heading", level=1)).to_have_text("Din samtykkeregistrering")
    expect(visitor.page.locator("main")).to_contain_text(consent_id)
    [entry] = visitor.page.locator("ol.cg-history > li").all()
    expect(entry.get_by_role("heading", level=3)).to_contain_text("Samtykke givet")
    expect(entry).to_contain_text("Statistik")

    # Erasing takes a confirmation, then forgets the visitor.
    visitor.follow(visitor.page.get_by_role("link", name="Slet min registrering og glem mig"))
    expect(visitor.page.locator("main")).to_contain_text("kan ingen bevise, hvad du valgte")
    with visitor.page.expect_navigation(url=re.compile(r"/_consent/me/record\?erased=1")):
        visitor.page.get_by_role("button", name="Ja, slet min registrering").click()
    expect(visitor.page.get_by_role("status")).to_contain_text("er slettet")
    assert [c for c in visitor.context.cookies() if c["name"] == "consentgate"] == []
    visitor.goto(PAGE)
    expect(banner(visitor)).to_be_visible()
    assert visitor.me()["has_choice"] is False
