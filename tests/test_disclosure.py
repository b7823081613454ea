"""Issue 12 §2: who receives a provider's data, where and for how long, on the second layer."""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConfigurationError, ConsentConfig
from consentgate._locales import available_languages, builtin_texts
from consentgate.providers import (
    Buffer,
    DeclaredCookie,
    Disclosure,
    GoogleAnalytics,
    Hotjar,
    JetpackStats,
    Matomo,
    MetaPixel,
    Provider,
    SiteKit,
)

from .helpers import SECRET, client_for, make_app, make_config

pytestmark = pytest.mark.anyio

EU_ONLY = Disclosure(
    legal_entity="Statistik ApS",
    address="Vestergade 1, 1456 København K, Danmark",
    role="processor",
    countries=("DK",),
    retention={"en": "13 months", "da": "13 måneder"},
)


def _disclosure(**changes: Any) -> Disclosure:
    values: dict[str, Any] = {
        "legal_entity": "Chat Inc.",
        "address": "1 Main Street, Springfield, USA",
        "role": "independent-controller",
        "countries": ("US",),
        "transfer_basis": ("scc",),
        "retention": "90 days",
    }
    values.update(changes)
    return Disclosure(**values)


def _custom(**changes: Any) -> Provider:
    values: dict[str, Any] = {"name": "chat", "title": "Chat", "category": "marketing"}
    values.update(changes)
    return Provider(**values)


def test_every_built_in_but_self_hosted_matomo_has_a_disclosure() -> None:
    for provider in (GoogleAnalytics("G-ABC123XYZ"), SiteKit("G-ABC123XYZ"), JetpackStats(1)):
        assert provider.disclosure is not None
        assert provider.disclosure.outside_eea == ("US",)
    hotjar = Hotjar().disclosure
    assert hotjar is not None and hotjar.outside_eea == () and hotjar.transfer_basis == ()
    assert MetaPixel().disclosure is not None and MetaPixel().disclosure.role == "joint-controller"  # type: ignore[union-attr]
    assert Matomo("https://stats.example.com/").disclosure is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"legal_entity": " "}, "legal_entity"),
        ({"address": ""}, "address"),
        ({"role": "controller"}, "role"),
        ({"countries": ()}, "countries"),
        ({"countries": ["US"]}, "countries"),
        ({"countries": ("us",)}, "countries[0]"),
        ({"countries": ("DK", "XX")}, "countries[1]"),
        ({"transfer_basis": ()}, "transfer_basis"),
        ({"transfer_basis": ("privacy-shield",)}, "transfer_basis"),
        ({"transfer_basis": ("none", "scc")}, "transfer_basis"),
        ({"countries": ("DK",), "transfer_basis": ("scc",)}, "transfer_basis"),
        ({"retention": ""}, "retention"),
        ({"retention": {"en": " "}}, "retention"),
    ],
)
def test_a_bad_disclosure_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(providers=[_custom(disclosure=_disclosure(**changes))])
    assert caught.value.field == f"providers[0].disclosure.{field}"


def test_none_is_a_basis_a_site_may_disclose() -> None:
    config = make_config(providers=[_custom(disclosure=_disclosure(transfer_basis=("none",)))])
    assert config.providers[0].disclosure is not None


def test_a_disclosure_must_be_one() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(providers=[_custom(disclosure={"legal_entity": "x"})])
    assert caught.value.field == "providers[0].disclosure"


# -- cookie durations (Planet49) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "expiry", ["unknown", "Not published", "n/a", "-", "?", {"en": "1 day", "da": "ukendt"}]
)
def test_a_custom_cookie_must_say_how_long_it_lives(expiry: Any) -> None:
    cookie = DeclaredCookie(name="chat_id", purpose="Keeps the chat", expiry=expiry)
    with pytest.raises(ConfigurationError) as caught:
        make_config(providers=[_custom(cookies=(cookie,))])
    assert caught.value.field == "providers[0].cookies[0].expiry"
    assert "400 days" in str(caught.value)


