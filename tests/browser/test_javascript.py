"""A visitor with JavaScript on: choices are sent in the background, nothing reloads.

The same demo site and Chromium as the no-JavaScript tests. Each test checks that the
page was never navigated away from (a marker set on ``window`` survives and no main-frame
navigation happened), that the providers a choice grants start on the spot (their script
elements are live, and Chromium asks for their files, which the loopback guard aborts), and
that nothing of a provider is asked for before its consent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, Locator, Route, expect

from .helpers import CHROMIUM, Visitor, open_visitor, serve
from .test_no_javascript import (
    ACCEPT_ALL,
    BUFFER_LOADER,
    GA_LOADER,
    OTHER_SCRIPTS,
    PAGE,
    REJECT_ALL,
    SAVE,
    SETTINGS,
    SITE_KIT_LOADER,
)

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

JETPACK_LOADER = re.compile(r"^https://stats\.wp\.com/e-\d{6}\.js$")
STATISTICS_HOSTS = ("www.googletagmanager.com", "stats.wp.com")
MOBILE = {"width": 375, "height": 667}

# Records every consentgate:change event, from the first script on.
RECORD_EVENTS = """
window.__changes = [];
document.addEventListener("consentgate:change", (e) => window.__changes.push(e.detail));
"""


class Stay:
    """Asserts that the page on screen is the one loaded: no reload, no navigation."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor
        self.navigations: list[str] = []
        page = visitor.page
        page.evaluate("window.__stay = true")
        page.on("framenavigated", self._navigated)

    def _navigated(self, frame: Frame) -> None:
        if frame == self.visitor.page.main_frame:
            self.navigations.append(frame.url)

    def check(self) -> None:
        assert self.navigations == []
        assert self.visitor.page.evaluate("window.__stay") is True


def load(visitor: Visitor, path: str = PAGE) -> Stay:
    visitor.page.add_init_script(RECORD_EVENTS)
    visitor.goto(path)
    return Stay(visitor)


