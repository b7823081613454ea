"""consentgate.css in Chromium: colour schemes, the theme hook, positions, motion, site overrides.

JavaScript is off: the stylesheet alone does all of this.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from consentgate import Theme
from consentgate._theme import theme_css

from .helpers import CHROMIUM, VIEWPORT, Visitor, open_visitor

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

PAGE = "/services"
LIGHT_BG = "rgb(255, 255, 255)"
DARK_BG = "rgb(30, 31, 36)"


@pytest.fixture
def dark_visitor(browser: Browser, demo_url: str) -> Iterator[Visitor]:
    with open_visitor(browser, demo_url, javascript=False, color_scheme="dark") as visitor:
        yield visitor


def banner(visitor: Visitor) -> Locator:
    visitor.goto(PAGE)
    locator = visitor.page.locator("#consentgate-banner")
    expect(locator).to_be_visible()
    return locator


def style(locator: Locator, name: str) -> str:
    value: str = locator.evaluate("(el, name) => getComputedStyle(el)[name]", name)
    return value


def set_root(visitor: Visitor, attribute: str, value: str) -> None:
    visitor.page.evaluate(
        "([a, v]) => document.documentElement.setAttribute(a, v)", [attribute, value]
    )


@pytest.mark.browser
def test_dark_mode_follows_the_system_unless_the_page_says_light(dark_visitor: Visitor) -> None:
    box = banner(dark_visitor)
    assert style(box, "backgroundColor") == DARK_BG
    assert style(box, "colorScheme") == "dark"
    set_root(dark_visitor, "data-cg-theme", "light")
    assert style(box, "backgroundColor") == LIGHT_BG
    assert style(box, "colorScheme") == "light"


@pytest.mark.browser
def test_the_page_can_ask_for_dark(visitor: Visitor) -> None:
    box = banner(visitor)
    assert style(box, "backgroundColor") == LIGHT_BG
    set_root(visitor, "data-cg-theme", "dark")
    assert style(box, "backgroundColor") == DARK_BG


@pytest.mark.browser
def test_a_plain_root_rule_of_the_site_wins(visitor: Visitor) -> None:
    box = banner(visitor)
    visitor.page.evaluate(
        "css => document.head.append(Object.assign(document.createElement('style'),"
        " {textContent: css}))",
        ":root { --cg-accent: #123456; --cg-radius: 0px; }",
    )
    button = box.locator('button[value="accept_all"]')
    assert style(button, "backgroundColor") == "rgb(18, 52, 86)"
    assert style(button, "borderTopLeftRadius") == "0px"


@pytest.mark.browser
def test_positions(visitor: Visitor) -> None:
    visitor.page.emulate_media(reduced_motion="reduce")  # boxes without the entrance animation
    box = banner(visitor)
    width, height = VIEWPORT["width"], VIEWPORT["height"]
    # bar: across the bottom.
    bar = box.bounding_box()
    assert bar is not None
    assert bar["x"] == 0 and bar["width"] == width
    assert bar["y"] + bar["height"] == height
    # box: a corner box, bottom right.
    box.evaluate("el => el.dataset.position = 'box'")
    corner = box.bounding_box()
    assert corner is not None
    assert corner["width"] <= 26 * 16 and corner["x"] > width / 2
    assert height - 32 <= corner["y"] + corner["height"] <= height
    # dialog: centred.
    box.evaluate("el => el.dataset.position = 'dialog'")
    centred = box.bounding_box()
    assert centred is not None
    assert abs(centred["x"] + centred["width"] / 2 - width / 2) <= 1
    assert abs(centred["y"] + centred["height"] / 2 - height / 2) <= 1
    for position in ("bar", "box", "dialog"):
        box.evaluate("(el, p) => el.dataset.position = p", position)
        assert style(box, "position") == "fixed"


@pytest.mark.browser
def test_reduced_motion_turns_the_entrance_animation_off(visitor: Visitor) -> None:
    box = banner(visitor)
    assert style(box, "animationName") == "cg-in"
    visitor.page.emulate_media(reduced_motion="reduce")
    assert style(box, "animationName") == "none"


def add_stylesheet(visitor: Visitor, css: str) -> None:
    visitor.page.evaluate(
        "css => document.head.append(Object.assign(document.createElement('style'),"
        " {textContent: css}))",
        css,
    )


@pytest.mark.browser
def test_a_configured_theme_follows_the_page_hook_too(dark_visitor: Visitor) -> None:
    # The theme's stylesheet comes after consentgate.css, as the middleware links it.
    theme = Theme(background="#fdf6e3", text="#1b1b1f", dark={"background": "#002b36"})
    box = banner(dark_visitor)
    add_stylesheet(dark_visitor, theme_css(theme))
    assert style(box, "backgroundColor") == "rgb(0, 43, 54)"
    set_root(dark_visitor, "data-cg-theme", "light")
    assert style(box, "backgroundColor") == "rgb(253, 246, 227)"
    # ... and a site's own plain :root rule still wins over the theme.
    add_stylesheet(dark_visitor, ":root { --cg-bg: #123456; }")
    assert style(box, "backgroundColor") == "rgb(18, 52, 86)"
