"""Theme: strict checks (nothing breaks out of CSS), the generated stylesheet, serving it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from consentgate import ConfigurationError, Theme
from consentgate._theme import DARK_COLORS, LIGHT_COLORS, theme_css

from .helpers import client_for, make_app, make_config

ROOT = Path(__file__).resolve().parents[1]


def theme_error(**settings: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        make_config(theme=Theme(**settings))
    return caught.value


# -- what is accepted ---------------------------------------------------------------


@pytest.mark.parametrize(
    "color",
    [
        "#fff",
        "#FFFF",
        "#1d4ed8",
        "#1d4ed880",
        "rgb(29, 78, 216)",
        "rgb(29 78 216 / 50%)",
        "rgba(0,0,0,.5)",
        "hsl(221 83% 48%)",
        "hsla(221deg, 83%, 48%, 0.9)",
        "rebeccapurple",
        "DarkSlateGray",
        "transparent",
    ],
)
def test_css_colours_are_accepted(color: str) -> None:
    config = make_config(theme=Theme(border=color, dark={"border": color}))
    assert config.theme is not None and config.theme.border == color


@pytest.mark.parametrize(
    "color",
    [
        "red; background: url(https://evil.example/x)",
        "#fff}body{display:none",
        "#fff</style><script>alert(1)</script>",
        "url(https://evil.example/x.png)",
        "rgb(1,2,3));x:y",
        "rgb(1, 2)",
        "rgb(a, b, c)",
        "rgb(1\n2 3)",
        "var(--x)",
        "expression(alert(1))",
        "#ff",
        "#fffff",
        "reddish",
        "",
        " #fff",
    ],
)
def test_anything_else_is_refused_naming_the_field(color: str) -> None:
    assert theme_error(accent=color).field == "theme.accent"
    assert theme_error(dark={"border": color}).field == "theme.dark.border"


@given(
    st.text(min_size=1).filter(lambda s: any(c in s for c in ";{}<>\"'\\\n") or "url" in s.lower())
)
def test_no_colour_with_a_css_or_html_breakout_character_is_accepted(value: str) -> None:
    with pytest.raises(ConfigurationError):
        Theme(text=value).validate("theme")


@given(st.text(max_size=40))
def test_every_accepted_value_is_plain_css(value: str) -> None:
    """Whatever passes the checks holds no character that could end a declaration or rule."""
    for theme in (Theme(background=value), Theme(font=value), Theme(radius=value)):
        try:
            theme.validate("theme")
        except ConfigurationError:
            continue
        assert not set(value) & set(";{}<>\\\n\r@"), value
        assert "url(" not in value.lower() and "/*" not in value


@pytest.mark.parametrize(
    ("settings", "field", "ratio"),
    [
        ({"accent": "#fdba74"}, "theme.accent", "1.69:1"),  # light orange links on white
        ({"accent_text": "#93c5fd"}, "theme.accent_text", "3.72:1"),
        ({"text": "#aaa"}, "theme.text", "2.32:1"),
        ({"muted": "rgb(170, 170, 170)"}, "theme.muted", "2.32:1"),
        ({"background": "hsl(0 0% 10%)"}, "theme.background", "1.02:1"),
        ({"dark": {"text": "#333"}}, "theme.dark.text", "1.30:1"),
    ],
)
def test_unreadable_colours_are_refused_with_the_contrast(
    settings: dict[str, Any], field: str, ratio: str
) -> None:
    error = theme_error(**settings)
    assert error.field == field
    assert f"{ratio}" in str(error) and "4.5:1" in str(error)


def test_readable_colours_and_unmeasurable_ones_pass() -> None:
    make_config(theme=Theme(accent="#9a3412", text="hsl(20 14% 10%)", muted="rgb(87 83 78)"))
    # named and translucent colours are taken on trust
    make_config(theme=Theme(accent="orange", text="#0000", background="rgb(0 0 0 / 0.5)"))
    # the dark defaults are not held against light choices when dark mode is off
    make_config(theme=Theme(background="#fafafa", text="#111", dark_mode=False))


def test_dark_colours_with_dark_mode_off_are_refused() -> None:
    error = theme_error(dark={"accent": "#fdba74"}, dark_mode=False)
    assert error.field == "theme.dark"
    assert "no effect" in str(error)


def test_a_colour_must_be_a_string() -> None:
    assert theme_error(text=123).field == "theme.text"


def test_dark_colours_must_be_a_table() -> None:
    assert theme_error(dark="#000").field == "theme.dark"


def test_unknown_dark_colour_is_refused() -> None:
    error = theme_error(dark={"acent": "#fff"})
    assert error.field == "theme.dark.acent"
    assert "accent" in str(error)


@pytest.mark.parametrize(
    "font",
    [
        "system-ui, sans-serif",
        '"Source Sans 3", -apple-system, "Segoe UI", Roboto, sans-serif',
        "'Noto Sans', Helvetica Neue, Arial",
        "Georgia",
    ],
)
def test_font_family_lists_are_accepted(font: str) -> None:
    make_config(theme=Theme(font=font))


@pytest.mark.parametrize(
    "font",
    [
        "Arial; color: red",
        "Arial}",
        '"Arial',
        "Arial, url(x)",
        "Arial,,serif",
        "",
        "a" * 400,
        '"Evil\\"", serif',
        "Arial\n",
        "Arial,\tserif",
    ],
)
def test_other_fonts_are_refused(font: str) -> None:
    assert theme_error(font=font).field == "theme.font"


@pytest.mark.parametrize("radius", ["0", "6px", "0.5rem", ".25em", "50%", 0, 12])
def test_radius_lengths_are_accepted(radius: str | int) -> None:
    make_config(theme=Theme(radius=radius))


@pytest.mark.parametrize("radius", ["6", "-1px", "6px;", "1e3px", "calc(1px)", -1, 1000, True, 1.5])
def test_other_radii_are_refused(radius: Any) -> None:
    assert theme_error(radius=radius).field == "theme.radius"


def test_unknown_position_is_refused() -> None:
    error = theme_error(position="top")
    assert error.field == "theme.position"
    assert "bar, box, dialog" in str(error)


@pytest.mark.parametrize("name", ["dark_mode", "shadow"])
def test_switches_must_be_booleans(name: str) -> None:
    assert theme_error(**{name: "yes"}).field == f"theme.{name}"


def test_theme_must_be_a_theme() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(theme={"accent": "#fff"})
    assert caught.value.field == "theme"


# -- the stylesheet ------------------------------------------------------------------


def declarations(css: str) -> tuple[dict[str, str], dict[str, str]]:
    """The custom properties of the light rule and of the dark media query."""
    light_part, _, dark_part = css.partition("@media (prefers-color-scheme: dark)")
    pattern = re.compile(r"(--cg-[a-z-]+):\s*([^;]+);")
    return dict(pattern.findall(light_part)), dict(pattern.findall(dark_part))


def test_stylesheet_sets_the_custom_properties_the_banner_css_reads() -> None:
    theme = Theme(
        background="#fffaf0",
        text="#222",
        muted="#555",
        accent="#c2410c",
        accent_text="white",
        border="rgb(200 200 200)",
        font='"Source Sans 3", sans-serif',
        radius="0",
        shadow=False,
        dark={"accent": "#fdba74", "background": "#1c1917"},
    )
    light, dark = declarations(theme_css(theme))
    assert light == {
        "--cg-bg": "#fffaf0",
        "--cg-fg": "#222",
        "--cg-muted": "#555",
        "--cg-accent": "#c2410c",
        "--cg-accent-fg": "white",
        "--cg-border": "rgb(200 200 200)",
        "--cg-font": '"Source Sans 3", sans-serif',
        "--cg-radius": "0",
        "--cg-shadow": "none",
    }
    assert dark == {
        "--cg-bg": "#1c1917",
        "--cg-fg": DARK_COLORS["text"],
        "--cg-muted": DARK_COLORS["muted"],
        "--cg-accent": "#fdba74",
        "--cg-accent-fg": DARK_COLORS["accent_text"],
        "--cg-border": DARK_COLORS["border"],
    }


def test_colours_left_out_keep_the_defaults_of_both_schemes() -> None:
    light, dark = declarations(theme_css(Theme(accent="#c2410c")))
    assert light["--cg-accent"] == "#c2410c"
    assert light["--cg-bg"] == LIGHT_COLORS["background"]
    # the site's light accent must not leak into dark mode
    assert dark["--cg-accent"] == DARK_COLORS["accent"]
    assert "--cg-font" not in light and "--cg-radius" not in light and "--cg-shadow" not in light


def test_without_dark_mode_the_light_colours_hold_for_everyone() -> None:
    css = theme_css(Theme(accent="#c2410c", dark_mode=False))
    assert "prefers-color-scheme" not in css
    assert declarations(css)[0]["--cg-accent"] == "#c2410c"
    assert declarations(css)[0]["--cg-scheme"] == "light"
    assert "--cg-scheme" not in theme_css(Theme())


def test_integer_radius_is_pixels() -> None:
    assert declarations(theme_css(Theme(radius=12)))[0]["--cg-radius"] == "12px"
    assert declarations(theme_css(Theme(radius=0)))[0]["--cg-radius"] == "0"


def shipped_palettes(css: str) -> tuple[dict[str, str], dict[str, str]]:
    """The custom properties of consentgate.css's first rule and of its dark media query."""
    pattern = re.compile(r"(--cg-[a-z-]+):\s*([^;}]+?)\s*[;}]")
    light_block = css[css.index("{") : css.index("}")]
    media = css[css.index("@media (prefers-color-scheme: dark)") :]
    dark_block = media[media.index("{", media.index("{") + 1) : media.index("}")]
    return dict(pattern.findall(light_block)), dict(pattern.findall(dark_block))