def banner(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-banner")


def settings_link(visitor: Visitor) -> Locator:
    return visitor.page.locator("#consentgate-settings")


def live_scripts(visitor: Visitor) -> list[str]:
    srcs: list[str] = visitor.page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    return [src for src in srcs if "/_consent/static/" not in src]


def asked_for(visitor: Visitor, *hosts: str) -> list[str]:
    return [url for url in visitor.blocked if any(f"//{host}/" in url for host in hosts)]


def categories(visitor: Visitor) -> list[str]:
    result: list[str] = visitor.page.evaluate("window.consentgate.categories")
    return result


def changes(visitor: Visitor) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = visitor.page.evaluate("window.__changes")
    return result


def focused_id(visitor: Visitor) -> str:
    result: str = visitor.page.evaluate("document.activeElement.id")
    return result


def focus_is_inside(visitor: Visitor, selector: str) -> bool:
    result: bool = visitor.page.evaluate(
        "s => document.querySelector(s).contains(document.activeElement)", selector
    )
    return result


# The banner's Tab stops, as its script counts them: what is focusable and shown.
_FOCUS_STOPS = """() => [...document.querySelectorAll(
    "#consentgate-banner :is(a[href], button, input, summary, [tabindex='0'])")]
    .filter((x) => x.offsetParent)"""


def assert_tab_wraps_inside_the_banner(visitor: Visitor) -> None:
    """Tab from the banner's last stop goes to its first, Shift+Tab back, by the script.

    Headless Chromium wraps focus around a page whose rest is inert by itself, where a
    desktop browser would move it to its own toolbar; so what is checked is that the
    banner's script took those two key presses (their default action prevented) and put
    focus on the right stop, and that it left the presses in between to the browser.
    """
    page = visitor.page
    page.evaluate(
        """() => { window.__tabTaken = null; if (window.__tabWatched) return;
        window.__tabWatched = true;  // runs after the banner's own listener on document
        document.addEventListener("keydown", (e) => {
          if (e.key == "Tab") window.__tabTaken = e.defaultPrevented; }); }"""
    )
    stops = page.evaluate(f"({_FOCUS_STOPS})().length")
    assert stops >= 3
    page.evaluate(f"({_FOCUS_STOPS})()[0].focus()")
    for _ in range(stops - 1):
        page.keyboard.press("Tab")
        assert page.evaluate("window.__tabTaken") is False
    assert page.evaluate(f"document.activeElement === ({_FOCUS_STOPS})().at(-1)")
    page.keyboard.press("Tab")
    assert page.evaluate("window.__tabTaken") is True
    assert page.evaluate(f"document.activeElement === ({_FOCUS_STOPS})()[0]")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("window.__tabTaken") is True
    assert page.evaluate(f"document.activeElement === ({_FOCUS_STOPS})().at(-1)")


def choose(visitor: Visitor, button: str, *boxes: str) -> None:
    """Tick ``boxes`` and click ``button`` in the banner or settings dialog; wait till it closes."""
    form = banner(visitor)
    for category in boxes:
        form.locator(f'input[name="categories"][value="{category}"]').check()
    form.get_by_role("button", name=button, exact=True).click()
    expect(banner(visitor)).to_have_count(0)


def assert_google_started(visitor: Visitor) -> None:
    scripts = live_scripts(visitor)
    assert GA_LOADER in scripts and SITE_KIT_LOADER in scripts
    expect(visitor.page.locator(f'script[src="{GA_LOADER}"]')).to_have_count(1)
    visitor.page.wait_for_function(
        "() => window.dataLayer && window.dataLayer.some("
        "a => a[0] === 'consent' && a[1] === 'update' && a[2].analytics_storage === 'granted')"
    )


def assert_statistics_started(visitor: Visitor) -> None:
    assert_google_started(visitor)
    assert any(JETPACK_LOADER.match(src) for src in live_scripts(visitor))


def wait_for_requests(visitor: Visitor, *hosts: str) -> None:
    for _ in range(100):
        if asked_for(visitor, *hosts):
            return
        visitor.page.wait_for_timeout(20)
    raise AssertionError(f"no request to {hosts}: {visitor.blocked}")


@pytest.mark.browser
def test_banner_takes_focus_and_nothing_runs_before_a_choice(js_visitor: Visitor) -> None:
    load(js_visitor)
    expect(banner(js_visitor)).to_be_visible()
    assert focused_id(js_visitor) == "consentgate-banner"
    expect(banner(js_visitor)).to_have_attribute("role", "region")
    assert categories(js_visitor) == []
    assert live_scripts(js_visitor) == []
    expect(js_visitor.page.locator(OTHER_SCRIPTS)).to_have_count(0)
    assert js_visitor.blocked == []


@pytest.mark.browser
def test_accept_all_starts_every_provider_without_a_reload(js_visitor: Visitor) -> None:
    stay = load(js_visitor)
    choose(js_visitor, ACCEPT_ALL)

    stay.check()
    assert_statistics_started(js_visitor)
    assert BUFFER_LOADER in live_scripts(js_visitor)
    wait_for_requests(js_visitor, *STATISTICS_HOSTS)
    wait_for_requests(js_visitor, "static.bufferapp.com")
    assert categories(js_visitor) == ["marketing", "statistics"]
    assert changes(js_visitor) == [
        {"categories": ["marketing", "statistics"], "action": "accept_all"}
    ]
    expect(settings_link(js_visitor)).to_have_text(SETTINGS)
    assert js_visitor.me()["granted"] == ["marketing", "statistics"]
    # Focus was on the page itself before the banner took it: rather than lose it on
    # <body>, it goes to the link that takes the banner's place.
    assert focused_id(js_visitor) == "consentgate-settings"


@pytest.mark.browser
def test_the_script_sends_global_privacy_control_with_the_choice(js_visitor: Visitor) -> None:
    """A browser whose script sees navigator.globalPrivacyControl, where a proxy dropped
    Sec-GPC (Chromium sends none): Accept all leaves marketing out all the same."""
    js_visitor.page.add_init_script(
        'Object.defineProperty(Navigator.prototype, "globalPrivacyControl", {get: () => true})'
    )
    stay = load(js_visitor)
    choose(js_visitor, ACCEPT_ALL)

    stay.check()
    assert_statistics_started(js_visitor)
    assert BUFFER_LOADER not in live_scripts(js_visitor)
    assert categories(js_visitor) == ["statistics"]
    assert js_visitor.me()["granted"] == ["statistics"]


@pytest.mark.browser
def test_reject_all_starts_nothing_and_leaves_the_settings_link(js_visitor: Visitor) -> None:
    stay = load(js_visitor)
    choose(js_visitor, REJECT_ALL)

    stay.check()
    expect(settings_link(js_visitor)).to_be_visible()
    js_visitor.page.wait_for_timeout(200)
    assert live_scripts(js_visitor) == []
    assert js_visitor.blocked == []
    assert categories(js_visitor) == []
    assert changes(js_visitor) == [{"categories": [], "action": "reject_all"}]
    assert js_visitor.me() | {"consent_id": None, "decided_at": None} == {
        "consent_id": None,
        "decided_at": None,
        "has_choice": True,
        "granted": [],
        "providers": [],
        "allowed_providers": [],
        "lapsed": [],
        "policy_version": "2026-11",
    }


@pytest.mark.browser
def test_save_statistics_starts_only_statistics(js_visitor: Visitor) -> None:
    stay = load(js_visitor)
    choose(js_visitor, SAVE, "statistics")

    stay.check()
    assert_statistics_started(js_visitor)
    assert BUFFER_LOADER not in live_scripts(js_visitor)
    wait_for_requests(js_visitor, *STATISTICS_HOSTS)
    assert asked_for(js_visitor, "static.bufferapp.com") == []
    assert categories(js_visitor) == ["statistics"]
    assert changes(js_visitor)[-1] == {"categories": ["statistics"], "action": "save"}


@pytest.mark.browser
def test_settings_link_reopens_the_choice_in_a_dialog(js_visitor: Visitor) -> None:
    load(js_visitor)
    choose(js_visitor, REJECT_ALL)
    stay = Stay(js_visitor)
    link = settings_link(js_visitor)
    link.focus()
    link.click()

    dialog = banner(js_visitor)
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("role", "dialog")
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog.get_by_role("heading", level=1)).to_have_text(SETTINGS)
    assert focus_is_inside(js_visitor, "#consentgate-banner")
    for category in ("statistics", "marketing"):
        expect(dialog.locator(f'input[value="{category}"]')).not_to_be_checked()
    # The rest of the page is out of reach while the dialog is open, and Tab stays inside.
    assert js_visitor.page.evaluate("document.querySelector('main').inert") is True
    assert_tab_wraps_inside_the_banner(js_visitor)

    # Escape closes it without a choice; focus returns to the link.
    js_visitor.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert focused_id(js_visitor) == "consentgate-settings"
    assert js_visitor.page.evaluate("document.querySelector('main').inert") is False
    assert changes(js_visitor) == [{"categories": [], "action": "reject_all"}]
    stay.check()


