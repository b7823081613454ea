"""Renderer: texts per language, language negotiation, the banner and the fingerprints."""

from __future__ import annotations

import re
from functools import cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, strategies as st

from consentgate import Category, ConfigurationError, ConsentState
from consentgate._locales import available_languages, builtin_texts
from consentgate._render import Renderer, hole
from consentgate._state import NO_CONSENT
from consentgate.providers import GoogleAnalytics
from consentgate.providers._disclosure import Role, TransferBasis

from .helpers import all_providers, build, make_config

VALUES = {
    "csrf": "TOKEN-123",
    "next": "/page?x=1",
    "next_q": "%2Fpage%3Fx%3D1",
}


@cache
def default_renderer() -> Renderer:
    return build(make_config())


class Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
        ]


def banner_html(renderer: Renderer, lang: str, **values: str) -> str:
    return renderer.banner[lang].fill({**VALUES, **values})


# -- texts -------------------------------------------------------------------------


def test_english_and_danish_are_available() -> None:
    assert {"en", "da"} <= set(available_languages())


@pytest.mark.parametrize("lang", available_languages())
def test_every_language_has_exactly_the_english_keys(lang: str) -> None:
    assert set(builtin_texts(lang)) == set(builtin_texts("en"))


@pytest.mark.parametrize("lang", available_languages())
def test_no_text_is_empty(lang: str) -> None:
    assert [key for key, text in builtin_texts(lang).items() if not text.strip()] == []


@pytest.mark.parametrize("lang", available_languages())
def test_placeholders_match_english(lang: str) -> None:
    english = builtin_texts("en")
    for key, text in builtin_texts(lang).items():
        assert re.findall(r"\{\w+\}", text) == re.findall(r"\{\w+\}", english[key]), key


def test_danish_and_english_texts_differ() -> None:
    texts = default_renderer().texts
    assert texts["da"]["banner.reject_all"] == "Afvis alle"
    assert texts["en"]["banner.reject_all"] == "Reject all"
    same = [k for k in texts["en"] if texts["en"][k] == texts["da"][k]]
    assert "banner.intro" not in same and "banner.title" not in same


# -- language negotiation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("da-DK,da;q=0.9,en;q=0.8", "da"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("en;q=0.5, da;q=0.6", "da"),
        ("da;q=0.6, en;q=0.5", "da"),
        ("tlh, en;q=0.1", "en"),
        ("tlh-KL, x-pig-latin;q=0.9, da;q=0.2", "da"),
        ("da ; q = 0.7 , en ; q = 0.3", "da"),
    ],
)
def test_negotiate_picks_the_preferred_available_language(header: str, expected: str) -> None:
    assert default_renderer().negotiate(header) == expected


@pytest.mark.parametrize(
    "header", [None, "", "tlh", "*", "tlh-KL,x-pig-latin;q=0.5", "da;q=0", "da;q=0.0"]
)
def test_negotiate_falls_back_to_the_default_language(header: str | None) -> None:
    assert default_renderer().negotiate(header) == "en"


def test_negotiate_falls_back_to_a_danish_default() -> None:
    renderer = build(make_config(default_language="da"))
    assert renderer.negotiate("tlh") == "da"
    assert renderer.negotiate("en;q=0") == "da"


@pytest.mark.parametrize(
    "header", ["da;q=abc,en", "da;q=1.2.3,en", "da;q=.,en", ";;;,,,en", "da-,en", "ø,en"]
)
def test_negotiate_skips_malformed_ranges(header: str) -> None:
    assert default_renderer().negotiate(header) == "en"


def test_negotiate_reads_only_the_ranges_within_the_first_kilobyte() -> None:
    renderer = default_renderer()
    subtags = "-abcdefgh"
    assert renderer.negotiate("da;q=0.5,x" + subtags * 10 + ",fr") == "fr"
    assert renderer.negotiate("da;q=0.5,x" + subtags * 120 + ",fr") == "da"
    assert renderer.negotiate("de" + "-" + "b" * 2000) == "en"  # no whole range: the default