def normal(color: str) -> str:
    """#fff and #FFFFFF are one colour."""
    color = color.lower()
    if re.fullmatch(r"#[0-9a-f]{3}", color):
        return "#" + "".join(c * 2 for c in color[1:])
    return color


def test_default_palettes_match_the_shipped_stylesheet() -> None:
    """A theme restates every colour; its defaults must be consentgate.css's own."""
    light, dark = shipped_palettes((ROOT / "static" / "consentgate.css").read_text())
    ours_light, ours_dark = declarations(theme_css(Theme()))
    for shipped, ours in ((light, ours_light), (dark, ours_dark)):
        shared = sorted(set(shipped) & set(ours))
        assert {"--cg-bg", "--cg-fg", "--cg-accent", "--cg-border"} <= set(shared)
        assert [normal(shipped[k]) for k in shared] == [normal(ours[k]) for k in shared]


# -- served and linked ------------------------------------------------------------------

STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


@pytest.mark.anyio
async def test_theme_stylesheet_is_linked_after_the_banner_css_and_served_immutable() -> None:
    app = make_app(make_config(theme=Theme(accent="#c2410c", position="dialog")))
    async with client_for(app) as client:
        page = await client.get("/")
        urls = STYLESHEET.findall(page.text)
        assert len(urls) == 2
        assert re.fullmatch(r"/_consent/static/consentgate\.[0-9a-f]{12}\.css", urls[0])
        assert re.fullmatch(r"/_consent/static/theme\.[0-9a-f]{12}\.css", urls[1])
        assert 'data-position="dialog"' in page.text
        css = await client.get(urls[1])
        assert css.status_code == 200
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        assert "immutable" in css.headers["cache-control"]
        assert "--cg-accent: #c2410c;" in css.text
        preferences = await client.get("/_consent/preferences")
        assert STYLESHEET.findall(preferences.text) == urls


@pytest.mark.anyio
async def test_without_a_theme_nothing_extra_is_loaded() -> None:
    async with client_for(make_app()) as client:
        page = await client.get("/")
        assert len(STYLESHEET.findall(page.text)) == 1
        assert 'data-position="bar"' in page.text
        preferences = await client.get("/_consent/preferences")
        assert len(STYLESHEET.findall(preferences.text)) == 1


@pytest.mark.anyio
async def test_no_inline_style_anywhere() -> None:
    app = make_app(make_config(theme=Theme(accent="#c2410c", font="Georgia, serif")))
    async with client_for(app) as client:
        for path in ("/", "/_consent/preferences"):
            html = (await client.get(path)).text
            assert "<style" not in html.lower()
            assert "style=" not in html.lower()


def test_a_changed_theme_gets_a_new_url() -> None:
    from consentgate._assets import Assets
    from consentgate._render import Renderer

    def url(theme: Theme) -> str | None:
        config = make_config(theme=theme)
        return Renderer(config, Assets(config.prefix)).theme_url

    assert url(Theme(accent="#c2410c")) != url(Theme(accent="#c2410d"))
    assert url(Theme(accent="#c2410c")) == url(Theme(accent="#c2410c"))