@pytest.mark.browser
def test_open_changes_the_choice_and_starts_what_it_grants(js_visitor: Visitor) -> None:
    load(js_visitor)
    choose(js_visitor, REJECT_ALL)
    stay = Stay(js_visitor)

    js_visitor.page.evaluate("window.consentgate.open()")
    expect(banner(js_visitor)).to_be_visible()
    assert js_visitor.blocked == []
    choose(js_visitor, SAVE, "statistics")

    stay.check()
    assert_statistics_started(js_visitor)
    wait_for_requests(js_visitor, *STATISTICS_HOSTS)
    assert categories(js_visitor) == ["statistics"]
    assert changes(js_visitor)[-1] == {"categories": ["statistics"], "action": "save"}
    assert js_visitor.me()["granted"] == ["statistics"]

    # Reopened, the dialog shows the current choice.
    js_visitor.page.evaluate("window.consentgate.open()")
    expect(banner(js_visitor).locator('input[value="statistics"]')).to_be_checked()
    expect(banner(js_visitor).locator('input[value="marketing"]')).not_to_be_checked()


@pytest.mark.browser
def test_withdrawing_reloads_where_a_provider_cannot_be_stopped(js_visitor: Visitor) -> None:
    load(js_visitor)
    choose(js_visitor, ACCEPT_ALL)
    consent_id = js_visitor.me()["consent_id"]

    # Jetpack Stats and Buffer cannot be stopped once started: the page reloads.
    js_visitor.page.evaluate("window.consentgate.open()")
    with js_visitor.page.expect_navigation(url=js_visitor.url(PAGE)):
        banner(js_visitor).get_by_role("button", name=REJECT_ALL, exact=True).click()
    expect(settings_link(js_visitor)).to_be_visible()
    assert live_scripts(js_visitor) == []
    expect(js_visitor.page.locator(OTHER_SCRIPTS)).to_have_count(0)
    assert categories(js_visitor) == []
    me = js_visitor.me()
    assert me["granted"] == [] and me["consent_id"] == consent_id