@given(st.text())
def test_negotiate_never_raises_and_answers_an_available_language(header: str) -> None:
    renderer = default_renderer()
    assert renderer.negotiate(header) in renderer.languages


# -- the banner --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", available_languages())
def test_banner_is_a_post_form_to_the_prefix(lang: str) -> None:
    tags = Tags(banner_html(default_renderer(), lang))
    assert len(tags.find("div", id="consentgate-banner")) == 1
    assert len(tags.find("form", method="post", action="/_consent")) == 1


@pytest.mark.parametrize("lang", available_languages())
def test_banner_buttons_are_three_and_look_the_same(lang: str) -> None:
    tags = Tags(banner_html(default_renderer(), lang))
    buttons = tags.find("button", name="action")
    assert [b["value"] for b in buttons] == ["accept_all", "reject_all", "save"]
    assert len({b["class"] for b in buttons}) == 1
    assert all(b["type"] == "submit" for b in buttons)


@pytest.mark.parametrize("lang", available_languages())
def test_banner_has_one_unchecked_checkbox_per_choosable_category(lang: str) -> None:
    renderer = default_renderer()
    boxes = Tags(banner_html(renderer, lang)).find("input", type="checkbox")
    assert [b["value"] for b in boxes] == list(renderer.choosable)
    assert renderer.choosable == ("statistics", "marketing")
    assert not any("checked" in b for b in boxes)


@pytest.mark.parametrize("lang", available_languages())
def test_banner_has_the_hidden_fields(lang: str) -> None:
    tags = Tags(banner_html(default_renderer(), lang))
    hidden = {h["name"]: h["value"] for h in tags.find("input", type="hidden")}
    assert hidden == {
        "csrf_token": "TOKEN-123",
        "next": "/page?x=1",
        "source": "banner",
        "lang": lang,
    }


@pytest.mark.parametrize("lang", available_languages())
def test_banner_links_to_the_privacy_policy_and_the_preferences(lang: str) -> None:
    tags = Tags(banner_html(default_renderer(), lang))
    links = [a["href"] for a in tags.find("a")]
    assert links == ["/privatliv", f"/_consent/preferences?lang={lang}&next=%2Fpage%3Fx%3D1"]


def test_banner_without_privacy_policy_links_only_to_the_preferences() -> None:
    renderer = build(make_config(privacy_policy_url=None))
    links = [a["href"] for a in Tags(banner_html(renderer, "en")).find("a")]
    assert links == ["/_consent/preferences?lang=en&next=%2Fpage%3Fx%3D1"]


@pytest.mark.parametrize("lang", available_languages())
def test_banner_promises_the_settings_link_only_where_pages_get_one(lang: str) -> None:
    texts = builtin_texts(lang)
    promise = texts["banner.intro"].split(". ")[-1]
    instead = texts["banner.intro_without_link"].split(". ")[-1]
    assert promise != instead
    with_link = unescape(banner_html(default_renderer(), lang))
    without = unescape(banner_html(build(make_config(show_settings_link=False)), lang))
    assert promise in with_link and instead not in with_link
    assert instead in without and promise not in without


@pytest.mark.parametrize("lang", available_languages())
def test_banner_names_the_controller(lang: str) -> None:
    html = banner_html(default_renderer(), lang)
    assert "Testfirma ApS" in html
    assert "www.example.com" not in html


def test_without_a_controller_name_the_banner_says_this_site() -> None:
    renderer = build(make_config(controller_name=None))
    html = banner_html(renderer, "en")
    assert "This site uses cookies" in html
    # No "Data controller:" line naming nobody.
    assert "cg-controller" not in html


@pytest.mark.parametrize("lang", available_languages())
def test_without_a_controller_name_no_page_has_a_hole_for_the_host(lang: str) -> None:
    renderer = build(make_config(controller_name=None))
    pages = [
        renderer.banner[lang].html,
        renderer.settings_link[lang].html,
        renderer.preferences_page(lang, NO_CONSENT, next_path="/", csrf_token="t", saved=False),
        renderer.error_page(lang, "errors.forbidden", next_path="/"),
    ]
    assert not any(hole("host") in page for page in pages)
    assert renderer.texts[lang]["preferences.first_party"] in pages[0]


