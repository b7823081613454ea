"""The site's cookie declaration, as its preference centre shows it or its config file says,
and the cookies the built-in providers are known to set."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

from .._config import ConsentConfig, read_toml
from .._state import NECESSARY
from ..providers import (
    DeclaredCookie,
    GoogleAnalytics,
    GoogleMaps,
    Hotjar,
    JetpackStats,
    LinkedInInsight,
    Matomo,
    MetaPixel,
    MicrosoftClarity,
    Provider,
    Vimeo,
    YouTube,
)

__all__ = ["Declaration", "DeclaredEntry", "known_tracker_cookies", "read_site_config"]

#: The scanner reads a config file for its declaration only, never signs anything.
_NO_SECRET = "consentgate-scan-reads-the-declaration-only-0000"


@dataclass(frozen=True, slots=True)
class DeclaredEntry:
    """One cookie (or ``*`` family) the site declares, and whose it is."""

    provider: str
    title: str
    category: str
    cookie: str

    def matches(self, name: str) -> bool:
        return _matcher(self.cookie).matches(name)


@dataclass(frozen=True, slots=True)
class Declaration:
    entries: tuple[DeclaredEntry, ...]
    #: The providers the site declares (with or without cookies), by machine name, and
    #: the category of each.
    provider_categories: Mapping[str, str]
    #: Where it was read: the preference centre's URL or the config file.
    source: str

    @property
    def providers(self) -> frozenset[str]:
        return frozenset(self.provider_categories)

    def covering(self, cookie_name: str) -> list[DeclaredEntry]:
        return [entry for entry in self.entries if entry.matches(cookie_name)]

    @classmethod
    def from_config(cls, config: ConsentConfig, source: str) -> Declaration:
        """What the preference centre of a site with ``config`` lists."""
        entries = [
            DeclaredEntry("consentgate", "consentgate", NECESSARY, config.cookie_name),
            *_entries(config.providers),
        ]
        categories = {p.name: p.category for p in config.providers}
        return cls(tuple(entries), MappingProxyType(categories), source)

    @classmethod
    def from_preferences_page(cls, html: str, source: str) -> Declaration:
        parser = _PreferencesParser()
        parser.feed(html)
        parser.close()
        return cls(tuple(parser.entries), MappingProxyType(parser.providers), source)


def read_site_config(path: str | os.PathLike[str]) -> ConsentConfig:
    """A site's consentgate TOML file, for its declaration and trackers: no secret needed."""
    settings = read_toml(path)
    if "secret_key" not in settings and "secret_keys" not in settings:
        settings = {**settings, "secret_key": _NO_SECRET}
    return ConsentConfig.from_mapping(settings, relative_to=Path(path).absolute().parent)


def _entries(providers: Iterable[Provider]) -> list[DeclaredEntry]:
    return [
        DeclaredEntry(p.name, p.title, p.category, cookie.name)
        for p in providers
        for cookie in p.cookies
    ]


@cache
def _matcher(name: str) -> DeclaredCookie:
    return DeclaredCookie(name=name, purpose="-", expiry="-")


@cache
def known_tracker_cookies() -> tuple[DeclaredEntry, ...]:
    """The cookies the built-in providers declare, which mark a cookie as a tracker's even
    where the site declares nothing. Ids in a name (``_ga_<id>``) become a ``*``."""
    sample = "SAMPLE0000"
    providers: list[Provider] = [
        GoogleAnalytics(f"G-{sample}"),
        JetpackStats(blog_id=1),
        Matomo("https://matomo.example/"),
        MetaPixel(),
        LinkedInInsight(),
        Hotjar(),
        MicrosoftClarity(),
        YouTube(),
        Vimeo(),
        GoogleMaps(),
    ]
    return tuple(
        DeclaredEntry(e.provider, e.title, e.category, e.cookie.replace(sample, "*"))
        for e in _entries(providers)
    )


class _PreferencesParser(HTMLParser):
    """Reads the preference centre's declaration: each ``cg-declaration`` section's category
    (its heading's id), each provider (a toggle's value, or a heading's text) and each
    cookie (the ``<code>`` in a row heading of a ``cg-cookies`` table)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[DeclaredEntry] = []
        self.providers: dict[str, str] = {}
        self._category = ""
        self._provider = ""
        self._provider_title = ""
        self._title: list[str] | None = None
        self._in_table = False
        self._in_row_heading = False
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "h2" and values.get("id", "").startswith("cg-category-"):
            self._category = values["id"].removeprefix("cg-category-")
            self._provider = ""
        elif tag == "h3" and self._category:
            self._title = []
            self._provider = ""
        elif tag == "input" and self._title is not None and values.get("name") == "providers":
            self._provider = values.get("value", "")
        elif tag == "table" and "cg-cookies" in values.get("class", "").split():
            self._in_table = True
        elif tag == "th" and self._in_table and values.get("scope") == "row":
            self._in_row_heading = True
        elif tag == "code" and self._in_row_heading:
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3" and self._title is not None:
            title = " ".join("".join(self._title).split())
            self._provider = self._provider or title
            self._provider_title = title
            self._title = None
            if self._category != NECESSARY:
                self.providers.setdefault(self._provider, self._category)
        elif tag == "table":
            self._in_table = False
        elif tag == "th":
            self._in_row_heading = False
        elif tag == "code" and self._code is not None:
            name = "".join(self._code).strip()
            self._code = None
            if name and self._category:
                self.entries.append(
                    DeclaredEntry(self._provider, self._provider_title, self._category, name)
                )

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        if self._code is not None:
            self._code.append(data)
