"""A site that made the banner its own (examples/custom_theme): theme, texts, one template
override extending the built-in banner. What the README's "Customising" promises, in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from .helpers import CHROMIUM, Visitor, open_visitor, serve

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

GA_LOADER = "https://www.googletagmanager.com/gtag/js?id=G-DEMO000000"


@pytest.fixture(scope="module")
def custom_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("examples.custom_theme.app:app", tmp_path_factory.mktemp("custom-site"))


@pytest.fixture
def plain_visitor(browser: Browser, custom_url: str) -> Iterator[Visitor]:
    with open_visitor(browser, custom_url, javascript=False) as visitor:
        yield visitor


@pytest.fixture
def js_visitor(browser: Browser, custom_url: str) -> Iterator[Visitor]:
    with open_visitor(browser, custom_url, javascript=True) as visitor:
        yield visitor


def banner(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-banner")


def style(locator: Locator, name: str) -> str:
    value: str = locator.evaluate("(el, name) => getComputedStyle(el)[name]", name)
    return value


@pytest.mark.browser
def test_the_override_theme_and_texts_show(plain_visitor: Visitor) -> None:
    plain_visitor.goto("/")
    box = banner(plain_visitor)
    expect(box).to_be_visible()
    # The site's block under the buttons, inside consentgate's own banner.
    expect(box.locator(".site-banner-note")).to_have_text("Vi bruger aldrig data til annoncer.")
    expect(box.get_by_role("heading")).to_have_text("Må vi tælle dit besøg?")
    accept = box.get_by_role("button", name="Ja, det er fint", exact=True)
    reject = box.get_by_role("button", name="Nej tak", exact=True)
    # The theme from the TOML: accent #9a3412, 2px corners, the corner box.
    assert style(accept, "backgroundColor") == "rgb(154, 52, 18)"
    assert style(accept, "borderTopLeftRadius") == "2px"
    assert box.get_attribute("data-position") == "box"
    # Restyled, refusing still weighs what accepting does.
    for name in ("backgroundColor", "color", "fontSize", "fontWeight", "borderTopWidth"):
        assert style(accept, name) == style(reject, name), name


@pytest.mark.browser
def test_the_overridden_banner_still_works_without_javascript(plain_visitor: Visitor) -> None:
    plain_visitor.goto("/")
    plain_visitor.submit(
        banner(plain_visitor).get_by_role("button", name="Nej tak", exact=True), lands_on="/"
    )
    expect(banner(plain_visitor)).to_have_count(0)
    assert plain_visitor.me()["granted"] == []
    assert plain_visitor.tracker_requests() == []


@pytest.mark.browser
def test_the_overridden_banner_works_with_javascript(js_visitor: Visitor) -> None:
    js_visitor.goto("/")
    expect(banner(js_visitor)).to_be_focused()
    banner(js_visitor).get_by_role("button", name="Ja, det er fint", exact=True).click()
    expect(banner(js_visitor)).to_have_count(0)
    expect(js_visitor.page.locator(f'script[src="{GA_LOADER}"]')).to_have_count(1)
    # The site has one provider, so accepting all grants its one category.
    assert js_visitor.me()["granted"] == ["statistics"]
