"""What a visitor is shown about each optional category and provider, and its revision.

A grant is consent to what the visitor was shown. So each optional category
gets a revision: a SHA-256 digest of what the banner and the second layer say
about it, in every language: its title and description, and for each of its
providers everything a ``Provider`` discloses (name, title, description, privacy
policy, its cookies with their purpose, expiry, party and processing location,
and any disclosure field a Provider carries), but not its markup. Each provider
gets one too, over its own part. Computed once at start-up.

Every language, not one canonical language: a visitor reading Danish consents
to the Danish text, and a change there (a corrected purpose, a new country)
changes what that visitor was told even when the English text stays the same.
A template's layout, the theme or the snippets' markup change nothing here.

The consent cookie keeps the revision of each granted category (``short``: 48
bits suffice to notice a change); the log keeps the full digest, and the
content itself in its texts table, so that the operator can show what a
visitor was told.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._text import LocalizedText, localized
from .providers import Provider

__all__ = ["CategoryTexts", "Revisions", "short"]

#: A Provider's fields that are markup or placement, not something the visitor reads.
_NOT_SHOWN = frozenset({"category", "head", "body", "head_template", "body_template", "preludes"})
#: A text in a language, as the visitor reads it (the renderer's, which knows the site's
#: own languages).
Localize = Callable[[LocalizedText, str], str]
#: Characters of a short revision in the consent cookie (48 bits, URL-safe base64).
SHORT_LENGTH = 8


def short(revision: str) -> str:
    """The cookie's form of a hex revision: its first 48 bits, 8 URL-safe characters."""
    return base64.urlsafe_b64encode(bytes.fromhex(revision)[:6]).decode("ascii")


def digest(content: Any) -> str:
    """Hex SHA-256 of ``content`` as canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def canonical_json(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class CategoryTexts:
    """One category as shown: its revision and its content per language."""

    name: str
    #: Hex SHA-256 of ``content``, canonical JSON.
    revision: str
    #: Language -> {"title", "description", "providers": [...]}, as JSON values.
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Revisions:
    """The revisions of a site's optional categories and of its providers."""

    categories: Mapping[str, CategoryTexts]
    #: Provider name -> hex revision (providers sharing a name share one).
    providers: Mapping[str, str]

    @classmethod
    def of(
        cls,
        categories: Iterable[tuple[str, Mapping[str, tuple[str, str]]]],
        providers: Iterable[Provider],
        languages: Iterable[str],
        localize: Localize = localized,
    ) -> Revisions:
        """``categories``: each optional category's name with its title and description
        per language; ``providers``: the configured ones; ``localize``: how a provider's
        text reads in a language (a language the site added has its own)."""
        languages = tuple(languages)
        by_name: dict[str, list[Provider]] = {}
        for provider in providers:
            by_name.setdefault(provider.name, []).append(provider)
        shown = {
            name: {
                lang: _sorted([provider_shown(p, lang, localize) for p in group])
                for lang in languages
            }
            for name, group in by_name.items()
        }
        texts = {}
        for name, titled in categories:
            members = sorted(p for p, group in by_name.items() if group[0].category == name)
            content = {
                lang: {
                    "title": titled[lang][0],
                    "description": titled[lang][1],
                    "providers": [item for p in members for item in shown[p][lang]],
                }
                for lang in languages
            }
            texts[name] = CategoryTexts(name, digest(content), MappingProxyType(content))
        return cls(
            categories=MappingProxyType(texts),
            providers=MappingProxyType({name: digest(c) for name, c in shown.items()}),
        )

    def short_categories(self) -> Mapping[str, str]:
        """Category -> short revision, as the cookie keeps it."""
        return {name: short(t.revision) for name, t in self.categories.items()}

    def short_providers(self) -> Mapping[str, str]:
        """Provider name -> short revision, as the cookie keeps it."""
        return {name: short(revision) for name, revision in self.providers.items()}


def provider_revisions(content: Mapping[str, Any]) -> dict[str, str]:
    """Provider name -> revision, from a category's content as ``Revisions.of`` made it
    (and the log's texts table keeps it): what each of its providers was shown as."""
    grouped: dict[str, dict[str, list[Any]]] = {}
    for lang, shown in content.items():
        for item in shown["providers"]:
            grouped.setdefault(item["name"], {}).setdefault(lang, []).append(item)
    return {name: digest(by_lang) for name, by_lang in grouped.items()}


def provider_shown(provider: Provider, lang: str, localize: Localize = localized) -> dict[str, Any]:
    """What a visitor reading ``lang`` is told about ``provider``."""
    return {
        f.name: _shown(getattr(provider, f.name), lang, localize)
        for f in dataclasses.fields(Provider)
        if f.name not in _NOT_SHOWN
    }


def _shown(value: Any, lang: str, localize: Localize) -> Any:
    """``value`` as JSON, its texts in ``lang`` (a mapping of strings is a localized text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        if all(isinstance(v, str) for v in value.values()):
            return localize(value, lang)
        return {str(k): _shown(v, lang, localize) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _shown(getattr(value, f.name), lang, localize)
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, tuple | list | frozenset | set):
        items = [_shown(v, lang, localize) for v in value]
        return _sorted(items) if isinstance(value, frozenset | set) else items
    return str(value)


def _sorted(items: list[Any]) -> list[Any]:
    """JSON values in an order that does not depend on the configuration's."""
    return sorted(items, key=canonical_json)
