"""The built-in texts: one TOML file per language in ``consentgate/locales``."""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from ._exceptions import ConfigurationError

__all__ = [
    "CatalogText",
    "Texts",
    "available_languages",
    "builtin_texts",
    "check_overrides",
    "check_text",
    "country_codes",
    "country_key",
    "country_names",
    "flatten",
    "provider_text",
    "provider_texts",
    "text_keys",
]

_PROVIDERS = "providers"

#: Flattened texts of one language: ``{"banner.title": "...", ...}``.
Texts = Mapping[str, str]


@cache
def available_languages() -> tuple[str, ...]:
    """Language codes that have a built-in text file, sorted."""
    folder = files("consentgate") / "locales"
    return tuple(
        sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    )


@cache
def _locale_file(language: str) -> Mapping[str, Any]:
    source = (files("consentgate") / "locales" / f"{language}.toml").read_text(encoding="utf-8")
    return tomllib.loads(source)


@cache
def builtin_texts(language: str) -> Texts:
    """The texts consentgate's templates show, which a site may override."""
    table = {k: v for k, v in _locale_file(language).items() if k != _PROVIDERS}
    return _flatten(table)


@cache
def provider_texts(language: str) -> Texts:
    """The built-in providers' declaration texts (``[providers]`` in the language file)."""
    return _flatten(_locale_file(language).get(_PROVIDERS, {}))


class CatalogText(Mapping[str, str]):
    """A built-in provider's text: read-only, in every built-in language, and with its key
    in the language files, so a language a site adds can give it too."""

    __slots__ = ("_texts", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self._texts = {lang: provider_texts(lang)[key] for lang in available_languages()}

    def __getitem__(self, language: str) -> str:
        return self._texts[language]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __repr__(self) -> str:
        return f"CatalogText({self.key!r})"


def provider_text(key: str) -> CatalogText:
    """One provider text in every language, e.g. ``provider_text("purposes.visitor")``."""
    return CatalogText(key)


_COUNTRIES = "countries."


@cache
def country_codes() -> frozenset[str]:
    """The ISO 3166-1 codes every language file names (``[providers.countries]``)."""
    return frozenset(
        key.removeprefix(_COUNTRIES) for key in provider_texts("en") if key.startswith(_COUNTRIES)
    )


def country_key(code: str) -> str:
    """The key of a country's name among the provider texts."""
    return f"{_COUNTRIES}{code}"


def country_names(codes: Iterable[str], language: str) -> str:
    """Country names in a built-in ``language``, joined with commas, in the given order."""
    texts = provider_texts(language)
    return ", ".join(texts.get(country_key(code), code) for code in codes)


def _flatten(
    table: Mapping[str, Any], prefix: str = "", *, stringify: bool = True
) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}.", stringify=stringify))
        else:
            flat[f"{prefix}{key}"] = str(value) if stringify else value
    return flat


def flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    """A nested table of a site's texts as dotted keys, values as they are (to be checked)."""
    return _flatten(table, stringify=False)


def text_keys() -> tuple[str, ...]:
    """Every text a site may override (the same in every language), sorted."""
    return tuple(sorted(builtin_texts("en")))


def check_overrides(
    overrides: object,
    languages: Iterable[str] = (),
    own_keys: Iterable[str] = (),
) -> Mapping[str, Texts]:
    """A site's ``texts`` setting, checked and flattened: ``{"da": {"banner.title": ...}}``.

    Nested tables (``[texts.da.banner]`` in TOML) and dotted keys both work. An
    unknown language or key, or a text with a placeholder the built-in text does
    not have, is an error: a typo must not silently leave the built-in text.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigurationError("texts", "must be a table of languages, e.g. {'da': {...}}")
    languages = (*available_languages(), *languages)
    keys = set(text_keys()) | set(own_keys)
    checked: dict[str, Texts] = {}
    for lang, table in overrides.items():
        if lang not in languages:
            raise ConfigurationError(
                f"texts.{lang}",
                f"{lang!r} is not a language consentgate has texts for; "
                f"available: {', '.join(languages)}",
            )
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"texts.{lang}", "must be a table of texts by key")
        flat = _flatten(table, stringify=False)
        for key, text in flat.items():
            where = f"texts.{lang}.{key}"
            if key not in keys:
                near = difflib.get_close_matches(key, keys, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                if key.startswith("categories."):
                    hint += "(a site's own category brings its texts: Category(title=...)) "
                raise ConfigurationError(
                    where,
                    f"is not a text consentgate shows; {hint}valid keys: {', '.join(sorted(keys))}",
                )
            check_text(where, text, builtin_texts("en").get(key))
        checked[lang] = MappingProxyType(flat)
    return MappingProxyType(checked)


def check_text(where: str, text: object, builtin: str | None) -> None:
    """A site's ``text`` for a key whose built-in text is ``builtin`` (None for a key of the
    site's own, which its templates use as they like): non-empty, and with no placeholder
    the built-in text does not have."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(where, "must be a non-empty string")
    if builtin is None:
        return
    allowed = _placeholders(builtin)
    if not allowed:
        # Shown as written: a placeholder here would reach the visitor as "{controller}".
        stray = re.search(r"\{\w+\}", text)
        if stray:
            raise ConfigurationError(
                where, f"this text has no placeholders, so {stray[0]} would be shown as is"
            )
        return
    try:
        used = _placeholders(text)
    except ValueError as exc:
        raise ConfigurationError(where, f"{exc}; write a literal brace as {{{{ or }}}}") from exc
    unknown = used - allowed
    if unknown:
        raise ConfigurationError(
            where,
            f"uses {', '.join(f'{{{name}}}' for name in sorted(unknown))}, which this text "
            f"does not have (it has {', '.join(f'{{{name}}}' for name in sorted(allowed))})",
        )


def _placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` text; ValueError on a stray brace."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}}} is not a placeholder")
        names.add(name)
    return names