def test_without_a_controller_name_the_preferences_say_this_site_mid_sentence() -> None:
    renderer = build(make_config(controller_name=None))
    html = renderer.preferences_page("en", NO_CONSENT, next_path="/", csrf_token="t", saved=False)
    assert "which cookies and services this site uses" in html


def test_values_filled_into_attributes_are_escaped() -> None:
    html = banner_html(default_renderer(), "en", next='/"><script>x</script>')
    assert '"><script>' not in html
    assert Tags(html).find("input", name="next")[0]["value"] == '/"><script>x</script>'


def test_controller_name_is_escaped_by_the_template() -> None:
    renderer = build(make_config(controller_name="A & B <Ltd>"))
    html = banner_html(renderer, "en")
    assert "A &amp; B &lt;Ltd&gt;" in html
    assert "<Ltd>" not in html


def test_builtin_categories_without_providers_are_not_offered() -> None:
    renderer = build(make_config(providers=[GoogleAnalytics("G-TEST123456")]))
    assert renderer.choosable == ("statistics",)
    boxes = Tags(banner_html(renderer, "en")).find("input", type="checkbox")
    assert [b["value"] for b in boxes] == ["statistics"]


def test_site_category_is_offered_even_without_providers() -> None:
    social = Category(name="social", title={"en": "Social", "da": "Socialt"})
    renderer = build(make_config(providers=[GoogleAnalytics("G-TEST123456")], categories=[social]))
    assert renderer.choosable == ("statistics", "social")
    assert "Socialt" in banner_html(renderer, "da")
    assert "Social" in banner_html(renderer, "en")


def test_banner_without_choosable_categories_has_no_checkboxes() -> None:
    renderer = build(make_config(providers=[]))
    assert renderer.choosable == ()
    assert Tags(banner_html(renderer, "en")).find("input", type="checkbox") == []


# -- fingerprints ---------------------------------------------------------------------------


def test_there_is_a_fingerprint_per_page_and_language() -> None:
    fingerprints = default_renderer().fingerprints
    expected = {
        (page, lang) for page in ("banner", "preferences") for lang in available_languages()
    }
    assert set(fingerprints) == expected
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in fingerprints.values())


def test_fingerprints_differ_between_languages_and_pages() -> None:
    fingerprints = default_renderer().fingerprints
    assert len(set(fingerprints.values())) == len(fingerprints)


def test_fingerprints_are_stable_across_builds() -> None:
    assert build(make_config()).fingerprints == build(make_config()).fingerprints


def test_fingerprints_change_with_the_texts() -> None:
    before = build(make_config()).fingerprints
    after = build(make_config(controller_name="Andet Firma A/S")).fingerprints
    assert all(before[key] != after[key] for key in before)


# -- template overrides -------------------------------------------------------------------


def renderer_with_templates(tmp_path: Path, templates: dict[str, str], **settings: Any) -> Renderer:
    for name, source in templates.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return build(make_config(template_dirs=[tmp_path], **settings))


def test_site_template_overrides_the_builtin_one(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path, {"settings_link.html": '<a class="mine" href="{{ prefix }}/preferences">Mine</a>'}
    )
    assert (
        renderer.settings_link["en"].html == '<a class="mine" href="/_consent/preferences">Mine</a>'
    )


def test_builtin_template_is_used_without_an_override(tmp_path: Path) -> None:
    renderer = renderer_with_templates(tmp_path, {})
    assert 'id="consentgate-settings"' in renderer.settings_link["en"].html


def test_site_template_can_extend_the_builtin_page(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path,
        {
            "error.html": '{% extends "@consentgate/page.html" %}'
            "{% block content %}<p class=mine>{{ message }}</p>{% endblock %}"
        },
    )
    html = renderer.error_page("en", "errors.forbidden", next_path="/")
    assert html.startswith("<!doctype html>")
    assert "<p class=mine>This form could not be verified." in html
    assert '<link rel="stylesheet" href="/_consent/static/consentgate.' in html