def test_a_missing_expiry_in_toml_is_a_start_up_error(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n'
        '[[providers]]\ntype = "custom"\nname = "chat"\ntitle = "Chat"\ncategory = "marketing"\n'
        '[[providers.cookies]]\nname = "chat_id"\npurpose = "Keeps the chat"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig.from_toml(path)
    assert caught.value.field == "providers[0].cookies[0]"
    assert "expiry" in str(caught.value)


# -- on the second layer ------------------------------------------------------------------------


class _Disclosures(HTMLParser):
    """Each ``<details class="cg-disclosure">``: its summary, and its terms with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str]] = {}
        self._inside = False
        self._tag: str | None = None
        self._text = ""
        self._summary = ""
        self._terms: list[str] = []
        self._values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details" and ("class", "cg-disclosure") in attrs:
            self._inside, self._terms, self._values = True, [], []
        elif self._inside and tag in ("summary", "dt", "dd"):
            self._tag, self._text = tag, ""

    def handle_data(self, data: str) -> None:
        if self._tag is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if not self._inside:
            return
        if tag == self._tag:
            text = " ".join(self._text.split())
            if tag == "summary":
                self._summary = text
            else:
                (self._terms if tag == "dt" else self._values).append(text)
            self._tag = None
        elif tag == "details":
            self.found[self._summary] = dict(zip(self._terms, self._values, strict=True))
            self._inside = False


async def _preferences(config: ConsentConfig, lang: str) -> str:
    async with client_for(make_app(config)) as client:
        response = await client.get("/_consent/preferences", headers={"accept-language": lang})
    assert response.status_code == 200
    return response.text


def _disclosures(html: str) -> dict[str, dict[str, str]]:
    parser = _Disclosures()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("lang", available_languages())
async def test_the_preference_centre_discloses_each_vendor_in_the_visitors_language(
    lang: str,
) -> None:
    config = make_config(providers=[GoogleAnalytics("G-ABC123XYZ"), Hotjar(), Buffer()])
    html = await _preferences(config, lang)
    t = builtin_texts(lang)
    found = _disclosures(html)
    google = found[f"{t['disclosure.summary']}: Google Ireland Limited"]
    assert google[t["disclosure.vendor"]].startswith("Google Ireland Limited, Gordon House")
    assert google[t["disclosure.role"]] == t["disclosure.roles.processor"]
    assert google[t["disclosure.transfer"]] == (
        f"{t['disclosure.bases.dpf']}; {t['disclosure.bases.scc']}"
    )
    assert google[t["disclosure.retention"]]
    hotjar = found[f"{t['disclosure.summary']}: Hotjar Ltd."]
    assert hotjar[t["disclosure.transfer"]] == t["disclosure.bases.not-needed"]
    buffer = found[f"{t['disclosure.summary']}: Buffer Inc."]
    assert buffer[t["disclosure.role"]] == t["disclosure.roles.independent-controller"]


async def test_country_names_are_in_the_visitors_language() -> None:
    config = make_config(providers=[GoogleAnalytics("G-ABC123XYZ"), Hotjar()])
    found = _disclosures(await _preferences(config, "de"))
    assert found["Wer die Daten erhält: Google Ireland Limited"]["Verarbeitung der Daten in"] == (
        "Irland, USA"
    )
    assert found["Wer die Daten erhält: Hotjar Ltd."]["Verarbeitung der Daten in"] == (
        "Malta, Irland"
    )


async def test_a_custom_providers_disclosure_is_shown_with_its_texts() -> None:
    config = make_config(providers=[_custom(category="statistics", disclosure=EU_ONLY)])
    found = _disclosures(await _preferences(config, "da"))
    shown = found["Hvem modtager oplysningerne: Statistik ApS"]
    assert shown["Oplysningerne behandles i"] == "Danmark"
    assert shown["Hvor længe udbyderen gemmer dem"] == "13 måneder"
    assert shown["Overførsel uden for EU/EØS"] == "Ingen: oplysningerne bliver i EU/EØS"


async def test_a_provider_without_a_disclosure_shows_none() -> None:
    config = make_config(providers=[Matomo("https://stats.example.com/")])
    assert _disclosures(await _preferences(config, "en")) == {}


def test_a_toml_provider_carries_its_disclosure(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n'
        '[[providers]]\ntype = "custom"\nname = "chat"\ntitle = "Chat"\ncategory = "marketing"\n'
        "[providers.disclosure]\n"
        'legal_entity = "Chat Inc."\naddress = "1 Main Street, Springfield, USA"\n'
        'role = "processor"\ncountries = ["IE", "US"]\ntransfer_basis = ["dpf", "scc"]\n'
        'retention = { en = "90 days", da = "90 dage" }\n',
        encoding="utf-8",
    )
    [provider] = ConsentConfig.from_toml(path).providers
    assert provider.disclosure == Disclosure(
        legal_entity="Chat Inc.",
        address="1 Main Street, Springfield, USA",
        role="processor",
        countries=("IE", "US"),
        transfer_basis=("dpf", "scc"),
        retention={"en": "90 days", "da": "90 dage"},
    )


def test_an_unknown_disclosure_field_in_toml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n'
        '[[providers]]\ntype = "custom"\nname = "chat"\ntitle = "Chat"\ncategory = "marketing"\n'
        '[providers.disclosure]\nvendor = "Chat Inc."\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig.from_toml(path)
    assert caught.value.field == "providers[0].disclosure"


# -- processing_outside_eea ---------------------------------------------------------------------

OUTSIDE = "consentgate._config"


def test_allow_is_the_default_and_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=OUTSIDE):
        config = make_config()
    assert config.processing_outside_eea == "allow"
    assert not [r for r in caplog.records if r.name == OUTSIDE]


def test_warn_names_each_provider_outside_the_eea(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=OUTSIDE):
        make_config(
            providers=[GoogleAnalytics("G-ABC123XYZ"), Hotjar(), JetpackStats(1)],
            processing_outside_eea="warn",
        )
    [record] = [r for r in caplog.records if r.name == OUTSIDE]
    message = record.getMessage()
    assert "Google Analytics (Google Ireland Limited: US)" in message
    assert "Jetpack Stats (Aut O'Mattic A8C Ireland Ltd.: US)" in message
    assert "Hotjar" not in message


def test_refuse_is_a_configuration_error_naming_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(providers=[Hotjar(), MetaPixel()], processing_outside_eea="refuse")
    assert caught.value.field == "processing_outside_eea"
    assert "providers[1] Meta Pixel (Meta Platforms Ireland Limited: US)" in str(caught.value)
    assert "Hotjar" not in str(caught.value)


def test_refuse_lets_eu_only_providers_start() -> None:
    config = make_config(
        providers=[Hotjar(), _custom(disclosure=EU_ONLY), Matomo("https://stats.example.com/")],
        processing_outside_eea="refuse",
    )
    assert len(config.providers) == 3


def test_a_custom_provider_without_a_disclosure_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=OUTSIDE):
        make_config(providers=[_custom()], processing_outside_eea="refuse")
    assert any("providers[0] (chat) has no disclosure" in r.getMessage() for r in caplog.records)


def test_an_unknown_policy_is_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(processing_outside_eea="block")
    assert caught.value.field == "processing_outside_eea"


def test_the_policy_comes_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n'
        'processing_outside_eea = "refuse"\n'
        '[[providers]]\ntype = "google-analytics"\nmeasurement_id = "G-ABC123XYZ"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        ConsentConfig.from_toml(path)
    assert "Google Analytics" in str(caught.value)
