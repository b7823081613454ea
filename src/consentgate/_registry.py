"""The tracker registry: which markup belongs to which provider, and the category it needs.

The built-in entries are data (``consentgate/trackers.toml``); a site adds its own
with ``ConsentConfig(trackers=[Tracker(...)])``. :class:`Registry` compiles them once
into what the blocker asks per tag: whose is this URL, whose is this inline script.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_args

from ._exceptions import ConfigurationError

__all__ = ["EmbedKind", "Registry", "Tracker", "builtin_trackers", "tracker_from_table"]

EmbedKind = Literal["video", "map", "content"]

_PROVIDER_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A URL pattern: a host name, optionally followed by a path prefix.
_URL_PATTERN = re.compile(
    r"(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)"
    r"(?P<path>/[!-~]*)?"
)
_MIN_SIGNATURE = 3
#: Bytes that continue a JavaScript name.
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


@dataclass(frozen=True, kw_only=True)
class Tracker:
    """Markup of one provider that must stay inert until the visitor allows it.

    ``urls`` are ``"host"`` or ``"host/path-prefix"`` (a host covers its
    subdomains); scripts, iframes, pixels and preload links pointing there are
    the provider's. ``signatures`` are texts that mark an inline ``<script>`` as
    the provider's. ``embed`` (``"video"``, ``"map"`` or ``"content"``) says its
    iframes are content a visitor may choose to load, shown as a click-to-load
    placeholder; without it the provider's iframes are removed until allowed.

    .. versionadded:: 0.2
    """

    provider: str
    category: str
    title: str = ""
    urls: Sequence[str] = ()
    signatures: Sequence[str] = ()
    embed: EmbedKind | None = None
    privacy_policy_url: str = ""

    def __post_init__(self) -> None:
        # Lists, as a caller or TOML gives them, become tuples: a Tracker stays frozen.
        for name in ("urls", "signatures"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @property
    def label(self) -> str:
        """The provider's name as a visitor reads it."""
        return self.title or self.provider

    def validate(self, where: str) -> None:
        """Raise :class:`ConfigurationError` naming ``where.<attr>`` on bad values."""
        if not isinstance(self.provider, str) or not _PROVIDER_NAME.fullmatch(self.provider):
            raise ConfigurationError(
                f"{where}.provider",
                "expected a provider's machine name of lowercase letters, digits and single "
                f"hyphens (e.g. 'youtube'), got {self.provider!r}",
            )
        if not isinstance(self.category, str) or not self.category.strip():
            raise ConfigurationError(f"{where}.category", "must name a category, e.g. 'marketing'")
        if not isinstance(self.title, str):
            raise ConfigurationError(f"{where}.title", f"expected a text, got {self.title!r}")
        if not isinstance(self.urls, tuple):
            raise ConfigurationError(f"{where}.urls", f"expected a list of URLs, got {self.urls!r}")
        for i, url in enumerate(self.urls):
            if not isinstance(url, str) or not _URL_PATTERN.fullmatch(url):
                raise ConfigurationError(
                    f"{where}.urls[{i}]",
                    "expected a host name, optionally with a path, in lowercase and without a "
                    f"scheme (e.g. 'player.vimeo.com' or 'www.google.com/maps/embed'), got {url!r}",
                )
        if not isinstance(self.signatures, tuple):
            raise ConfigurationError(
                f"{where}.signatures", f"expected a list of texts, got {self.signatures!r}"
            )
        for i, signature in enumerate(self.signatures):
            if (
                not isinstance(signature, str)
                or len(signature.strip()) < _MIN_SIGNATURE
                or not signature.isascii()
            ):
                raise ConfigurationError(
                    f"{where}.signatures[{i}]",
                    f"expected ASCII text of at least {_MIN_SIGNATURE} characters that only "
                    f"this provider's scripts contain (e.g. 'fbq('), got {signature!r}",
                )
        if not self.urls and not self.signatures:
            raise ConfigurationError(where, "give urls or signatures, or it matches nothing")
        if self.embed is not None and self.embed not in get_args(EmbedKind):
            raise ConfigurationError(
                f"{where}.embed", f"expected 'video', 'map', 'content' or None, got {self.embed!r}"
            )
        if not isinstance(self.privacy_policy_url, str) or (
            self.privacy_policy_url and not self.privacy_policy_url.startswith("https://")
        ):
            raise ConfigurationError(
                f"{where}.privacy_policy_url",
                f"expected an https:// URL or nothing, got {self.privacy_policy_url!r}",
            )


def tracker_from_table(where: str, table: object) -> Tracker:
    """A :class:`Tracker` from a TOML table (lists become tuples), validated."""
    if not isinstance(table, dict):
        raise ConfigurationError(where, "must be a table")
    values: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value for key, value in table.items()
    }
    try:
        tracker = Tracker(**values)
    except TypeError as exc:
        raise ConfigurationError(where, str(exc)) from exc
    tracker.validate(where)
    return tracker


