"""Allowing one provider from the page, as a click-to-load placeholder does, in Chromium.

Without JavaScript: the form posts ``action=allow`` and the visitor lands back at the
embed (the ``#fragment`` survives the redirect), the provider runs, the banner stays.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .helpers import CHROMIUM, Visitor, open_visitor, serve
from .test_no_javascript import BUFFER_LOADER, GA_LOADER, REJECT_ALL

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:embed", tmp_path_factory.mktemp("embed-site"))


@pytest.fixture
def visitor(browser: Browser, embed_url: str) -> Iterator[Visitor]:
    with open_visitor(browser, embed_url, javascript=False) as visitor:
        yield visitor


@pytest.mark.browser
def test_allowing_one_provider_returns_to_the_embed_and_keeps_the_banner(
    visitor: Visitor,
) -> None:
    visitor.goto("/video")
    assert BUFFER_LOADER not in visitor.html()
    expect(visitor.page.locator("#video")).not_to_be_in_viewport()
    button = visitor.page.get_by_role("button", name="Vis indhold fra Buffer")
    visitor.submit(button, lands_on="/video#video")

    assert visitor.page.url.endswith("/video#video")
    expect(visitor.page.locator("#video")).to_be_in_viewport()  # back at the embed
    expect(visitor.page.locator("#consentgate-banner")).to_be_visible()
    expect(visitor.page.locator(f'script[src="{BUFFER_LOADER}"]')).to_have_count(1)
    expect(visitor.page.locator(f'script[src="{GA_LOADER}"]')).to_have_count(0)
    me = visitor.me()
    assert me["has_choice"] is False and me["providers"] == ["buffer"]
    assert visitor.blocked == []

    # Rejecting everything on the banner afterwards withdraws it too.
    banner = visitor.page.locator("#consentgate-banner")
    visitor.submit(banner.get_by_role("button", name=REJECT_ALL, exact=True), lands_on="/video")
    expect(visitor.page.locator(f'script[src="{BUFFER_LOADER}"]')).to_have_count(0)
    me = visitor.me()
    assert me["providers"] == [] and me["has_choice"] is True
