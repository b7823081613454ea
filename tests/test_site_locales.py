"""Issue 12 §4: a site adds a language, and text keys of its own for its templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConfigurationError, ConsentConfig
from consentgate._locales import available_languages, builtin_texts, provider_texts
from consentgate.providers import GoogleAnalytics, Hotjar, YouTube

from .helpers import SECRET, client_for, make_app, make_config
from .tracker_corpus import VIMEO, YOUTUBE, page_with

pytestmark = pytest.mark.anyio

#: Polish, as a site would add it: every text, "PL:" before the English one.
POLISH = {key: f"PL: {text}" for key, text in builtin_texts("en").items()}
POLISH_PROVIDERS = {f"providers.{k}": f"PL: {v}" for k, v in provider_texts("en").items()}
POLISH_PROVIDERS["providers.countries.US"] = "Stany Zjednoczone"
POLISH_PROVIDERS["providers.countries.IE"] = "Irlandia"


def write_locale(folder: Path, lang: str, texts: Mapping[str, str]) -> Path:
    """A language file of dotted keys (TOML reads ``a.b = ...`` as a nested table)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lang}.toml"
    path.write_text(
        "".join(f"{key} = {json.dumps(text, ensure_ascii=False)}\n" for key, text in texts.items()),
        encoding="utf-8",
    )
    return path


def polish(tmp_path: Path, **changes: str | None) -> Path:
    texts = {**POLISH, **POLISH_PROVIDERS}
    for key, text in changes.items():
        if text is None:
            del texts[key]
        else:
            texts[key] = text
    write_locale(tmp_path / "locales", "pl", texts)
    return tmp_path / "locales"


def error(**settings: object) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        make_config(**settings)
    return caught.value


# -- an added language ----------------------------------------------------------------------------


async def test_an_added_language_is_negotiated_and_shown(tmp_path: Path) -> None:
    config = make_config(locale_dirs=[polish(tmp_path)], providers=[GoogleAnalytics("G-ABC123XYZ")])
    async with client_for(make_app(config)) as client:
        page = (await client.get("/", headers={"accept-language": "pl, en;q=0.5"})).text
        centre = (await client.get("/_consent/preferences?lang=pl")).text
    assert f"PL: {builtin_texts('en')['banner.title']}" in page
    assert 'lang="pl"' in page
    for key in (
        "descriptions.google-analytics",
        "purposes.ga-visitor",
        "retention.google-analytics",
    ):
        assert str(escape(f"PL: {provider_texts('en')[key]}")) in centre
    assert "Irlandia, Stany Zjednoczone" in centre


def test_an_added_language_may_be_the_default(tmp_path: Path) -> None:
    config = make_config(locale_dirs=[polish(tmp_path)], default_language="pl")
    assert config.default_language == "pl"
    assert config.site_locales.added == ("pl",)


def test_the_built_in_languages_still_need_no_file(tmp_path: Path) -> None:
    config = make_config(locale_dirs=[polish(tmp_path)])
    assert config.site_locales.texts.keys() == {"pl"}


def test_a_missing_text_in_an_added_language_names_the_key_and_file(tmp_path: Path) -> None:
    folder = polish(tmp_path, **{"banner.reject_all": None})
    caught = error(locale_dirs=[folder])
    assert caught.field == "locale_dirs[0]"
    assert "banner.reject_all" in str(caught)
    assert str(folder / "pl.toml") in str(caught)


def test_a_missing_provider_text_is_named_only_for_a_configured_provider(tmp_path: Path) -> None:
    folder = polish(tmp_path, **{"providers.descriptions.youtube": None})
    make_config(locale_dirs=[folder], providers=[GoogleAnalytics("G-ABC123XYZ")])
    caught = error(locale_dirs=[folder], providers=[YouTube()])
    assert "providers.descriptions.youtube" in str(caught)
    assert str(folder / "pl.toml") in str(caught)


def test_a_missing_country_name_is_named(tmp_path: Path) -> None:
    folder = polish(tmp_path, **{"providers.countries.MT": None})
    caught = error(locale_dirs=[folder], providers=[Hotjar()])
    assert "providers.countries.MT" in str(caught)


def test_an_unknown_provider_text_is_named(tmp_path: Path) -> None:
    folder = polish(tmp_path, **{"providers.descriptions.youtub": "PL"})
    assert "providers.descriptions.youtub" in str(error(locale_dirs=[folder]))


def test_a_built_in_text_keeps_its_placeholders(tmp_path: Path) -> None:
    folder = polish(tmp_path, **{"banner.intro": "{company} używa plików cookie"})
    assert "{company}" in str(error(locale_dirs=[folder]))


# -- keys of the site's own -----------------------------------------------------------------------