def test_site_template_can_extend_the_builtin_template_of_the_same_name(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path,
        {
            "preferences.html": '{% extends "@consentgate/preferences.html" %}'
            "{% block controller %}<p id=mine>{{ controller }}</p>{% endblock %}"
        },
    )
    html = renderer.preferences_page(
        "en",
        ConsentState(),
        next_path="/",
        csrf_token="T",
        saved=False,
    )
    assert "<p id=mine>Testfirma ApS</p>" in html
    assert 'name="csrf_token" value="T"' in html
    assert "cg-controller" not in html


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9", "de"),
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn-NO", "nb"),
        ("sv", "sv"),
        ("fr-CA", "fr"),
    ],
)
def test_every_built_in_language_can_be_negotiated(header: str, expected: str) -> None:
    assert default_renderer().negotiate(header) == expected


# -- text overrides -----------------------------------------------------------------------


def test_text_overrides_replace_the_builtin_text_of_that_language_only() -> None:
    renderer = build(
        make_config(texts={"da": {"banner.title": "Må vi gemme cookies?", "banner.intro": "Hej"}})
    )
    da, en = banner_html(renderer, "da"), banner_html(renderer, "en")
    assert '<h2 id="consentgate-title" class="cg-title">Må vi gemme cookies?</h2>' in da
    assert '<p class="cg-intro">Hej</p>' in da
    assert "Your choice about cookies" in en
    assert renderer.texts["da"]["banner.reject_all"] == "Afvis alle"


def test_overridden_texts_fill_placeholders_and_unescape_doubled_braces() -> None:
    renderer = build(
        make_config(texts={"en": {"banner.intro": "{controller} {{really}} uses cookies."}})
    )
    assert '<p class="cg-intro">Testfirma ApS {really} uses cookies.</p>' in banner_html(
        renderer, "en"
    )


def test_overridden_texts_are_escaped_like_the_builtin_ones() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    renderer = build(
        make_config(texts={"en": {"banner.title": hostile, "preferences.controller": hostile}})
    )
    html = banner_html(renderer, "en")
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<img" not in preferences(renderer, "en")


def test_overridden_consent_cookie_texts_reach_the_declaration() -> None:
    texts = {"da": {"consent_cookie.expiry": "{days} dage (et halvt år)"}}
    html = preferences(build(make_config(texts=texts)), "da")
    assert "182 dage (et halvt år)" in html


def test_fingerprints_reflect_overridden_texts_of_that_language() -> None:
    before = build(make_config()).fingerprints
    after = build(make_config(texts={"da": {"banner.reject_all": "Nej tak"}})).fingerprints
    changed = {key for key in before if before[key] != after[key]}
    # the preference centre shows the same buttons
    assert changed == {("banner", "da"), ("preferences", "da")}


# -- controller details ---------------------------------------------------------------------


def preferences(renderer: Renderer, lang: str, state: ConsentState | None = None) -> str:
    return renderer.preferences_page(
        lang,
        state or ConsentState(),
        next_path="/",
        csrf_token="T",
        saved=False,
    )


CONTROLLER = {
    "controller_name": "Testfirma ApS",
    "controller_address": "Vestergade 1\n8000 Aarhus C\n",
    "controller_email": "privatliv@testfirma.dk",
}


@pytest.mark.parametrize("lang", available_languages())
def test_banner_shows_the_controller_compactly_on_the_first_layer(lang: str) -> None:
    renderer = build(make_config(**CONTROLLER))
    html = banner_html(renderer, lang)
    label = builtin_texts(lang)["preferences.controller"]
    assert (
        f'<p class="cg-controller"><span class="cg-controller-label">{label}:</span> '
        "Testfirma ApS, Vestergade 1, 8000 Aarhus C, "
        '<a href="mailto:privatliv@testfirma.dk">privatliv@testfirma.dk</a></p>'
    ) in html


