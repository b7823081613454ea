"""A banner left open in a tab past ``csrf_max_age``: the visitor still chooses, one click later.

The page is served with a token issued three days ago (the demo allows two), as a tab
left open over a weekend would hold. The choice gets the 403 page that offers the
same choice again with a fresh token; its one button makes the choice. With
JavaScript on, the script's refused post falls back to the plain form post, which
lands on the same page.
"""

from __future__ import annotations

import re
import time

import pytest
from examples.starlette_site.app import DEMO_SECRET, config as demo_config
from playwright.sync_api import Route, expect

from consentgate._csrf import CsrfTokens

from .helpers import CHROMIUM, Visitor

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PAGE = "/services"
TOKEN = re.compile(r'name="csrf_token" value="[^"]+"')
REJECT_ALL = "Afvis alle"
SAVE = "Gem valg"


def serve_with_a_stale_token(visitor: Visitor) -> None:
    """Pages of the site reach this browser with a form token issued three days ago."""
    max_age = demo_config.csrf_max_age
    stale = CsrfTokens((DEMO_SECRET,), max_age, clock=lambda: time.time() - 3 * 86400).issue()

    def swap(route: Route) -> None:
        response = route.fetch()
        body, swapped = TOKEN.subn(f'name="csrf_token" value="{stale}"', response.text())
        assert swapped == 1
        route.fulfill(response=response, body=body)

    visitor.page.route(visitor.url(PAGE), swap)


def confirm_on_the_403_page(visitor: Visitor, button: str) -> None:
    page = visitor.page
    page.wait_for_url(visitor.url("/_consent"))
    expect(page.get_by_text("Bekræft det med ét klik")).to_be_visible()
    visitor.submit(page.get_by_role("button", name=button, exact=True), lands_on=PAGE)


@pytest.mark.browser
def test_without_javascript_an_expired_banner_form_still_refuses(visitor: Visitor) -> None:
    serve_with_a_stale_token(visitor)
    visitor.goto(PAGE)
    banner = visitor.page.locator("#consentgate-banner")
    with visitor.page.expect_response(visitor.url("/_consent")) as refused:
        banner.get_by_role("button", name=REJECT_ALL, exact=True).click()
    assert refused.value.status == 403
    confirm_on_the_403_page(visitor, REJECT_ALL)
    expect(visitor.page.locator("#consentgate-banner")).to_have_count(0)
    state = visitor.me()
    assert state["has_choice"] and state["granted"] == []


@pytest.mark.browser
def test_with_javascript_an_expired_banner_form_keeps_the_chosen_categories(
    js_visitor: Visitor,
) -> None:
    serve_with_a_stale_token(js_visitor)
    js_visitor.goto(PAGE)
    banner = js_visitor.page.locator("#consentgate-banner")
    expect(banner).to_be_visible()
    banner.locator('input[name="categories"][value="statistics"]').check()
    banner.get_by_role("button", name=SAVE, exact=True).click()
    confirm_on_the_403_page(js_visitor, SAVE)
    assert js_visitor.me()["granted"] == ["statistics"]
