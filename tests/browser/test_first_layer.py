"""The first layer in Chromium at phone size, at 200% zoom and on a desktop: it informs and fits.

At 200% zoom a 1280x800 window lays pages out in 640x400 CSS pixels, so that viewport
stands for it. JavaScript is off unless a test says otherwise: the layout is the
stylesheet's alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from .helpers import CHROMIUM, Visitor, open_visitor

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PAGE = "/services"
PHONE = {"width": 360, "height": 640}
ZOOMED = {"width": 640, "height": 400}
DESKTOP = {"width": 1280, "height": 800}
# The demo's Danish first layer.
BUTTONS = ("Accepter alle", "Afvis alle", "Gem valg")
DETAILS = "Detaljer og cookiedeklaration"
DESCRIPTIONS = {
    "statistics": "Viser os, hvordan hjemmesiden bliver brugt",
    "marketing": "Buffer",
}

# Where the focused element is, against the banner's top edge, in viewport pixels.
FOCUS_AND_BANNER = """() => {
  const banner = document.getElementById("consentgate-banner").getBoundingClientRect();
  const at = document.activeElement;
  const box = at.getBoundingClientRect();
  return {
    tag: at.localName, text: (at.textContent || "").trim().slice(0, 30),
    inBanner: !!at.closest("#consentgate-banner"),
    top: box.top, bottom: box.bottom, bannerTop: banner.top,
  };
}"""
# Thirty links below the page's own content, so Tab has to scroll the page to reach them.
LONG_PAGE = """() => {
  const main = document.querySelector("main");
  for (let i = 0; i < 30; i++) {
    const p = main.appendChild(document.createElement("p"));
    const a = p.appendChild(document.createElement("a"));
    a.href = "#link-" + i;
    a.textContent = "Link " + i;
  }
}"""


@pytest.fixture(params=[PHONE, ZOOMED], ids=["phone", "zoomed"])
def small_visitor(
    browser: Browser, demo_url: str, request: pytest.FixtureRequest
) -> Iterator[Visitor]:
    with open_visitor(browser, demo_url, javascript=False, viewport=request.param) as visitor:
        yield visitor


def first_layer(visitor: Visitor) -> Locator:
    visitor.goto(PAGE)
    banner = visitor.page.locator("#consentgate-banner")
    expect(banner).to_be_visible()
    # Let the entrance animation end, so boxes are where they stay.
    banner.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
    return banner


@pytest.mark.browser
def test_on_a_phone_the_first_layer_takes_half_the_screen_with_every_choice_in_view(
    browser: Browser, demo_url: str
) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=PHONE) as visitor:
        banner = first_layer(visitor)
        box = banner.bounding_box()
        assert box is not None
        assert box["height"] <= PHONE["height"] / 2
        assert box["y"] + box["height"] <= PHONE["height"]
        for name in BUTTONS:
            expect(banner.get_by_role("button", name=name, exact=True)).to_be_in_viewport(ratio=1)
        expect(banner.get_by_role("link", name=DETAILS)).to_be_in_viewport(ratio=1)
        assert visitor.page.evaluate("window.scrollY") == 0  # nothing had to be scrolled
        # What does not fit scrolls inside the banner, and the purposes are down there.
        body = banner.locator(".cg-banner-body")
        assert body.evaluate("el => el.scrollHeight > el.clientHeight")
        statistics = banner.locator('input[value="statistics"]')
        statistics.scroll_into_view_if_needed()
        expect(statistics).to_be_in_viewport()


@pytest.mark.browser
def test_every_purpose_shows_its_description_and_vendors(browser: Browser, demo_url: str) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=DESKTOP) as visitor:
        banner = first_layer(visitor)
        for name, words in DESCRIPTIONS.items():
            label = banner.locator("label", has=visitor.page.locator(f'input[value="{name}"]'))
            description = label.locator(".cg-category-description")
            expect(description).to_be_visible()
            expect(label).to_contain_text(words)
        # The name a screen reader gives the box includes the description.
        box = banner.get_by_role("checkbox", name="Statistik")
        expect(box).to_have_accessible_name(
            "Statistik (Google Analytics, Google Analytics (Site Kit), Jetpack Stats) "
            "Viser os, hvordan hjemmesiden bliver brugt, ved at indsamle og opgøre "
            "oplysninger om besøg."
        )


@pytest.mark.browser
def test_on_a_desktop_the_whole_first_layer_is_shown(browser: Browser, demo_url: str) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=DESKTOP) as visitor:
        banner = first_layer(visitor)
        body = banner.locator(".cg-banner-body")
        assert body.evaluate("el => el.scrollHeight <= el.clientHeight")
        for name in BUTTONS:
            expect(banner.get_by_role("button", name=name, exact=True)).to_be_in_viewport(ratio=1)


@pytest.mark.browser
def test_focus_is_never_hidden_under_the_banner(small_visitor: Visitor) -> None:
    first_layer(small_visitor)
    small_visitor.page.evaluate(LONG_PAGE)
    height = small_visitor.page.viewport_size["height"]  # type: ignore[index]
    seen = set()
    for key in ("Tab",) * 45 + ("Shift+Tab",) * 45:
        small_visitor.page.keyboard.press(key)
        focus = small_visitor.page.evaluate(FOCUS_AND_BANNER)
        if focus["tag"] == "body" or focus["inBanner"]:
            continue
        seen.add(focus["text"])
        assert focus["top"] >= 0 and focus["bottom"] <= height, focus
        assert focus["bottom"] <= focus["bannerTop"] + 1, f"{key} hid {focus} under the banner"
    assert {"Link 0", "Link 29"} <= seen  # the whole page was walked, down to its end


@pytest.mark.browser
def test_after_a_choice_it_is_announced_and_focus_lands_on_the_settings_link(
    browser: Browser, demo_url: str
) -> None:
    with open_visitor(browser, demo_url, javascript=True, viewport=PHONE) as visitor:
        banner = first_layer(visitor)
        banner.locator('input[value="statistics"]').check()
        banner.get_by_role("button", name="Gem valg", exact=True).click()
        expect(banner).to_have_count(0)
        status = visitor.page.get_by_role("status")
        expect(status).to_have_text("Dit valg er gemt. Tilladt: Statistik.")
        expect(visitor.page.locator("#consentgate-settings")).to_be_focused()
        # A second choice in the settings dialog (one that needs no reload) is announced
        # in the same place.
        visitor.page.locator("#consentgate-settings").click()
        dialog = visitor.page.locator("#consentgate-banner")
        dialog.get_by_role("button", name="Accepter alle", exact=True).click()
        expect(dialog).to_have_count(0)
        expect(status).to_have_text("Dit valg er gemt.")
        assert visitor.errors == []


@pytest.mark.browser
def test_the_privacy_policy_is_readable_under_the_folded_banner(
    browser: Browser, demo_url: str
) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=PHONE) as visitor:
        visitor.goto(PAGE)
        link = visitor.page.locator("#consentgate-banner").get_by_role(
            "link", name="Privatlivspolitik"
        )
        visitor.follow(link)
        banner = visitor.page.locator("#consentgate-banner")
        expect(banner).to_be_visible()
        banner.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
        box = banner.bounding_box()
        assert box is not None
        assert box["height"] <= PHONE["height"] * 0.3  # 173 px, against 320 elsewhere
        # The policy's words are above the banner, not under it.
        policy = visitor.page.locator("main p").first
        text = policy.bounding_box()
        assert text is not None and text["y"] + text["height"] <= box["y"]
        # Folded to its title, Accept, Reject and the way to the details: the choice is
        # still made there, and refusing takes what accepting takes.
        expect(banner.get_by_role("checkbox")).to_have_count(0)
        for name in ("Accepter alle", "Afvis alle"):
            expect(banner.get_by_role("button", name=name, exact=True)).to_be_in_viewport(ratio=1)
        expect(banner.get_by_role("button", name="Gem valg", exact=True)).to_be_hidden()
        expect(banner.get_by_role("link", name=DETAILS)).to_be_in_viewport(ratio=1)
        visitor.submit(banner.get_by_role("button", name="Afvis alle", exact=True), "/privacy")
        expect(visitor.page.locator("#consentgate-banner")).to_have_count(0)
        assert visitor.me()["granted"] == []


@pytest.mark.browser
def test_a_gpc_browser_is_told_under_the_folded_banner_too(browser: Browser, demo_url: str) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=PHONE) as visitor:
        visitor.context.set_extra_http_headers({"Sec-GPC": "1"})
        visitor.goto("/privacy")
        banner = visitor.page.locator("#consentgate-banner")
        expect(banner).to_have_attribute("data-folded", "")
        # Accept all leaves marketing out here too, so the visitor is told why.
        expect(banner.locator(".cg-gpc")).to_be_visible()
        expect(banner.locator(".cg-gpc")).to_contain_text("Global Privacy Control")
        expect(banner.locator(".cg-intro")).to_be_hidden()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_without_javascript_the_first_tab_reaches_the_banner(
    browser: Browser, demo_url: str, viewport: dict[str, int]
) -> None:
    with open_visitor(browser, demo_url, javascript=False, viewport=viewport) as visitor:
        banner = first_layer(visitor)
        # It opens the body: a screen reader meets the labelled region before the page.
        assert visitor.page.evaluate("document.body.firstElementChild.id") == "consentgate-banner"
        expect(visitor.page.get_by_role("region").first).to_have_accessible_name(
            "Dit valg om cookies"
        )
        visitor.page.keyboard.press("Tab")
        focus = visitor.page.evaluate(FOCUS_AND_BANNER)
        assert focus["inBanner"], focus
        # The page's own links (the demo has six before its content) come after the choice.
        expect(banner.get_by_role("button", name="Accepter alle", exact=True)).to_be_visible()