@pytest.mark.browser
def test_keyboard_alone_can_choose_and_escape_is_no_choice(js_visitor: Visitor) -> None:
    stay = load(js_visitor)
    keyboard = js_visitor.page.keyboard
    assert focused_id(js_visitor) == "consentgate-banner"

    keyboard.press("Escape")
    expect(banner(js_visitor)).to_be_visible()
    assert js_visitor.me()["has_choice"] is False

    # Tab to the statistics box, tick it with Space, Tab on to "Save choices", press Enter.
    for _ in range(20):
        keyboard.press("Tab")
        if js_visitor.page.evaluate("document.activeElement.value") == "statistics":
            break
    keyboard.press("Space")
    for _ in range(20):
        keyboard.press("Tab")
        if js_visitor.page.evaluate("document.activeElement.value") == "save":
            break
    # The focused control shows it.
    outline = js_visitor.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    keyboard.press("Enter")
    expect(banner(js_visitor)).to_have_count(0)

    stay.check()
    assert js_visitor.me()["granted"] == ["statistics"]
    assert categories(js_visitor) == ["statistics"]


def as_dialog(route: Route) -> None:
    """The demo page with the banner configured as a centred dialog."""
    response = route.fetch()
    body = response.text().replace(
        'id="consentgate-banner"', 'id="consentgate-banner" data-position="dialog"'
    )
    route.fulfill(response=response, body=body)


@pytest.mark.browser
def test_dialog_banner_is_modal_and_traps_focus(js_visitor: Visitor) -> None:
    js_visitor.page.route(js_visitor.url(PAGE), as_dialog)
    load(js_visitor)
    dialog = banner(js_visitor)
    expect(dialog).to_have_attribute("role", "dialog")
    expect(dialog).to_have_attribute("aria-modal", "true")
    assert js_visitor.page.evaluate("document.querySelector('main').inert") is True
    assert_tab_wraps_inside_the_banner(js_visitor)
    js_visitor.page.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    choose(js_visitor, REJECT_ALL)
    assert js_visitor.page.evaluate("document.querySelector('main').inert") is False


@pytest.fixture
def mobile_visitor(browser: Browser, demo_url: str) -> Iterator[Visitor]:
    with open_visitor(browser, demo_url, javascript=True, viewport=MOBILE) as visitor:
        yield visitor
    assert visitor.errors == []


def no_horizontal_scroll(visitor: Visitor) -> bool:
    result: bool = visitor.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return result


@pytest.mark.browser
def test_mobile_banner_is_usable(mobile_visitor: Visitor) -> None:
    stay = load(mobile_visitor)
    form = banner(mobile_visitor)
    expect(form).to_be_visible()
    assert no_horizontal_scroll(mobile_visitor)
    box = form.bounding_box()
    assert box is not None and box["width"] <= MOBILE["width"]
    for name in (ACCEPT_ALL, REJECT_ALL, SAVE):
        button = form.get_by_role("button", name=name, exact=True)
        button.scroll_into_view_if_needed()
        button_box = button.bounding_box()
        assert button_box is not None
        assert 0 <= button_box["x"] and button_box["x"] + button_box["width"] <= MOBILE["width"]
        assert 0 <= button_box["y"] and button_box["y"] + button_box["height"] <= MOBILE["height"]
        assert button_box["height"] >= 44  # a finger's width

    choose(mobile_visitor, SAVE, "marketing")
    stay.check()
    assert categories(mobile_visitor) == ["marketing"]

    mobile_visitor.page.evaluate("window.consentgate.open()")
    dialog = banner(mobile_visitor)
    expect(dialog).to_be_visible()
    assert no_horizontal_scroll(mobile_visitor)
    dialog_box = dialog.bounding_box()
    assert dialog_box is not None
    assert dialog_box["x"] >= 0 and dialog_box["x"] + dialog_box["width"] <= MOBILE["width"]
    save = dialog.get_by_role("button", name=SAVE, exact=True)
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()


