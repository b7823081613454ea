"""Issue 12 §2/§4 as a visitor sees it: the page's language, and who receives the data.

A site with ``language_from="html-lang"`` (``tests.browser.sites:html_lang``): a Danish
browser on the German page gets the banner, the preference centre and the settings
dialog in German, with each vendor's disclosure folded under its provider, on a phone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from .helpers import CHROMIUM, Visitor, open_visitor, serve

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:html_lang", tmp_path_factory.mktemp("html-lang-site"))


def banner(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-banner")


def google(scope: Visitor | Locator) -> Locator:
    where = scope.page if isinstance(scope, Visitor) else scope
    return where.locator("details.cg-disclosure", has_text="Google Ireland Limited")


def no_sideways_scroll(visitor: Visitor) -> bool:
    return bool(
        visitor.page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


@pytest.mark.browser
def test_a_phone_without_javascript_reads_the_german_page_in_german(
    browser: Browser, site_url: str
) -> None:
    with open_visitor(browser, site_url, javascript=False, viewport=PHONE) as visitor:
        visitor.goto("/de")
        expect(banner(visitor)).to_have_attribute("lang", "de")
        expect(banner(visitor).get_by_role("button", name="Alle ablehnen")).to_be_visible()
        visitor.follow(banner(visitor).get_by_role("link", name="Details und Cookie-Erklärung"))
        assert visitor.page.evaluate("document.documentElement.lang") == "de"

        details = google(visitor)
        expect(details.locator("dl")).to_be_hidden()  # folded: the declaration stays short
        details.locator("summary").click()
        terms = details.locator("dl")
        expect(terms).to_be_visible()
        expect(terms).to_contain_text("Verarbeitung der Daten in")
        expect(terms).to_contain_text("Irland, USA")
        expect(terms).to_contain_text("EU-US Data Privacy Framework (Angemessenheitsbeschluss)")
        expect(terms).to_contain_text("Auftragsverarbeiter")
        hotjar = visitor.page.locator("details.cg-disclosure", has_text="Hotjar Ltd.")
        hotjar.locator("summary").click()
        expect(hotjar.locator("dl")).to_contain_text("Keine: die Daten bleiben in der EU/im EWR")
        assert no_sideways_scroll(visitor)


@pytest.mark.browser
def test_the_danish_page_gets_danish_and_the_settings_dialog_follows_the_page(
    browser: Browser, site_url: str
) -> None:
    with open_visitor(browser, site_url, javascript=True) as visitor:
        visitor.goto("/de")
        expect(banner(visitor)).to_have_attribute("lang", "de")
        banner(visitor).get_by_role("button", name="Alle ablehnen").click()
        expect(banner(visitor)).to_be_hidden()

        visitor.page.get_by_role("link", name="Cookie-Einstellungen").click()
        dialog = banner(visitor)
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("lang", "de")
        summary = google(dialog).locator("summary")
        summary.focus()
        visitor.page.keyboard.press("Enter")
        expect(google(dialog).locator("dl")).to_contain_text("Irland, USA")

        visitor.goto("/da")
        expect(visitor.page.get_by_role("link", name="Cookie-indstillinger")).to_be_visible()