@cache
def builtin_trackers() -> tuple[Tracker, ...]:
    """The shipped registry, ``consentgate/trackers.toml``."""
    source = (files("consentgate") / "trackers.toml").read_text(encoding="utf-8")
    tables = tomllib.loads(source)["trackers"]
    return tuple(tracker_from_table(f"trackers.toml[{i}]", t) for i, t in enumerate(tables))


@dataclass(frozen=True, slots=True)
class _UrlRule:
    path: str
    tracker: Tracker


@dataclass(frozen=True)
class Registry:
    """The trackers compiled for lookups; built once per middleware.

    ``categories`` maps a provider name to the category the site declared for it
    (a configured provider's category wins over the registry's).
    """

    trackers: tuple[Tracker, ...]
    _by_host: Mapping[str, tuple[_UrlRule, ...]] = field(init=False, repr=False)
    #: (signature, its tracker, whether it must not continue a name), longest first.
    _signatures: tuple[tuple[bytes, Tracker, bool], ...] = field(init=False, repr=False)

    @classmethod
    def of(
        cls, trackers: Iterable[Tracker], categories: Mapping[str, str] | None = None
    ) -> Registry:
        """The registry of ``trackers``; earlier entries win where they overlap.

        Every entry of a provider gets one category: the one ``categories`` (the
        site's declared providers) gives it, else its first entry's. So whether a
        provider's markup may run never depends on which of its entries matched.
        """
        trackers = tuple(trackers)
        needs = {t.provider: t.category for t in reversed(trackers)} | dict(categories or {})
        return cls(
            tuple(
                t if t.category == needs[t.provider] else replace(t, category=needs[t.provider])
                for t in trackers
            )
        )

    def __post_init__(self) -> None:
        by_host: dict[str, list[_UrlRule]] = {}
        by_signature: dict[bytes, Tracker] = {}
        for tracker in self.trackers:
            for url in tracker.urls:
                host, slash, path = url.partition("/")
                by_host.setdefault(host, []).append(_UrlRule(slash + path, tracker))
            for signature in tracker.signatures:
                by_signature.setdefault(signature.encode("ascii"), tracker)
        # Longest path first; a stable sort keeps earlier entries first among equals.
        frozen = {
            host: tuple(sorted(rules, key=lambda rule: -len(rule.path)))
            for host, rules in by_host.items()
        }
        object.__setattr__(self, "_by_host", frozen)
        # A signature starting with a name character must not continue another name
        # (``hj(`` is not in ``rhj(``); the longest first, so an overlap goes to it.
        signatures = tuple(
            (signature, tracker, signature[0] in _NAME_BYTES)
            for signature, tracker in sorted(by_signature.items(), key=lambda s: -len(s[0]))
        )
        object.__setattr__(self, "_signatures", signatures)

    @property
    def hosts(self) -> frozenset[str]:
        """Every host the registry names (each covering its subdomains)."""
        return frozenset(self._by_host)

    def owner_of(self, host: str, path: str) -> Tracker | None:
        """The tracker a URL (lowercase host, path) belongs to, if any."""
        by_host = self._by_host
        name = host
        while True:
            rules = by_host.get(name)
            if rules is not None:
                for rule in rules:
                    if path.startswith(rule.path):
                        return rule.tracker
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1 :]

    def on_host(self, host: str) -> tuple[Tracker, ...]:
        """Every tracker with a URL on ``host`` (or a host it is under)."""
        found: list[Tracker] = []
        name = host
        while True:
            for rule in self._by_host.get(name, ()):
                if rule.tracker not in found:
                    found.append(rule.tracker)
            dot = name.find(".")
            if dot < 0:
                return tuple(found)
            name = name[dot + 1 :]

    def signed(self, script: bytes) -> list[Tracker]:
        """The trackers whose signatures an inline script's text carries, in order found.

        Where signatures overlap, the longer one counts (gtag's own definition
        pushes to the data layer, and that push is not GTM's).
        """
        found: list[tuple[int, int, Tracker]] = []
        for signature, tracker, bounded in self._signatures:
            at = script.find(signature)
            while at >= 0:
                end = at + len(signature)
                if not (bounded and at and script[at - 1] in _NAME_BYTES) and not any(
                    start <= at and end <= stop for start, stop, _ in found
                ):
                    found.append((at, end, tracker))
                at = script.find(signature, at + 1)
        trackers: list[Tracker] = []
        for _, _, tracker in sorted(found, key=lambda hit: hit[0]):
            if tracker not in trackers:
                trackers.append(tracker)
        return trackers