@pytest.mark.browser
def test_the_banner_overlays_the_page_without_shifting_it(js_visitor: Visitor) -> None:
    js_visitor.page.add_init_script(
        "window.__shift = 0; new PerformanceObserver(l => l.getEntries().forEach("
        "e => { window.__shift += e.value; })).observe({type: 'layout-shift', buffered: true});"
    )
    load(js_visitor)
    heading = js_visitor.page.locator("main h1")
    before = heading.bounding_box()
    expect(banner(js_visitor)).to_have_css("position", "fixed")
    choose(js_visitor, REJECT_ALL)
    assert heading.bounding_box() == before
    js_visitor.page.wait_for_timeout(100)
    assert js_visitor.page.evaluate("window.__shift") == 0


@pytest.mark.browser
def test_preferences_page_saves_in_the_background(js_visitor: Visitor) -> None:
    stay = load(js_visitor, "/_consent/preferences?next=/contact")
    form = js_visitor.page.locator("form.cg-preferences-form")
    status = js_visitor.page.get_by_role("status")
    expect(status).to_have_text("")
    form.locator('input[value="marketing"]').check()
    form.get_by_role("button", name=SAVE, exact=True).click()

    expect(status).to_have_text(re.compile(r"\S"))
    stay.check()
    assert js_visitor.me()["granted"] == ["marketing"]
    assert categories(js_visitor) == ["marketing"]
    # Nothing of a provider runs on consentgate's own page.
    assert live_scripts(js_visitor) == []
    assert js_visitor.blocked == []


RECORD_CSP_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture(scope="module")
def strict_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:strict", tmp_path_factory.mktemp("strict-site"))


@pytest.mark.browser
def test_providers_start_under_a_strict_csp(browser: Browser, strict_url: str) -> None:
    with open_visitor(browser, strict_url, javascript=True) as visitor:
        visitor.page.add_init_script(RECORD_CSP_VIOLATIONS)
        response = visitor.goto(PAGE)
        assert "'nonce-" in response.headers["content-security-policy"]
        stay = Stay(visitor)
        expect(banner(visitor)).to_be_focused()  # the script ran: it had the page's nonce
        choose(visitor, ACCEPT_ALL)

        stay.check()
        # Inline snippets ran (Consent Mode's update is in the dataLayer), external ones were
        # requested, Jetpack's style went in: all carried the nonce the script passed on, or
        # the browser would have reported a violation.
        assert_statistics_started(visitor)
        wait_for_requests(visitor, *STATISTICS_HOSTS, "static.bufferapp.com")
        expect(visitor.page.locator("head style")).to_have_count(1)
        assert visitor.page.evaluate("window.__violations") == []
    assert visitor.errors == []


@pytest.fixture(scope="module")
def google_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve("tests.browser.sites:google", tmp_path_factory.mktemp("google-site"))


@pytest.mark.browser
def test_withdrawing_google_tags_updates_consent_mode_without_a_reload(
    browser: Browser, google_url: str
) -> None:
    with open_visitor(browser, google_url, javascript=True) as visitor:
        load(visitor)
        choose(visitor, ACCEPT_ALL)
        assert_google_started(visitor)
        stay = Stay(visitor)

        visitor.page.evaluate("window.consentgate.open()")
        choose(visitor, REJECT_ALL)

        # Google's tags stay loaded but are told to store and send nothing identifying.
        visitor.page.wait_for_function(
            "() => window.dataLayer.some(a => a[0] === 'consent' && a[1] === 'update'"
            " && a[2].analytics_storage === 'denied')"
        )
        stay.check()
        assert categories(visitor) == []
        assert changes(visitor)[-1] == {"categories": [], "action": "reject_all"}
        assert visitor.me()["granted"] == []
    assert visitor.errors == []


@pytest.mark.browser
def test_opening_twice_at_once_gives_one_dialog(js_visitor: Visitor) -> None:
    load(js_visitor)
    choose(js_visitor, REJECT_ALL)
    js_visitor.page.evaluate("consentgate.open(); consentgate.open()")
    expect(banner(js_visitor)).to_be_visible()
    js_visitor.page.evaluate("consentgate.open()")
    expect(js_visitor.page.locator(".cg-settings")).to_have_count(1)


