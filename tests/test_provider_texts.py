"""Issue 12 §4: every built-in provider's texts in all ten languages, from one i18n system."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consentgate import ConsentState
from consentgate._assets import Assets
from consentgate._config import PROVIDER_TYPES
from consentgate._locales import (
    available_languages,
    builtin_texts,
    country_codes,
    country_names,
    provider_texts,
)
from consentgate._render import Renderer
from consentgate._text import LocalizedText
from consentgate.providers import (
    Buffer,
    GoogleAnalytics,
    GoogleMaps,
    GoogleTagManager,
    Hotjar,
    JetpackStats,
    LinkedInInsight,
    Matomo,
    MetaPixel,
    MicrosoftClarity,
    Provider,
    SiteKit,
    Vimeo,
    YouTube,
)

from .helpers import make_config

BUILT_INS: list[Provider] = [
    GoogleAnalytics("G-ABC123XYZ"),
    SiteKit("G-ABC123XYZ", extra_tag_ids=("GT-K2L3M4",)),
    JetpackStats(4242),
    Buffer(),
    GoogleTagManager(),
    MetaPixel(),
    LinkedInInsight(),
    Hotjar(),
    MicrosoftClarity(),
    Matomo("https://matomo.example.org/"),
    Matomo("https://matomo.example.org/", cookieless=True),
    YouTube(),
    Vimeo(),
    GoogleMaps(),
]
OTHER_LANGUAGES = [lang for lang in available_languages() if lang != "en"]
#: Texts that are rightly the same as in English (proper nouns, shared words).
SAME_AS_ENGLISH = {("fr", "30 minutes")}


def test_every_provider_type_is_covered() -> None:
    covered = {type(p) for p in BUILT_INS}
    assert covered == {t for t in PROVIDER_TYPES.values() if t is not Provider}


def _texts(provider: Provider) -> Iterator[tuple[str, LocalizedText]]:
    """Every text a visitor reads about ``provider``, named for the failure message."""
    yield "description", provider.description
    for cookie in provider.cookies:
        yield f"{cookie.name}.purpose", cookie.purpose
        yield f"{cookie.name}.expiry", cookie.expiry
        yield f"{cookie.name}.processing_location", cookie.processing_location
    if provider.disclosure is not None:
        yield "disclosure.retention", provider.disclosure.retention


def test_the_languages_are_the_ten() -> None:
    assert set(available_languages()) == {
        "da", "en", "de", "sv", "nb", "fi", "nl", "fr", "es", "it"
    }  # fmt: skip


@pytest.mark.parametrize("provider", BUILT_INS, ids=lambda p: p.key)
@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_every_text_is_translated(provider: Provider, lang: str) -> None:
    for what, text in _texts(provider):
        assert not isinstance(text, str), f"{provider.name} {what} is one text for all languages"
        assert set(text) == set(available_languages()), what
        assert text[lang].strip(), f"{provider.name} {what} is empty in {lang}"
        if (lang, text[lang]) not in SAME_AS_ENGLISH:
            assert text[lang] != text["en"], f"{provider.name} {what} in {lang} is English"


@pytest.mark.parametrize("lang", available_languages())
def test_the_disclosure_labels_and_countries_exist_in_every_language(lang: str) -> None:
    texts = builtin_texts(lang)
    for provider in BUILT_INS:
        if provider.disclosure is None:
            continue
        assert texts[f"disclosure.roles.{provider.disclosure.role}"].strip()
        for basis in provider.disclosure.transfer_basis:
            assert texts[f"disclosure.bases.{basis}"].strip()
    for code in country_codes():
        name = provider_texts(lang)[f"countries.{code}"]
        assert name.strip() and name != code


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_disclosure_labels_are_translated(lang: str) -> None:
    for key, text in builtin_texts(lang).items():
        if key.startswith("disclosure."):
            assert text != builtin_texts("en")[key], f"{key} in {lang} is the English text"


def test_country_names_follow_the_language() -> None:
    assert country_names(("IE", "US"), "de") == "Irland, USA"
    assert country_names(("IE", "US"), "fr") == "Irlande, États-Unis"
    assert country_names(("DE",), "da") == "Tyskland"


def test_a_german_visitor_reads_german_cookie_purposes() -> None:
    config = make_config(providers=[GoogleAnalytics("G-ABC123XYZ"), JetpackStats(4242)])
    renderer = Renderer(config, Assets(config.prefix))
    html = renderer.preferences_page(
        "de", ConsentState(), next_path="/", csrf_token="t", saved=False
    )
    assert "Dient dazu, Besucher zu unterscheiden" in html
    assert "Google Analytics ist der Statistikdienst von Google" in html
    assert "Jetpack Stats ist der Statistikdienst von Automattic" in html
    assert "Bis zu 400 Tage" in html
    assert "Used to distinguish visitors" not in html


def test_no_cookie_says_its_lifetime_is_unpublished() -> None:
    """Planet49: a duration for every cookie; where a vendor publishes none, a maximum."""
    for provider in BUILT_INS:
        for cookie in provider.cookies:
            expiry = cookie.expiry
            assert not isinstance(expiry, str)
            assert "publish" not in expiry["en"] or expiry["en"].startswith("Up to "), cookie.name
