"""In Chromium, with every request logged: the site's own tracker markup reaches no tracker
before consent, nor after "Reject all"; after "Accept all" each tracker is requested.

The page carries the whole corpus of vendor snippets (tests/tracker_corpus.py). The
browser may reach nothing but the loopback server: every other request is recorded
and aborted (conftest.Visitor.route), so "requested" means the browser tried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.tracker_corpus import CORPUS

from .helpers import CHROMIUM, Visitor, open_visitor, serve

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PAGE = "/corpus"
ACCEPT_ALL = "Accepter alle"
REJECT_ALL = "Afvis alle"
#: What a browser without JavaScript loads of the corpus: iframes and <noscript> pixels.
WITHOUT_JAVASCRIPT = {
    "www.youtube.com",
    "www.youtube-nocookie.com",
    "player.vimeo.com",
    "www.google.com",
    "www.googletagmanager.com",
    "www.facebook.com",
    "px.ads.linkedin.com",
}
#: Reached only from <noscript>, which a browser running scripts ignores.
NOSCRIPT_ONLY = {"www.facebook.com", "px.ads.linkedin.com"}


@pytest.fixture(scope="module")
def corpus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:corpus", tmp_path_factory.mktemp("corpus-site"))


def tracker_hosts() -> set[str]:
    return {host for snippet in CORPUS for host in snippet.hosts}


def tracked(visitor: Visitor) -> set[str]:
    """The tracker hosts the browser tried to reach."""
    hosts = tracker_hosts()
    return {host for url in visitor.requested if (host := urlsplit(url).hostname or "") in hosts}


def choose(visitor: Visitor, label: str) -> None:
    visitor.page.locator("#consentgate-banner").get_by_role("button", name=label).click()


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_no_tracker_before_consent_nor_after_reject_all(
    browser: Browser, corpus_url: str, javascript: bool
) -> None:
    with open_visitor(browser, corpus_url, javascript=javascript) as visitor:
        visitor.goto(PAGE)
        visitor.page.wait_for_load_state("networkidle")
        assert tracked(visitor) == set()
        choose(visitor, REJECT_ALL)
        visitor.page.wait_for_load_state("networkidle")
        visitor.goto(PAGE)
        visitor.page.wait_for_load_state("networkidle")
        assert tracked(visitor) == set()
        assert visitor.errors == []


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_accept_all_lets_every_tracker_through(
    browser: Browser, corpus_url: str, javascript: bool
) -> None:
    with open_visitor(browser, corpus_url, javascript=javascript) as visitor:
        visitor.goto(PAGE)
        if javascript:
            # The page held markup back: the script reloads it once the choice is made.
            with visitor.page.expect_navigation(url=visitor.url(PAGE)):
                choose(visitor, ACCEPT_ALL)
        else:
            visitor.submit(
                visitor.page.locator("#consentgate-banner").get_by_role("button", name=ACCEPT_ALL),
                PAGE,
            )
        visitor.page.wait_for_load_state("networkidle")
        expected = tracker_hosts() - NOSCRIPT_ONLY if javascript else WITHOUT_JAVASCRIPT
        assert tracked(visitor) == expected


def test_a_placeholder_loads_its_video_in_place_with_javascript(
    browser: Browser, corpus_url: str
) -> None:
    with open_visitor(browser, corpus_url, javascript=True) as visitor:
        visitor.goto(PAGE)
        box = visitor.page.locator('.cg-embed[data-consent-embed="youtube"]').first
        button = box.get_by_role("button", name="Indlæs video: YouTube video player")
        expect(button).to_be_visible()
        # The embed's own size (560 x 315), plus the placeholder's 1px border.
        size = box.bounding_box()
        assert size is not None and (size["width"], size["height"]) == (562, 317)
        button.click()
        frame = visitor.page.locator('iframe[title="YouTube video player"]').first
        expect(frame).to_be_visible()
        expect(frame).to_have_attribute("src", "https://www.youtube.com/embed/dQw4w9WgXcQ?si=abc")
        visitor.page.wait_for_load_state("networkidle")
        # That one video, no reload, and nothing else: no consent was recorded.
        assert tracked(visitor) == {"www.youtube.com"}
        assert visitor.me()["has_choice"] is False
        assert visitor.errors == []


def test_a_placeholder_without_javascript_allows_only_that_provider(
    browser: Browser, corpus_url: str
) -> None:
    with open_visitor(browser, corpus_url, javascript=False) as visitor:
        visitor.goto(PAGE)
        box = visitor.page.locator('.cg-embed[data-consent-embed="youtube"]').first
        # Back to the same place: the first YouTube embed has no id, so its placeholder's.
        visitor.submit(
            box.get_by_role("button", name="Indlæs video: YouTube video player"),
            PAGE + "#consentgate-embed-1",
        )
        visitor.page.wait_for_load_state("networkidle")
        assert visitor.response is not None
        html = visitor.response.text()  # (the page's URL has the fragment, the response's not)
        assert 'src="https://www.youtube.com/embed/dQw4w9WgXcQ?si=abc"' in html
        assert 'data-consent-embed="vimeo"' in html and 'data-consent-embed="google-maps"' in html
        assert tracked(visitor) == {"www.youtube.com", "www.youtube-nocookie.com"}
        me = visitor.me()
        assert me["providers"] == ["youtube"] and me["granted"] == []
        # Allowing one embed is no answer to the banner.
        assert visitor.page.locator("#consentgate-banner").count() == 1


def test_always_allow_with_javascript_loads_every_youtube_embed_in_place(
    browser: Browser, corpus_url: str
) -> None:
    with open_visitor(browser, corpus_url, javascript=True) as visitor:
        visitor.goto(PAGE)
        box = visitor.page.locator('.cg-embed[data-consent-embed="youtube"]').first
        box.get_by_role("button", name="Tillad altid YouTube").click()
        expect(visitor.page.locator('.cg-embed[data-consent-embed="youtube"]')).to_have_count(0)
        expect(visitor.page.locator('.cg-embed[data-consent-embed="vimeo"]')).to_have_count(1)
        for frame in visitor.page.locator("iframe[data-consent=youtube]").all():
            expect(frame).to_have_attribute("src", re.compile(r"^https://www\.youtube"))
        deadline = time.monotonic() + 5
        while len(tracked(visitor)) < 2 and time.monotonic() < deadline:
            visitor.page.wait_for_timeout(50)
        assert tracked(visitor) == {"www.youtube.com", "www.youtube-nocookie.com"}
        assert visitor.me()["providers"] == ["youtube"]
        assert visitor.errors == []


def test_always_allow_with_javascript_also_runs_the_providers_held_back_scripts(
    browser: Browser, corpus_url: str
) -> None:
    with open_visitor(browser, corpus_url, javascript=True) as visitor:
        visitor.goto(PAGE)
        api = visitor.page.locator('script[src="https://player.vimeo.com/api/player.js"]')
        expect(api).to_have_attribute("type", "text/plain")
        box = visitor.page.locator('.cg-embed[data-consent-embed="vimeo"]')
        with visitor.page.expect_request("https://player.vimeo.com/api/player.js"):
            box.get_by_role("button", name="Tillad altid Vimeo").click()
        expect(api).not_to_have_attribute("type", "text/plain")
        expect(visitor.page.locator('.cg-embed[data-consent-embed="youtube"]')).to_have_count(2)
