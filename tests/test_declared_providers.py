"""The providers a site writes into its own templates: declared, in ten languages, not injected."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from consentgate import ConfigurationError, ConsentConfig, ConsentState
from consentgate._assets import Assets
from consentgate._blocking import Blocking
from consentgate._locales import available_languages, provider_texts
from consentgate._registry import builtin_trackers
from consentgate._render import Renderer
from consentgate.providers import (
    GoogleAnalytics,
    GoogleMaps,
    GoogleTagManager,
    Hotjar,
    LinkedInInsight,
    Matomo,
    MetaPixel,
    MicrosoftClarity,
    Provider,
    Vimeo,
    YouTube,
)

from .helpers import SECRET, choose, client_for, make_app, make_config
from .tracker_corpus import MATOMO, YOUTUBE, page_with

DECLARED = [
    GoogleTagManager(),
    MetaPixel(),
    LinkedInInsight(),
    Hotjar(),
    MicrosoftClarity(),
    Matomo("https://matomo.example.org/"),
    YouTube(),
    Vimeo(),
    GoogleMaps(),
]


@pytest.mark.parametrize("provider", DECLARED, ids=lambda p: p.name)
def test_each_is_valid_and_named_as_the_registry_names_it(provider: Provider) -> None:
    provider.validate("providers[0]")
    registry_names = {t.provider for t in builtin_trackers()}
    assert provider.name in registry_names
    assert provider.head == provider.body == ""
    assert provider.head_template is provider.body_template is None


@pytest.mark.parametrize("provider", DECLARED, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", available_languages())
def test_each_speaks_every_language(provider: Provider, lang: str) -> None:
    texts = [provider.description] + [
        text
        for cookie in provider.cookies
        for text in (cookie.purpose, cookie.expiry, cookie.processing_location)
    ]
    for text in texts:
        assert isinstance(text, dict | type(provider.description))
        assert not isinstance(text, str)
        assert text[lang].strip()
    if lang != "en":
        assert provider.description[lang] != provider.description["en"]  # type: ignore[index]


@pytest.mark.parametrize("lang", available_languages())
def test_provider_texts_have_the_english_keys(lang: str) -> None:
    assert set(provider_texts(lang)) == set(provider_texts("en"))
    assert all(text.strip() for text in provider_texts(lang).values())


def test_provider_texts_are_not_overridable_texts() -> None:
    """Issue 12 moves the provider texts into ``texts``; until then none is offered there."""
    with pytest.raises(ConfigurationError):
        make_config(texts={"en": {"providers.descriptions.youtube": "x"}})


def test_the_declaration_lists_them_with_their_cookies() -> None:
    config = make_config(providers=DECLARED)
    renderer = Renderer(config, Assets(config.prefix))
    views = {view.name: view for view in renderer.declaration("de")}
    marketing = [p.name for p in views["marketing"].providers]
    assert {"google-tag-manager", "meta-pixel", "youtube", "vimeo", "google-maps"} <= set(marketing)
    html = renderer.preferences_page(
        "de", ConsentState(), next_path="/", csrf_token="t", saved=False
    )
    assert "VISITOR_INFO1_LIVE" in html and "_fbp" in html
    assert "Videos auf dieser Website werden von YouTube abgespielt" in html


def test_matomo_cookieless_declares_no_cookies_and_says_so() -> None:
    with_cookies, cookieless = (
        Matomo("https://m.example.org/"),
        Matomo("https://m.example.org/", cookieless=True),
    )
    assert [c.name for c in with_cookies.cookies] == ["_pk_id.*", "_pk_ses.*", "_pk_ref.*"]
    assert cookieless.cookies == ()
    assert "without cookies" in cookieless.description["en"]  # type: ignore[index]
    assert "without cookies" not in with_cookies.description["en"]  # type: ignore[index]


def test_matomo_adds_its_server_to_the_registry() -> None:
    blocking = Blocking(make_config(providers=[Matomo("https://stats.example.org/piwik")]))
    page = b'<script src="https://stats.example.org/piwik/matomo.js"></script>'
    out = blocking.page_of(ConsentState(consent_id="x"), "www.example.com", "/").whole(page)
    assert out.startswith(b'<script type="text/plain" data-consent="matomo"')
    assert (
        blocking.page_of(ConsentState(consent_id="x"), "www.example.com", "/").whole(
            page_with(MATOMO).encode()
        )
        != page_with(MATOMO).encode()
    )


@pytest.mark.parametrize("url", ["stats.example.org", "ftp://stats.example.org/", ""])
def test_matomo_needs_a_web_url(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(providers=[Matomo(url)])
    assert caught.value.field == "providers[0].url"


def test_declared_providers_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\n'
        '[[providers]]\ntype = "youtube"\n'
        '[[providers]]\ntype = "matomo"\nurl = "https://stats.example.org/"\ncookieless = true\n'
        '[[providers]]\ntype = "google-analytics"\nmeasurement_id = "G-A1B2C3D4E5"\n'
        "inject = false\n",
        encoding="utf-8",
    )
    config = ConsentConfig.from_toml(path)
    assert [p.name for p in config.providers] == ["youtube", "matomo", "google-analytics"]
    assert config.providers[1].cookies == ()


@pytest.mark.anyio
@pytest.mark.parametrize(("inject", "injected"), [(False, False), (True, True)])
async def test_google_analytics_inject_false_declares_but_injects_nothing(
    inject: bool, injected: bool
) -> None:
    config = make_config(providers=[GoogleAnalytics("G-A1B2C3D4E5", inject=inject)])
    async with client_for(make_app(config)) as client:
        await choose(client, "accept_all")
        page = (await client.get("/page")).text
        declaration = (await client.get("/_consent/preferences")).text
    assert ("googletagmanager.com/gtag/js?id=G-A1B2C3D4E5" in page) is injected
    assert "Google Analytics" in declaration and "_ga_A1B2C3D4E5" in declaration


def test_markup_of_an_undeclared_provider_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    blocking = Blocking(make_config(providers=[]))
    page = page_with(YOUTUBE).encode()
    with caplog.at_level(logging.WARNING, "consentgate"):
        for path in ("/a", "/b"):
            blocking.page_of(ConsentState(), "www.example.com", path).whole(page)
    messages = [r.getMessage() for r in caplog.records if "YouTube" in r.getMessage()]
    assert len(messages) == 1 and "/a" in messages[0]
    caplog.clear()
    declared = Blocking(make_config(providers=[YouTube()]))
    with caplog.at_level(logging.WARNING, "consentgate"):
        declared.page_of(ConsentState(), "www.example.com", "/a").whole(page)
    assert not caplog.records
