"""A grant lapses when its category changes, in Chromium with JavaScript on.

The visitor accepts statistics on a site with Google's tags alone; the same site
(same secret, same policy version) then adds Jetpack Stats and Buffer, which the
demo has. The banner asks again about statistics only, says what is in it now,
and the visitor's answer, sent by the script, grants it without a reload.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .helpers import CHROMIUM, open_visitor, serve
from .test_no_javascript import ACCEPT_ALL

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def google_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:google", tmp_path_factory.mktemp("google-site"))


@pytest.mark.browser
def test_a_provider_added_to_a_granted_category_is_asked_about_again(
    browser: Browser, google_url: str, demo_url: str
) -> None:
    with open_visitor(browser, google_url, javascript=True) as visitor:
        visitor.goto("/")
        banner = visitor.page.locator("#consentgate-banner")
        banner.get_by_role("button", name=ACCEPT_ALL, exact=True).click()
        expect(banner).to_have_count(0)
        assert visitor.me()["granted"] == ["statistics"]

        # The same browser (cookies are per host, not port) on the grown site.
        visitor.base_url = demo_url
        visitor.requested.clear()
        visitor.goto("/")
        expect(banner).to_be_visible()
        expect(banner.locator("h2")).to_have_text("Noget er ændret siden dit valg")
        notice = banner.locator(".cg-changed li")
        expect(notice).to_have_count(1)
        expect(notice).to_contain_text("Statistik")
        expect(notice).to_contain_text("Jetpack Stats")
        boxes = banner.locator('input[name="categories"]')
        expect(boxes).to_have_count(1)
        expect(boxes).to_have_attribute("value", "statistics")
        assert not visitor.tracker_requests()
        me = visitor.me()
        assert me["has_choice"] and me["granted"] == [] and me["lapsed"] == ["statistics"]

        banner.get_by_role("button", name=ACCEPT_ALL, exact=True).click()
        expect(banner).to_have_count(0)
        me = visitor.me()
        # Accept all answered for statistics alone: marketing (new here) was not asked.
        assert me["granted"] == ["statistics"] and me["lapsed"] == []
        expect(visitor.page.locator('script[src^="https://stats.wp.com/"]')).not_to_have_count(0)
        assert visitor.errors == []