def box(scope: Locator, name: str, value: str) -> Locator:
    return scope.locator(f'input[name="{name}"][value="{value}"]')


def indeterminate(checkbox: Locator) -> bool:
    result: bool = checkbox.evaluate("box => box.indeterminate")
    return result


@pytest.mark.browser
def test_a_categorys_toggle_sets_its_providers_and_follows_them(js_visitor: Visitor) -> None:
    stay = load(js_visitor, "/_consent/preferences?next=/contact")
    form = js_visitor.page.locator("form.cg-preferences-form")
    statistics = box(form, "categories", "statistics")
    tools = [box(form, "providers", name) for name in ("google-analytics", "site-kit")]

    statistics.check()
    for tool in tools:
        expect(tool).to_be_checked()
    # One provider off: the category is no longer all on, but some are.
    tools[0].uncheck()
    expect(statistics).not_to_be_checked()
    assert indeterminate(statistics)
    form.get_by_role("button", name=SAVE, exact=True).click()
    expect(js_visitor.page.get_by_role("status")).to_have_text(re.compile(r"\S"))
    stay.check()
    me = js_visitor.me()
    assert me["granted"] == [] and me["providers"] == ["jetpack-stats", "site-kit"]
    assert categories(js_visitor) == []

    # Shown again, the page says what is on; all providers on again makes the category on.
    js_visitor.goto("/_consent/preferences?next=/contact")
    form = js_visitor.page.locator("form.cg-preferences-form")
    statistics = box(form, "categories", "statistics")
    expect(statistics).not_to_be_checked()
    assert indeterminate(statistics)
    expect(box(form, "providers", "google-analytics")).not_to_be_checked()
    box(form, "providers", "google-analytics").check()
    expect(statistics).to_be_checked()
    assert not indeterminate(statistics)
    statistics.uncheck()
    expect(box(form, "providers", "jetpack-stats")).not_to_be_checked()


@pytest.mark.browser
def test_the_dialogs_buttons_cover_what_scrolls_beneath_them(js_visitor: Visitor) -> None:
    """Stuck buttons with a gap under them let the categories show through below the buttons."""
    load(js_visitor)
    choose(js_visitor, REJECT_ALL)
    js_visitor.page.evaluate("window.consentgate.open()")
    dialog = banner(js_visitor)
    expect(dialog).to_be_visible()
    # Halfway down, so rows are scrolled both above and beneath the buttons.
    dialog.evaluate("d => { d.scrollTop = (d.scrollHeight - d.clientHeight) / 2; }")
    beneath = dialog.evaluate(
        """d => {
            const box = d.getBoundingClientRect(), actions = d.querySelector('.cg-actions');
            const bottom = actions.getBoundingClientRect().bottom;
            const found = [];
            for (let y = bottom + 1; y < box.bottom - 1; y += 2) {
                const hit = document.elementFromPoint(box.left + box.width / 2, y);
                if (hit && hit !== d && !actions.contains(hit)) {
                    found.push(hit.outerHTML.slice(0, 80));
                }
            }
            return found;
        }"""
    )
    assert beneath == []


@pytest.mark.browser
def test_the_settings_dialog_has_the_provider_toggles_too(js_visitor: Visitor) -> None:
    load(js_visitor)
    choose(js_visitor, REJECT_ALL)
    js_visitor.page.evaluate("window.consentgate.open()")
    dialog = banner(js_visitor)
    expect(dialog).to_be_visible()
    box(dialog, "providers", "buffer").check()
    assert indeterminate(box(dialog, "categories", "marketing"))  # one of Buffer and YouTube
    box(dialog, "providers", "youtube").check()
    assert indeterminate(box(dialog, "categories", "marketing")) is False  # both: all of it
    expect(box(dialog, "categories", "marketing")).to_be_checked()
    box(dialog, "providers", "site-kit").check()
    assert indeterminate(box(dialog, "categories", "statistics"))
    choose(js_visitor, SAVE)
    me = js_visitor.me()
    assert me["granted"] == ["marketing"] and me["providers"] == ["site-kit"]
