"""A site's own language files: ``ConsentConfig(locale_dirs=[...])``.

A folder holds ``<language>.toml`` files shaped like consentgate's own
(``src/consentgate/locales/en.toml``). A file for one of the ten built-in
languages changes texts of that language and may add keys of the site's own,
for its overridden templates. A file for another language adds that language:
it must give every text consentgate shows, every key of the site's own, and
the texts of the built-in providers the site configures (``[providers]``).
Every key of the site's own must exist in every language, built-in or added.
Anything missing is a ConfigurationError naming the key and the file, at
start-up rather than on a visitor's page.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._exceptions import ConfigurationError
from ._locales import (
    CatalogText,
    Texts,
    available_languages,
    builtin_texts,
    check_text,
    country_key,
    flatten,
    provider_texts,
    text_keys,
)
from .providers import Provider

__all__ = ["NO_SITE_LOCALES", "SiteLocales", "catalog_keys", "load_site_locales"]

_LANGUAGE = re.compile(r"[a-z]{2,3}")
_PROVIDERS = "providers"


@dataclass(frozen=True)
class SiteLocales:
    """What a site's language files add, checked."""

    #: Per language: for a built-in one what the site changes or adds, for an added one all.
    texts: Mapping[str, Texts] = field(default_factory=dict)
    #: Per added language: the built-in providers' texts it gives, by key.
    provider_texts: Mapping[str, Texts] = field(default_factory=dict)
    #: The languages the site adds, sorted.
    added: tuple[str, ...] = ()
    #: The keys of the site's own.
    own_keys: frozenset[str] = frozenset()


NO_SITE_LOCALES = SiteLocales()


def load_site_locales(
    folders: Sequence[str | os.PathLike[str]], provider_keys: Iterable[str]
) -> SiteLocales:
    """Read and check the language files in ``folders``.

    ``provider_keys`` are the provider texts the configured built-in providers
    show (``descriptions.youtube``, ``countries.IE``, ...), which an added
    language must give.
    """
    if not folders:
        return NO_SITE_LOCALES
    files = _language_files(folders)
    builtin_keys = set(text_keys())
    tables = {lang: _read(where, path) for lang, (where, path) in files.items()}
    flat = {
        lang: flatten({k: v for k, v in table.items() if k != _PROVIDERS})
        for lang, table in tables.items()
    }
    own = {key for texts in flat.values() for key in texts} - builtin_keys
    builtin_languages = available_languages()
    added = tuple(sorted(lang for lang in files if lang not in builtin_languages))
    needed_providers = sorted(set(provider_keys))
    known_providers = set(provider_texts("en"))
    texts: dict[str, Texts] = {}
    providers: dict[str, Texts] = {}
    first_folder = Path(folders[0])
    for lang in (*builtin_languages, *added):
        where, path = files.get(lang, ("locale_dirs[0]", first_folder / f"{lang}.toml"))
        given = flat.get(lang, {})
        required = own if lang in builtin_languages else builtin_keys | own
        missing = sorted(required - set(given))
        if missing:
            key = missing[0]
            raise ConfigurationError(
                where,
                f"{path} has no text for {key!r}"
                + ("" if lang in files else " (the file is missing)")
                + (
                    f"; every language needs the site's own keys ({', '.join(sorted(own))})"
                    if key in own
                    else "; an added language needs every text consentgate shows "
                    "(the keys of consentgate's locales/en.toml)"
                ),
            )
        for key, text in given.items():
            check_text(f"{where}: {path}: {key}", text, builtin_texts("en").get(key))
        if lang in files:
            texts[lang] = MappingProxyType(dict(given))
        provider_table = tables.get(lang, {}).get(_PROVIDERS, {})
        if lang in builtin_languages:
            if provider_table:
                raise ConfigurationError(
                    where,
                    f"{path}: [providers] texts of a built-in language are consentgate's; "
                    "declare a Provider of your own to word one differently",
                )
            continue
        given_providers = flatten(provider_table) if isinstance(provider_table, Mapping) else {}
        for key in given_providers:
            if key not in known_providers:
                raise ConfigurationError(
                    where, f"{path}: providers.{key} is not a text of a built-in provider"
                )
        for key in needed_providers:
            if key not in given_providers:
                raise ConfigurationError(
                    where,
                    f"{path} has no text for 'providers.{key}', which a configured provider "
                    "shows; copy it from consentgate's en.toml and translate it",
                )
            check_text(f"{where}: {path}: providers.{key}", given_providers[key], None)
        providers[lang] = MappingProxyType(dict(given_providers))
    return SiteLocales(
        texts=MappingProxyType(texts),
        provider_texts=MappingProxyType(providers),
        added=added,
        own_keys=frozenset(own),
    )


def catalog_keys(providers: Iterable[Provider]) -> frozenset[str]:
    """The built-in provider texts ``providers`` show, by their keys in the language files."""
    keys: set[str] = set()
    for provider in providers:
        texts: list[object] = [provider.description]
        for cookie in provider.cookies:
            texts += [cookie.purpose, cookie.expiry, cookie.processing_location]
        if provider.disclosure is not None:
            texts.append(provider.disclosure.retention)
            keys.update(country_key(code) for code in provider.disclosure.countries)
        keys.update(text.key for text in texts if isinstance(text, CatalogText))
    return frozenset(keys)


def _language_files(folders: Sequence[str | os.PathLike[str]]) -> dict[str, tuple[str, Path]]:
    """Each language's file, with the ``locale_dirs[i]`` it came from."""
    found: dict[str, tuple[str, Path]] = {}
    for index, folder in enumerate(folders):
        where = f"locale_dirs[{index}]"
        if not isinstance(folder, str | os.PathLike) or not Path(folder).is_dir():
            raise ConfigurationError(where, f"{folder!r} is not a folder")
        for path in sorted(Path(folder).glob("*.toml")):
            lang = path.stem
            if not _LANGUAGE.fullmatch(lang):
                raise ConfigurationError(
                    where,
                    f"{path}: name a language file after its ISO 639 code, like da.toml or pl.toml",
                )
            if lang in found:
                raise ConfigurationError(
                    where, f"{path}: {lang!r} also comes from {found[lang][1]}; give it once"
                )
            found[lang] = (where, path)
    return found


def _read(where: str, path: Path) -> Mapping[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(where, f"cannot read {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(where, f"{path} is not valid TOML: {exc}") from exc
