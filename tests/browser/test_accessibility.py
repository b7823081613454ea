"""axe-core finds nothing wrong with the banner, the settings dialog and the preference centre.

axe-core comes from npm (package.json pins it; the ``axe_script`` fixture runs ``npm ci``)
and is injected from the local file: the browser fetches nothing from elsewhere. Each view
is checked with Chromium in light and in dark mode, against WCAG 2.0-2.2 A and AA.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, expect

from .helpers import CHROMIUM, Visitor, open_visitor
from .test_expired_form import serve_with_a_stale_token

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PAGE = "/services"

Scheme = Literal["light", "dark"]


@pytest.fixture(params=["light", "dark"])
def scheme_visitor(
    request: pytest.FixtureRequest, browser: Browser, demo_url: str
) -> Iterator[Visitor]:
    scheme: Scheme = request.param
    with open_visitor(browser, demo_url, javascript=True, color_scheme=scheme) as visitor:
        yield visitor
    assert visitor.errors == []


def axe(visitor: Visitor, script: Path, context: str | None = None) -> list[dict[str, Any]]:
    """The violations axe-core finds in ``context`` (a selector), or in the whole page."""
    page = visitor.page
    page.add_script_tag(path=script)
    violations: list[dict[str, Any]] = page.evaluate(
        """([context, tags]) => axe.run(context ? document.querySelector(context) : document,
            {runOnly: {type: "tag", values: tags}}).then(r => r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)})))""",
        [context, TAGS],
    )
    return violations


def settled(visitor: Visitor) -> None:
    """Wait until the banner's entrance animation is over (axe reads colours as shown)."""
    visitor.page.wait_for_function(
        "() => document.getAnimations().every(a => a.playState === 'finished')"
    )


@pytest.mark.browser
def test_banner_has_no_violations(scheme_visitor: Visitor, axe_script: Path) -> None:
    scheme_visitor.goto(PAGE)
    expect(scheme_visitor.page.locator("#consentgate-banner")).to_be_visible()
    settled(scheme_visitor)
    assert axe(scheme_visitor, axe_script, "#consentgate-banner") == []


@pytest.mark.browser
def test_settings_dialog_has_no_violations(scheme_visitor: Visitor, axe_script: Path) -> None:
    scheme_visitor.goto(PAGE)
    banner = scheme_visitor.page.locator("#consentgate-banner")
    banner.locator('button[value="reject_all"]').click()
    expect(banner).to_have_count(0)
    scheme_visitor.page.locator("#consentgate-settings").click()
    expect(banner).to_have_attribute("role", "dialog")
    settled(scheme_visitor)
    assert axe(scheme_visitor, axe_script, "#consentgate-banner") == []
    assert axe(scheme_visitor, axe_script, "#consentgate-settings") == []


@pytest.mark.browser
def test_preferences_page_has_no_violations(scheme_visitor: Visitor, axe_script: Path) -> None:
    scheme_visitor.goto("/_consent/preferences?next=/services")
    assert axe(scheme_visitor, axe_script) == []


@pytest.mark.browser
def test_confirm_page_for_an_expired_form_has_no_violations(
    scheme_visitor: Visitor, axe_script: Path
) -> None:
    serve_with_a_stale_token(scheme_visitor)
    scheme_visitor.goto(PAGE)
    banner = scheme_visitor.page.locator("#consentgate-banner")
    banner.locator('input[name="categories"][value="statistics"]').check()
    banner.locator('button[value="save"]').click()
    expect(scheme_visitor.page.locator("form.cg-confirm-form")).to_be_visible()
    assert axe(scheme_visitor, axe_script) == []


@pytest.mark.browser
def test_record_and_erase_pages_have_no_violations(
    scheme_visitor: Visitor, axe_script: Path
) -> None:
    scheme_visitor.goto(PAGE)
    banner = scheme_visitor.page.locator("#consentgate-banner")
    banner.locator('button[value="accept_all"]').click()
    expect(banner).to_have_count(0)
    scheme_visitor.goto("/_consent/me/record?next=/services")
    expect(scheme_visitor.page.locator("ol.cg-history > li")).to_have_count(1)
    assert axe(scheme_visitor, axe_script) == []
    scheme_visitor.goto("/_consent/me/erase?next=/services")
    assert axe(scheme_visitor, axe_script) == []


@pytest.mark.browser
def test_embed_placeholder_has_no_violations(scheme_visitor: Visitor, axe_script: Path) -> None:
    scheme_visitor.goto("/video")
    placeholder = scheme_visitor.page.locator(".cg-embed")
    expect(placeholder).to_be_visible()
    assert axe(scheme_visitor, axe_script, ".cg-embed") == []


@pytest.mark.browser
def test_embed_placeholder_by_keyboard(scheme_visitor: Visitor) -> None:
    """Tab reaches the privacy link and both buttons in reading order; Enter loads the video
    in place and focus moves to it."""
    page = scheme_visitor.page
    scheme_visitor.goto("/video")
    load = page.get_by_role("button", name="Indlæs video: Dashboards in ten minutes")
    link = page.get_by_role("link", name="Privatlivspolitik for YouTube")
    always = page.get_by_role("button", name="Tillad altid YouTube")
    link.focus()
    page.keyboard.press("Tab")
    expect(load).to_be_focused()
    page.keyboard.press("Tab")
    expect(always).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    frame = page.locator('iframe[title="Dashboards in ten minutes"]')
    expect(frame).to_be_visible()
    expect(frame).to_be_focused()
    expect(page.locator(".cg-embed")).to_have_count(0)