def test_preference_centre_shows_the_controller_in_full() -> None:
    html = preferences(build(make_config(**CONTROLLER)), "en")
    section = html[html.index('<section class="cg-controller"') : html.index("</section>")]
    assert "Testfirma ApS" in section
    assert "<br>Vestergade 1\n<br>8000 Aarhus C" in section
    assert '<a href="mailto:privatliv@testfirma.dk">privatliv@testfirma.dk</a>' in section
    assert '<a href="/privatliv">Privacy policy</a>' in section


def test_banner_controller_line_without_address_or_email_names_the_controller() -> None:
    html = banner_html(default_renderer(), "en")
    assert '<span class="cg-controller-label">Data controller:</span> Testfirma ApS</p>' in html
    assert "mailto:" not in html


def test_banner_names_the_services_of_each_category() -> None:
    tags = Tags(banner_html(default_renderer(), "en"))
    assert len(tags.find("span", **{"class": "cg-category-providers"})) == 2
    html = banner_html(default_renderer(), "en")
    assert "(Google Analytics, Google Analytics (Site Kit), Jetpack Stats)" in html
    assert "(Buffer)" in html


# -- blocks and broken overrides -----------------------------------------------------------------


def test_site_banner_can_extend_the_builtin_and_replace_one_block(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path,
        {
            "banner.html": '{% extends "@consentgate/banner.html" %}'
            '{% block title %}<h2 id="consentgate-title" class="mine">{{ t["banner.title"] }}'
            "</h2>{% endblock %}"
            "{% block footer %}<p class=mine-footer>{{ controller }}</p>{% endblock %}"
        },
    )
    html = banner_html(renderer, "da")
    tags = Tags(html)
    assert tags.find("h2", id="consentgate-title", **{"class": "mine"})
    assert "<p class=mine-footer>Testfirma ApS</p>" in html
    # everything else is the built-in banner
    assert [b["value"] for b in tags.find("button")] == ["accept_all", "reject_all", "save"]
    assert tags.find("input", name="csrf_token")[0]["value"] == "TOKEN-123"


def test_a_scoped_category_block_sees_the_category(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path,
        {
            "banner.html": '{% extends "@consentgate/banner.html" %}'
            "{% block category %}<label class=mine><input type=checkbox name=categories "
            'value="{{ category.name }}">{{ category.title }}</label>{% endblock %}'
        },
    )
    boxes = Tags(banner_html(renderer, "en")).find("input", type="checkbox")
    assert [b["value"] for b in boxes] == ["statistics", "marketing"]


def test_site_page_can_add_its_own_stylesheet(tmp_path: Path) -> None:
    renderer = renderer_with_templates(
        tmp_path,
        {
            "page.html": '{% extends "@consentgate/page.html" %}'
            '{% block head %}<link rel="stylesheet" href="/static/site.css">{% endblock %}'
        },
    )
    links = [str(link["href"]) for link in Tags(preferences(renderer, "en")).find("link")]
    assert links[-1] == "/static/site.css"
    assert links[0].startswith("/_consent/static/consentgate.")


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("banner.html", "<p>{{ t['banner.title'] }</p>", "banner.html, line 1: unexpected '}'"),
        (
            "banner.html",
            "<p>\n{{ contoller }}</p>",
            "banner.html, line 2: 'contoller' is undefined",
        ),
        (
            "preferences.html",
            '{% extends "@consentgate/preferences.html" %}{% block intro %}\n\n'
            "{{ state.nothing.more }}{% endblock %}",
            "preferences.html, line 3:",
        ),
        (
            # Only a visitor who allowed an embed before answering sees this branch.
            "preferences.html",
            '{% extends "@consentgate/preferences.html" %}{% block current %}\n'
            "{% if state.providers %}{{ state.nothing.more }}{% endif %}{% endblock %}",
            "preferences.html, line 2:",
        ),
        ("error.html", "<p>{{ mesage }}</p>", "error.html, line 1: 'mesage' is undefined"),
        ("settings_link.html", "{% if %}", "settings_link.html, line 1:"),
        ("banner.html", '{% include "missing.html" %}', "missing.html"),
    ],
)
def test_a_broken_override_stops_the_start_with_the_template_and_line(
    tmp_path: Path, name: str, source: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        renderer_with_templates(tmp_path, {name: source})
    assert caught.value.field == "template_dirs"
    assert expected in str(caught.value)


def test_a_broken_override_fails_when_the_config_is_built(tmp_path: Path) -> None:
    """Starlette builds its middleware on the first call; the config is built at import."""
    (tmp_path / "banner.html").write_text("{{ contoller }}", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        make_config(template_dirs=[tmp_path])
    assert "banner.html, line 1: 'contoller' is undefined" in str(caught.value)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<script>{{ site_id }}</script>", "'site_id' is undefined"),
        ("<script>{{ provider.nothing.more }}</script>", "has no attribute 'nothing'"),
    ],
)
def test_a_provider_snippet_with_an_undefined_variable_stops_the_start(
    head: str, expected: str
) -> None:
    from consentgate.providers import Provider

    broken = Provider(name="broken", title="Broken", category="statistics", head=head)
    with pytest.raises(ConfigurationError) as caught:
        build(make_config(providers=[broken]))
    assert caught.value.field == "providers"
    assert "<template>, line 1: " in str(caught.value)
    assert expected in str(caught.value)


