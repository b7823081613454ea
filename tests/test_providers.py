"""Providers: declarations, validation and the markup their templates render."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from itertools import chain, combinations
from typing import Any

import pytest
from hypothesis import given, strategies as st
from jinja2 import Environment, PackageLoader

import consentgate.providers
from consentgate._exceptions import ConfigurationError
from consentgate._locales import available_languages
from consentgate._render import consent_mode
from consentgate._text import localized
from consentgate.providers import (
    Buffer,
    DeclaredCookie,
    GoogleAnalytics,
    JetpackStats,
    Provider,
    SiteKit,
)

ENV = Environment(loader=PackageLoader("consentgate", "templates"), autoescape=True)
CONSENT_MODE = "snippets/google_consent_mode.html"
HOSTILE = "</script><script>alert(1)</script>"
OPTIONAL = ("preferences", "statistics", "marketing")


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "granted": frozenset({"statistics"}),
        "iso_week": "202648",
        "host": "www.example.com",
        "csp_nonce": None,
        "csp_style_nonce": None,
    }
    values.update(overrides)
    # As the renderer gives it: the Consent Mode types of what is granted.
    values.setdefault("consent_mode", consent_mode(values["granted"]))
    return values


def render(provider: Provider, part: str, **overrides: Any) -> str:
    """Render ``head`` or ``body`` the way the middleware does: file if named, else source."""
    name = provider.head_template if part == "head" else provider.body_template
    template = ENV.get_template(name) if name else ENV.from_string(getattr(provider, part))
    return template.render(**context(**overrides), provider=provider, **provider.template_context())


def render_page(provider: Provider, **overrides: Any) -> str:
    """Preludes, then head, then body: the order the middleware injects them in."""
    preludes = [ENV.get_template(name).render(**context(**overrides)) for name in provider.preludes]
    return "".join(
        [*preludes, render(provider, "head", **overrides), render(provider, "body", **overrides)]
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str, *names: str) -> list[dict[str, str | None]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return [attrs for tag, attrs in parser.tags if tag in names]


def consent_call(html: str, command: str) -> dict[str, str]:
    match = re.search(rf'gtag\("consent", "{command}", (\{{.*?\}})\);', html, re.DOTALL)
    assert match is not None, f"no consent {command} in {html}"
    result: dict[str, str] = json.loads(match.group(1))
    return result


def builtins() -> list[Provider]:
    return [
        GoogleAnalytics("G-ABC123XYZ"),
        GoogleAnalytics("G-ABC123XYZ", send_page_view=False),
        SiteKit("G-ABC123XYZ", extra_tag_ids=("GT-K2L3M4", "AW-123456789")),
        JetpackStats(4242),
        JetpackStats(4242, site_host="blog.example.com"),
        Buffer(),
        Buffer(share_button=False),
    ]


def all_subsets(items: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    return chain.from_iterable(combinations(items, size) for size in range(len(items) + 1))


def test_public_names_are_sorted() -> None:
    assert consentgate.providers.__all__ == sorted(consentgate.providers.__all__)


# --- Google Analytics and Consent Mode ---------------------------------------------------------


def test_google_analytics_head_loads_gtag_and_configures_the_id() -> None:
    html = render(GoogleAnalytics("G-ABC123XYZ"), "head")
    [loader] = [attrs for attrs in tags(html, "script") if "src" in attrs]
    assert loader["src"] == "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"
    assert "async" in loader
    assert 'gtag("js", new Date());' in html
    assert 'gtag("config", "G-ABC123XYZ");' in html


def test_google_analytics_can_leave_page_views_to_the_site() -> None:
    html = render(GoogleAnalytics("G-ABC123XYZ", send_page_view=False), "head")
    assert 'gtag("config", "G-ABC123XYZ", {"send_page_view": false});' in html


def test_google_analytics_declares_its_cookies_and_defaults() -> None:
    provider = GoogleAnalytics("G-R4080TX7WZ")
    assert (provider.name, provider.title, provider.category) == (
        "google-analytics",
        "Google Analytics",
        "statistics",
    )
    assert [cookie.name for cookie in provider.cookies] == ["_ga", "_ga_R4080TX7WZ"]
    assert all(localized(cookie.expiry, "da") == "2 år" for cookie in provider.cookies)
    assert all(
        localized(cookie.processing_location, "en").startswith("USA") for cookie in provider.cookies
    )
    assert provider.privacy_policy_url == "https://policies.google.com/privacy"
    assert provider.preludes == (CONSENT_MODE,)
    assert provider.body_template is None and provider.body == ""


def test_consent_default_denies_everything_before_the_update_and_any_config() -> None:
    html = render_page(GoogleAnalytics("G-ABC123XYZ"))
    defined = html.index("function gtag(){dataLayer.push(arguments);}")
    default = html.index('gtag("consent", "default"')
    update = html.index('gtag("consent", "update"')
    config = html.index('gtag("config"')
    assert defined < default < update < config
    assert consent_call(html, "default") == {
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
        "analytics_storage": "denied",
        "functionality_storage": "denied",
        "personalization_storage": "denied",
        "security_storage": "denied",
    }


@pytest.mark.parametrize(
    "granted", list(all_subsets(OPTIONAL)), ids=lambda g: "+".join(g) or "none"
)
def test_consent_update_grants_exactly_the_chosen_categories(granted: tuple[str, ...]) -> None:
    html = ENV.get_template(CONSENT_MODE).render(**context(granted=frozenset(granted)))

    def state(category: str) -> str:
        return "granted" if category in granted else "denied"

    assert consent_call(html, "update") == {
        "ad_storage": state("marketing"),
        "ad_user_data": state("marketing"),
        "ad_personalization": state("marketing"),
        "analytics_storage": state("statistics"),
        "functionality_storage": state("preferences"),
        "personalization_storage": state("preferences"),
        "security_storage": "granted",
    }
    redacted = 'gtag("set", "ads_data_redaction", true);' in html
    assert redacted == ("marketing" not in granted)


def test_site_kit_prints_site_kit_markup_with_one_config_per_tag() -> None:
    provider = SiteKit("G-ABC123XYZ", extra_tag_ids=("GT-K2L3M4", "AW-123456789"))
    html = render(provider, "head")
    assert html.startswith("<!-- Google tag (gtag.js) snippet added by Site Kit -->")
    loader, inline = tags(html, "script")
    assert loader == {
        "src": "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ",
        "id": "google_gtagjs-js",
        "async": None,
    }
    assert inline == {"id": "google_gtagjs-js-after"}
    configs = re.findall(r'gtag\("config", "([^"]+)"\);', html)
    assert configs == ["G-ABC123XYZ", "GT-K2L3M4", "AW-123456789"]
    assert html.index("window.dataLayer") < html.index('gtag("js", new Date());')
    assert html.index('gtag("set", "developer_id.dZTNiMT", true);') < html.index('gtag("config"')
    assert provider.preludes == (CONSENT_MODE,)
    assert provider.category == "statistics"


def test_site_kit_declares_a_session_cookie_per_property() -> None:
    names = [cookie.name for cookie in SiteKit("G-AAAA1111", extra_tag_ids=("G-BBBB2222",)).cookies]
    assert names == ["_ga", "_ga_AAAA1111", "_ga_BBBB2222"]
    # A GT- tag may send to properties whose ids the site never configured here.
    with_gt = SiteKit("G-AAAA1111", extra_tag_ids=("GT-CCCC3333",))
    assert any(cookie.matches("_ga_ZZZZ9999") for cookie in with_gt.cookies)


# --- Jetpack Stats and Buffer ------------------------------------------------------------------


def test_jetpack_head_hides_the_pixel() -> None:
    assert render(JetpackStats(4242), "head").strip() == "<style>img#wpstats{display:none}</style>"


@pytest.mark.parametrize(
    ("site_host", "expected_srv"),
    [(None, "www.example.com"), ("blog.example.com", "blog.example.com")],
)
def test_jetpack_body_queues_the_view_then_loads_this_weeks_tracker(
    site_host: str | None, expected_srv: str
) -> None:
    html = render(JetpackStats(4242, site_host=site_host), "body", iso_week="202607")
    view = re.search(r'_stq\.push\(\["view", (\{.*?\})\]\);', html)
    assert view is not None
    assert json.loads(view.group(1)) == {
        "v": "ext",
        "blog": "4242",
        "post": "0",
        "tz": "0",
        "srv": expected_srv,
    }
    assert html.index("_stq = window._stq || [];") < view.start()
    assert '_stq.push(["clickTrackerInit", "4242", "0"]);' in html
    inline, loader = tags(html, "script")
    assert inline == {"id": "jetpack-stats-js-before"}
    assert loader == {
        "src": "https://stats.wp.com/e-202607.js",
        "id": "jetpack-stats-js",
        "defer": None,
    }


def test_jetpack_declares_the_tracks_cookies() -> None:
    provider = JetpackStats(4242)
    assert provider.category == "statistics"
    assert provider.privacy_policy_url == "https://automattic.com/privacy/"
    assert all(cookie.party == "first" for cookie in provider.cookies)
    assert all(
        any(cookie.matches(name) for cookie in provider.cookies)
        for name in ("tk_ai", "tk_qs", "tk_ni", "tk_or")
    )
    assert not any(cookie.matches("_ga") for cookie in provider.cookies)


def test_buffer_share_button_is_the_only_markup() -> None:
    provider = Buffer()
    assert provider.category == "marketing"
    assert provider.cookies == ()
    assert render(provider, "head") == ""
    [script] = tags(render(provider, "body"), "script")
    assert script == {"async": None, "src": "https://static.bufferapp.com/js/button.js"}


def test_buffer_without_share_button_injects_nothing_but_still_informs() -> None:
    provider = Buffer(share_button=False)
    assert render(provider, "head") == render(provider, "body") == ""
    assert "buff.ly" in localized(provider.description, "da")
    assert "buff.ly" in localized(provider.description, "en")


# --- Markup safety -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", builtins(), ids=lambda p: p.key)
def test_nonce_on_every_script_and_style_when_set(provider: Provider) -> None:
    html = render_page(provider, csp_nonce="scr1pt", csp_style_nonce="styl3")
    for attrs in tags(html, "script"):
        assert attrs.get("nonce") == "scr1pt", html
    for attrs in tags(html, "style"):
        assert attrs.get("nonce") == "styl3", html


@pytest.mark.parametrize("provider", builtins(), ids=lambda p: p.key)
def test_no_nonce_attribute_without_a_nonce(provider: Provider) -> None:
    assert "nonce" not in render_page(provider, csp_nonce=None)


def test_hostile_host_stays_inside_its_string() -> None:
    html = render_page(JetpackStats(4242), host=HOSTILE)
    assert HOSTILE not in html
    assert "<script>alert" not in html
    assert len(tags(html, "script")) == 2


def test_hostile_values_in_a_custom_provider_are_escaped() -> None:
    provider = Provider(
        name="custom",
        title="Custom",
        category="statistics",
        head='<meta name="site" content="{{ host }}">',
        body="<script>track({{ host|tojson }});</script>",
    )
    html = render(provider, "head", host=HOSTILE) + render(provider, "body", host=HOSTILE)
    assert HOSTILE not in html
    assert len(tags(html, "script")) == 1


def test_hostile_nonce_cannot_break_out_of_its_attribute() -> None:
    html = render(GoogleAnalytics("G-ABC123XYZ"), "head", csp_nonce='"><script>alert(1)</script>')
    assert "<script>alert" not in html
    assert len(tags(html, "script")) == 2


# --- Custom providers --------------------------------------------------------------------------


def test_custom_provider_renders_inline_sources_with_the_shared_context() -> None:
    provider = Provider(
        name="plausible",
        title="Plausible",
        category="statistics",
        description={"en": "Counts visits.", "da": "Tæller besøg."},
        privacy_policy_url="https://plausible.io/privacy",
        head=(
            '<script defer data-domain="{{ host }}" src="https://plausible.io/js/script.js"'
            '{% if csp_nonce %} nonce="{{ csp_nonce }}"{% endif %}></script>'
        ),
        cookies=(DeclaredCookie(name="plausible_ignore", purpose="Opt-out flag", expiry="1 year"),),
    )
    provider.validate("providers[0]")
    assert provider.key == "plausible"
    assert provider.template_context() == {}
    assert provider.preludes == ()
    [script] = tags(render(provider, "head", csp_nonce="n1"), "script")
    assert script["data-domain"] == "www.example.com"
    assert script["nonce"] == "n1"
    assert render(provider, "body") == ""
    assert hash(provider) == hash(provider)


def test_built_in_fixed_fields_are_not_constructor_arguments() -> None:
    with pytest.raises(TypeError):
        GoogleAnalytics("G-ABC123XYZ", category="marketing")  # type: ignore[call-arg]


# --- Validation and identity -------------------------------------------------------------------


@pytest.mark.parametrize("provider", builtins(), ids=lambda p: p.key)
def test_built_ins_are_valid_and_in_every_language(provider: Provider) -> None:
    provider.validate("providers[0]")
    texts = [provider.description]
    for cookie in provider.cookies:
        texts += [cookie.purpose, cookie.expiry, cookie.processing_location]
    for text in texts:
        assert not isinstance(text, str)
        assert set(text) == set(available_languages())
        assert all(value.strip() for value in text.values())


def _custom(**changes: Any) -> Provider:
    values: dict[str, Any] = {"name": "custom", "title": "Custom", "category": "statistics"}
    values.update(changes)
    return Provider(**values)


def _cookie(**changes: Any) -> DeclaredCookie:
    values: dict[str, Any] = {"name": "seen", "purpose": "p", "expiry": "1 day"}
    values.update(changes)
    return DeclaredCookie(**values)


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        (GoogleAnalytics("UA-123"), "providers[2].measurement_id"),
        (GoogleAnalytics("g-abc123"), "providers[2].measurement_id"),
        (GoogleAnalytics("G-ABC123", send_page_view="no"), "providers[2].send_page_view"),  # type: ignore[arg-type]
        (SiteKit("GT-ABCDEF"), "providers[2].measurement_id"),
        (SiteKit("G-ABC123", extra_tag_ids=("DC-123456",)), "providers[2].extra_tag_ids[0]"),
        (
            SiteKit("G-ABC123", extra_tag_ids=("AW-1234", "AW-1234")),
            "providers[2].extra_tag_ids[1]",
        ),
        (SiteKit("G-ABC123", extra_tag_ids=("G-ABC123",)), "providers[2].extra_tag_ids[0]"),
        (SiteKit("G-ABC123", extra_tag_ids="G-XYZ789"), "providers[2].extra_tag_ids"),  # type: ignore[arg-type]
        (JetpackStats(0), "providers[2].blog_id"),
        (JetpackStats(-5), "providers[2].blog_id"),
        (JetpackStats(True), "providers[2].blog_id"),
        (JetpackStats("4242"), "providers[2].blog_id"),  # type: ignore[arg-type]
        (JetpackStats(4242, site_host="https://example.com"), "providers[2].site_host"),
        (JetpackStats(4242, site_host="example.com:8080"), "providers[2].site_host"),
        (Buffer(share_button="yes"), "providers[2].share_button"),  # type: ignore[arg-type]
        (_custom(name="Custom Tracker"), "providers[2].name"),
        (_custom(name="-custom"), "providers[2].name"),
        (_custom(title=" "), "providers[2].title"),
        (_custom(category=""), "providers[2].category"),
        (
            _custom(head="<script></script>", head_template="snippets/x.html"),
            "providers[2].head_template",
        ),
        (
            _custom(body="<script></script>", body_template="snippets/x.html"),
            "providers[2].body_template",
        ),
        (_custom(body_template=""), "providers[2].body_template"),
        (_custom(preludes=("",)), "providers[2].preludes"),
        (_custom(privacy_policy_url="example.com/privacy"), "providers[2].privacy_policy_url"),
        (_custom(privacy_policy_url="javascript:alert(1)"), "providers[2].privacy_policy_url"),
        (_custom(cookies=[_cookie()]), "providers[2].cookies"),
        (_custom(cookies=(_cookie(), _cookie(name="a b"))), "providers[2].cookies[1].name"),
        (_custom(cookies=(_cookie(name="**"),)), "providers[2].cookies[0].name"),
        (_custom(cookies=(_cookie(purpose={"en": " "}),)), "providers[2].cookies[0].purpose"),
        (_custom(cookies=(_cookie(expiry=""),)), "providers[2].cookies[0].expiry"),
        (_custom(cookies=(_cookie(party="fourth"),)), "providers[2].cookies[0].party"),
    ],
)
def test_validation_names_the_field(provider: Provider, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider.validate("providers[2]")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_measurement_id_message_shows_the_expected_shape() -> None:
    with pytest.raises(ConfigurationError) as caught:
        GoogleAnalytics("UA-123").validate("providers[0]")
    assert str(caught.value) == (
        "providers[0].measurement_id: expected a GA4 measurement id like G-A1B2C3D4E5, got 'UA-123'"
    )


def test_keys_identify_the_same_provider_configured_twice() -> None:
    assert (
        GoogleAnalytics("G-AAAA1111").key == GoogleAnalytics("G-AAAA1111", send_page_view=False).key
    )
    assert GoogleAnalytics("G-AAAA1111").key == "google-analytics:G-AAAA1111"
    assert JetpackStats(1).key == JetpackStats(1, site_host="example.com").key
    keys = [
        GoogleAnalytics("G-AAAA1111").key,
        GoogleAnalytics("G-BBBB2222").key,
        SiteKit("G-AAAA1111").key,
        JetpackStats(1).key,
        JetpackStats(2).key,
        Buffer().key,
        _custom().key,
    ]
    assert len(set(keys)) == len(keys)


def test_providers_are_hashable_and_comparable() -> None:
    assert GoogleAnalytics("G-AAAA1111") == GoogleAnalytics("G-AAAA1111")
    assert len({GoogleAnalytics("G-AAAA1111"), GoogleAnalytics("G-AAAA1111"), Buffer()}) == 2


# --- Cookie declarations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "name", "expected"),
    [
        ("_ga", "_ga", True),
        ("_ga", "_gat", False),
        ("_ga", "_GA", False),
        ("_ga_*", "_ga_R4080TX7WZ", True),
        ("_ga_*", "_ga_", True),
        ("_ga_*", "_ga", False),
        ("_ga_*", "x_ga_1", False),
        ("tk_*", "tk_ai", True),
        ("*_session", "app_session", True),
        ("*_session", "app_session2", False),
        ("a.b", "axb", False),
        ("a+b", "a+b", True),
        ("a+b", "aab", False),
    ],
)
def test_matches_exact_names_and_globs(declared: str, name: str, expected: bool) -> None:
    cookie = _cookie(name=declared)
    assert cookie.matches(name) is expected
    assert (re.fullmatch(cookie.pattern(), name) is not None) is expected


def test_patterns_combine_into_one_matcher_even_under_other_flags() -> None:
    cookies = JetpackStats(1).cookies + GoogleAnalytics("G-AAAA1111").cookies
    combined = re.compile("|".join(f"(?:{cookie.pattern()})" for cookie in cookies), re.IGNORECASE)
    assert combined.fullmatch("tk_r3d")
    assert combined.fullmatch("_ga_AAAA1111")
    assert not combined.fullmatch("sessionid")


_TOKEN = "!#$%&'+-.^_`|~abcXYZ019"


@given(
    declared=st.text(alphabet=_TOKEN + "*", min_size=1, max_size=8),
    name=st.text(alphabet=_TOKEN + "\n", max_size=10),
)
def test_pattern_and_matches_agree_with_a_glob(declared: str, name: str) -> None:
    cookie = _cookie(name=declared)
    expected = fnmatch.fnmatchcase(name, declared)
    assert cookie.matches(name) is expected
    assert (re.fullmatch(cookie.pattern(), name) is not None) is expected