def own_keys_everywhere(folder: Path, skip: str = "") -> None:
    for lang in available_languages():
        if lang != skip:
            write_locale(folder, lang, {"site.tagline": f"{lang}: cookies, honestly"})


async def test_a_sites_own_key_is_there_for_its_template(tmp_path: Path) -> None:
    folder = tmp_path / "locales"
    own_keys_everywhere(folder)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "banner.html").write_text(
        '{% extends "@consentgate/banner.html" %}'
        '{% block footer %}<p class="tagline">{{ t["site.tagline"] }}</p>{% endblock %}',
        encoding="utf-8",
    )
    config = make_config(locale_dirs=[folder], template_dirs=[templates])
    async with client_for(make_app(config)) as client:
        page = (await client.get("/", headers={"accept-language": "sv"})).text
    assert '<p class="tagline">sv: cookies, honestly</p>' in page


def test_a_sites_own_key_missing_in_one_language_names_it_and_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "locales"
    own_keys_everywhere(folder, skip="fi")
    caught = error(locale_dirs=[folder])
    assert "site.tagline" in str(caught)
    assert str(folder / "fi.toml") in str(caught) and "missing" in str(caught)


def test_a_sites_own_key_is_needed_in_an_added_language_too(tmp_path: Path) -> None:
    folder = polish(tmp_path)
    own_keys_everywhere(folder)
    caught = error(locale_dirs=[folder])
    assert "site.tagline" in str(caught) and "pl.toml" in str(caught)


def test_a_built_in_language_file_changes_its_texts(tmp_path: Path) -> None:
    folder = tmp_path / "locales"
    write_locale(folder, "da", {"banner.title": "Cookies? Du bestemmer."})
    config = make_config(locale_dirs=[folder])
    assert config.site_locales.texts["da"]["banner.title"] == "Cookies? Du bestemmer."


def test_texts_may_name_an_added_language_and_own_keys(tmp_path: Path) -> None:
    folder = polish(tmp_path)
    config = make_config(locale_dirs=[folder], texts={"pl": {"banner.title": "Ciasteczka"}})
    assert config.texts["pl"]["banner.title"] == "Ciasteczka"


# -- bad files ------------------------------------------------------------------------------------


def test_a_built_in_languages_provider_texts_are_not_the_sites(tmp_path: Path) -> None:
    folder = tmp_path / "locales"
    write_locale(folder, "de", {"providers.descriptions.youtube": "Videos"})
    assert "[providers]" in str(error(locale_dirs=[folder]))


@pytest.mark.parametrize("name", ["polish.toml", "PL.toml", "pt-BR.toml"])
def test_a_file_not_named_after_a_language_is_named(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "locales"
    folder.mkdir()
    (folder / name).write_text("", encoding="utf-8")
    caught = error(locale_dirs=[folder])
    assert caught.field == "locale_dirs[0]" and name in str(caught)


def test_one_language_from_two_folders_is_named(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_locale(first, "da", {"banner.title": "A"})
    write_locale(second, "da", {"banner.title": "B"})
    caught = error(locale_dirs=[first, second])
    assert caught.field == "locale_dirs[1]"


def test_broken_toml_and_missing_folders_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "locales"
    folder.mkdir()
    (folder / "da.toml").write_text("banner.title = ", encoding="utf-8")
    assert "not valid TOML" in str(error(locale_dirs=[folder]))
    assert error(locale_dirs=[tmp_path / "nowhere"]).field == "locale_dirs[0]"


def test_locale_dirs_in_toml_are_relative_to_the_file(tmp_path: Path) -> None:
    polish(tmp_path)
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\n'
        'locale_dirs = ["locales"]\ndefault_language = "pl"\n',
        encoding="utf-8",
    )
    config = ConsentConfig.from_toml(path)
    assert config.site_locales.added == ("pl",)


async def test_an_embeds_placeholder_speaks_the_added_language(tmp_path: Path) -> None:
    """A declared provider's description from the site's file, and so is an undeclared
    one's (Vimeo, known only to the registry), since the file gives it."""
    config = make_config(locale_dirs=[polish(tmp_path)], providers=[YouTube()])
    html = page_with(YOUTUBE, VIMEO)

    async def page(request: Request) -> Response:
        return HTMLResponse(html)

    app = make_app(config, [Route("/video", page)])
    async with client_for(app) as client:
        shown = (await client.get("/video", headers={"accept-language": "pl"})).text
    assert str(escape(f"PL: {provider_texts('en')['descriptions.youtube']}")) in shown
    assert str(escape(f"PL: {builtin_texts('en')['embed.video']}")) in shown
    assert str(escape(f"PL: {provider_texts('en')['descriptions.vimeo']}")) in shown