def test_an_overridden_snippet_template_is_checked_at_the_start(tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "google_analytics_head.html").write_text(
        "<script>{{ measurment_id }}</script>", encoding="utf-8"
    )
    with pytest.raises(ConfigurationError) as caught:
        build(make_config(template_dirs=[tmp_path]))
    assert "google_analytics_head.html, line 1: 'measurment_id' is undefined" in str(caught.value)


def test_a_snippet_branch_for_fewer_categories_is_checked_too() -> None:
    from consentgate.providers import Provider

    broken = Provider(
        name="broken",
        title="Broken",
        category="statistics",
        head="{% if 'marketing' not in granted %}{{ no_ads_id }}{% endif %}",
    )
    with pytest.raises(ConfigurationError) as caught:
        build(make_config(providers=[broken, *all_providers()]))
    assert "'no_ads_id' is undefined" in str(caught.value)


@pytest.mark.parametrize("position", ["bar", "box", "dialog"])
def test_the_position_is_an_attribute_of_the_banner_root(position: str) -> None:
    from consentgate import Theme

    renderer = build(make_config(theme=Theme(position=position)))  # type: ignore[arg-type]
    [root] = Tags(banner_html(renderer, "en")).find("div", id="consentgate-banner")
    assert root["data-position"] == position


TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "consentgate" / "templates"


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_built_in_page_template_has_inline_style_or_script(name: str) -> None:
    """A strict Content-Security-Policy must work: styles and scripts come from files."""
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    assert re.search(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", source) is None


_TEXT_USERS = ("_render.py", "_rights.py")


def test_every_text_is_shown_somewhere_so_an_override_always_shows() -> None:
    package = TEMPLATES.parent
    sources = "".join(p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.html"))
    sources += "".join((package / name).read_text(encoding="utf-8") for name in _TEXT_USERS)
    # A role or transfer basis is looked up by its value: t["disclosure.roles." ~ vendor.role].
    by_value = {
        "disclosure.roles": get_args(Role),
        "disclosure.bases": (*get_args(TransferBasis), "not-needed"),
    }
    # Looked up by name: a category's texts, and a record's action and source.
    by_name = r"categories\.\w+\.\w+|record\.(action|source)\.\w+"
    unused = [
        key
        for key in builtin_texts("en")
        if f'"{key}"' not in sources
        and not re.fullmatch(by_name, key)
        and not (
            f'"{key.rpartition(".")[0]}." ~' in sources
            and key.rpartition(".")[2] in by_value.get(key.rpartition(".")[0], ())
        )
    ]
    assert unused == []
    for prefix, values in by_value.items():
        assert {f"{prefix}.{value}" for value in values} <= set(builtin_texts("en"))
