"""ConsentConfig: everything a site decides, validated once when the app is built."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from ._blocking import UnknownPolicy
from ._csrf import normalize_origin
from ._exceptions import ConfigurationError
from ._locales import available_languages, check_overrides
from ._registry import Tracker, tracker_from_table
from ._site_locales import SiteLocales, catalog_keys, load_site_locales
from ._state import NECESSARY
from ._text import LocalizedText
from ._theme import Theme
from .log import ConsentLog
from .log._open import check_store_url
from .log._privacy import UserAgentMode
from .providers import (
    Buffer,
    DeclaredCookie,
    Disclosure,
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
from .providers._base import BuiltinProvider

__all__ = ["BUILTIN_CATEGORIES", "Category", "ConsentConfig"]

logger = logging.getLogger(__name__)

#: The environment variable ``from_toml`` reads the secret from when the file has none.
SECRET_ENV = "CONSENTGATE_SECRET_KEY"
MIN_SECRET_LENGTH = 32
_DAY = 24 * 60 * 60
#: Six months: how long CNIL recommends a choice be kept before the visitor is asked again.
DEFAULT_COOKIE_MAX_AGE = 182 * _DAY
#: Thirteen months: the longest a consent may last before it is asked for again (CNIL, EDPB).
MAX_COOKIE_MAX_AGE = 395 * _DAY
MIN_ADMIN_TOKEN_LENGTH = 32
#: Where ``from_toml`` takes ``admin_token`` from when the file has none.
ADMIN_TOKEN_ENV = "CONSENTGATE_ADMIN_TOKEN"
#: Where ``from_toml`` and the ``consentgate`` command find the chain key.
CHAIN_KEY_ENV = "CONSENTGATE_CHAIN_KEY"
#: A century: beyond that a cut-off date would fall before year 1.
MAX_RETENTION = 36500
IpMode = Literal["off", "truncate"]
#: Where the banner's language comes from: the visitor's Accept-Language, the page's
#: ``<html lang>``, or a function of the request's ASGI scope.
LanguageSource = Literal["accept-language", "html-lang"]
#: What a provider processing data outside the EU/EEA is at start-up.
OutsideEeaPolicy = Literal["allow", "warn", "refuse"]
#: What a Global Privacy Control signal refuses: marketing, every optional category, or nothing.
GpcMode = Literal["marketing", "all", "ignore"]
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_EMAIL = re.compile(r"[^@\s<>\"'()\[\],;:\\]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+")
_DOMAIN = re.compile(
    r"\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)


@dataclass(frozen=True, kw_only=True)
class Category:
    """A purpose a visitor can accept or refuse.

    The built-in categories take their title and description from the
    language files; a site's own category must bring its texts.
    """

    name: str
    title: LocalizedText = ""
    description: LocalizedText = ""


#: Always present, in this order; ``necessary`` is always on and never a choice.
BUILTIN_CATEGORIES: tuple[Category, ...] = (
    Category(name=NECESSARY),
    Category(name="preferences"),
    Category(name="statistics"),
    Category(name="marketing"),
)

PROVIDER_TYPES: Mapping[str, type[Provider]] = {
    "google-analytics": GoogleAnalytics,
    "site-kit": SiteKit,
    "jetpack-stats": JetpackStats,
    "buffer": Buffer,
    "google-tag-manager": GoogleTagManager,
    "meta-pixel": MetaPixel,
    "linkedin-insight": LinkedInInsight,
    "hotjar": Hotjar,
    "microsoft-clarity": MicrosoftClarity,
    "matomo": Matomo,
    "youtube": YouTube,
    "vimeo": Vimeo,
    "google-maps": GoogleMaps,
    "custom": Provider,
}


@dataclass(frozen=True, kw_only=True)
class ConsentConfig:
    """How consentgate behaves on one site. Invalid values raise ConfigurationError.

    .. versionadded:: 0.1
    """

    #: The signing secret; or give ``secret_keys`` (newest first) to rotate keys.
    secret_key: str | None = field(default=None, repr=False)
    secret_keys: Sequence[str] = field(default=(), repr=False)
    #: Bumping it asks every visitor again.
    policy_version: str = "1"
    providers: Sequence[Provider] = ()
    #: Make the app's own tracker markup inert until the visitor allows its provider,
    #: as the built-in registry (``consentgate/trackers.toml``) knows it.
    block_known_trackers: bool = True
    #: A provider that processes data outside the EU/EEA (its ``disclosure`` says so):
    #: fine ("allow"), a start-up warning naming it ("warn"), or a ConfigurationError
    #: ("refuse"), for a site that promises its visitors EU-only processing.
    processing_outside_eea: OutsideEeaPolicy = "allow"
    #: The site's own registry entries, beside (and before) the built-in ones.
    trackers: Sequence[Tracker] = ()
    #: A script or iframe from a host no entry names: log it once ("warn"), treat it
    #: as marketing ("block"), or let it pass silently ("allow").
    unknown_third_party: UnknownPolicy = "warn"
    #: Categories of the site's own, in addition to the four built-in ones.
    categories: Sequence[Category] = ()
    #: The consent log: a URL (``sqlite:///consentgate.db``) or a ConsentLog instance.
    store: str | ConsentLog = "sqlite:///consentgate.db"
    store_timeout: float = 5.0
    #: Where a refusal or withdrawal is kept while the log is down, until it is
    #: replayed into the log: a file on a local disk. ``None``: beside a SQLite
    #: store (``consentgate.db-outbox``); in memory only for PostgreSQL (set it!),
    #: a log object of your own, or ``sqlite:///:memory:``.
    outbox: str | os.PathLike[str] | None = None

    #: Who is responsible for the processing (shown in the banner); "this site" when not set.
    controller_name: str | None = None
    controller_address: str | None = None
    controller_email: str | None = None
    privacy_policy_url: str | None = None

    #: ``"__Host-consentgate"`` makes browsers refuse the cookie from anywhere but this
    #: host over https (no sibling subdomain can plant a choice): recommended without
    #: ``cookie_domain``.
    cookie_name: str = "consentgate"
    cookie_max_age: int = DEFAULT_COOKIE_MAX_AGE
    #: e.g. ``".example.com"`` so one choice covers the site's subdomains.
    cookie_domain: str | None = None
    #: ``None``: Secure exactly when the request came over https.
    cookie_secure: bool | None = None

    #: Where consentgate's own endpoints live.
    prefix: str = "/_consent"
    #: Path prefixes that never get a banner or snippets injected (e.g. ``"/admin"``).
    exclude_paths: Sequence[str] = ()
    default_language: str = "en"
    #: Where a page's banner and settings link take their language from: the visitor's
    #: ``Accept-Language`` header, the page's ``<html lang="...">``, or a function given
    #: the request's ASGI scope that returns a language code or None. Whatever names no
    #: language consentgate has falls back to Accept-Language, then ``default_language``.
    language_from: LanguageSource | Callable[[Mapping[str, Any]], str | None] = "accept-language"
    #: Show a small "Cookie settings" link on pages once a choice is made.
    show_settings_link: bool = True
    #: Extra origins (``https://www.example.com``) allowed to post a choice.
    trusted_origins: Sequence[str] = ()
    #: How long a banner form stays valid, in seconds.
    csrf_max_age: int = 2 * 24 * 60 * 60
    #: Seconds a client has to send a choice's body; a slower one is answered 408.
    body_timeout: float = 10.0
    #: Folders searched before the built-in templates, to override them.
    template_dirs: Sequence[str | os.PathLike[str]] = ()
    #: Colours, font, corner radius and position of the banner; None keeps the built-in look.
    theme: Theme | None = None
    #: Folders of language files (``pl.toml``, ``da.toml``) shaped like consentgate's own:
    #: a language of the site's own, and texts and keys of its own for its templates.
    locale_dirs: Sequence[str | os.PathLike[str]] = ()
    #: Texts to use instead of the built-in ones, per language:
    #: ``{"da": {"banner.title": "..."}}``.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    #: Days a consent record is kept; older ones are pruned once a day (and by
    #: ``consentgate prune``). ``None`` keeps every record.
    retention_days: int | None = None
    #: Bearer token for ``<prefix>/admin/export``, ``/admin/records`` and ``/admin/erase``;
    #: ``None`` turns those routes off.
    admin_token: str | None = field(default=None, repr=False)
    #: What the log keeps of the User-Agent: nothing, its first 64 characters, or a keyed hash.
    log_user_agent: UserAgentMode = "off"
    #: What the log keeps of the client address (from the server, not X-Forwarded-For):
    #: nothing, or its /24 (IPv4) or /48 (IPv6) network.
    log_ip: IpMode = "off"
    #: A secret kept out of the database: the chain's links are then HMACs with it, which
    #: someone with only database access can neither forge nor recompute.
    chain_key: str | None = field(default=None, repr=False)
    #: A URL the database host cannot rewrite (a webhook, a pre-signed object-store URL):
    #: the signed head of the log is POSTed there now and then. Needs ``consentgate[anchor]``.
    anchor_url: str | None = None
    #: Anchor the head once this many records were written since the last anchor...
    anchor_every_records: int = 1000
    #: ...or this many minutes after the first record not yet anchored, whichever comes first.
    anchor_every_minutes: float = 60.0
    #: What a browser sending Global Privacy Control (``Sec-GPC: 1``) has refused until
    #: it ticks a category itself: ``"marketing"`` (the "sale or sharing" the signal opts
    #: out of), ``"all"`` optional categories, or nothing (``"ignore"``).
    gpc: GpcMode = "marketing"

    def __post_init__(self) -> None:
        # Lists given by a caller or read from TOML become tuples: a config stays frozen.
        for name in _SEQUENCE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self._check_secrets()
        _require(bool(self.policy_version.strip()), "policy_version", "must not be empty")
        self._check_categories()
        self._check_providers()
        self._check_processing_outside_eea()
        self._check_blocking()
        self._check_cookie()
        self._check_paths()
        languages = (*available_languages(), *self.site_locales.added)
        _require(
            self.language_from in get_args(LanguageSource) or callable(self.language_from),
            "language_from",
            "expected 'accept-language', 'html-lang' or a function of the request's scope, "
            f"got {self.language_from!r}",
        )
        _require(
            self.default_language in languages,
            "default_language",
            f"{self.default_language!r} has no texts; available: {', '.join(languages)}",
        )
        _require(self.store_timeout > 0, "store_timeout", "must be a positive number of seconds")
        if isinstance(self.store, str):
            check_store_url(self.store)
        else:
            _require(isinstance(self.store, ConsentLog), "store", "must be a URL or a ConsentLog")
        _require(self.csrf_max_age > 0, "csrf_max_age", "must be a positive number of seconds")
        _require(
            isinstance(self.body_timeout, int | float)
            and not isinstance(self.body_timeout, bool)
            and 0 < self.body_timeout < float("inf"),
            "body_timeout",
            "must be a positive number of seconds",
        )
        if self.outbox is not None:
            _require(
                isinstance(self.outbox, str | os.PathLike)
                and bool(os.fspath(self.outbox))
                and not Path(self.outbox).is_dir()
                and Path(self.outbox).parent.is_dir(),
                "outbox",
                f"{self.outbox!r} must be a file path in an existing folder",
            )
        for i, origin in enumerate(self.trusted_origins):
            _require(
                re.fullmatch(r"https?://[^/\s?#@]+", origin) is not None
                and normalize_origin(origin) is not None,
                f"trusted_origins[{i}]",
                f"expected an origin like https://www.example.com, got {origin!r}",
            )
        self._check_look()
        if self.privacy_policy_url is not None:
            _require(
                _is_site_path(self.privacy_policy_url) or _is_web_url(self.privacy_policy_url),
                "privacy_policy_url",
                "must be an absolute http(s) URL or a path on this site like /privacy",
            )
        self._check_log_options()

    # -- derived values -------------------------------------------------

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """The secrets, newest first."""
        return (self.secret_key,) if self.secret_key else tuple(self.secret_keys)

    @property
    def outbox_path(self) -> Path | None:
        """The outbox file, explicit or beside a SQLite store; None keeps it in memory."""
        if self.outbox is not None:
            return Path(self.outbox)
        if isinstance(self.store, str) and self.store.partition("://")[0].lower() == "sqlite":
            database = check_store_url(self.store)
            if database != ":memory:":
                return Path(database + "-outbox")
        return None

    @cached_property
    def site_locales(self) -> SiteLocales:
        """The site's language files (``locale_dirs``), read and checked once."""
        return load_site_locales(self.locale_dirs, catalog_keys(self.providers))

    @property
    def all_categories(self) -> tuple[Category, ...]:
        return BUILTIN_CATEGORIES + tuple(self.categories)

    @property
    def gpc_refused(self) -> frozenset[str]:
        """The optional categories a Global Privacy Control signal refuses."""
        if self.gpc == "all":
            return frozenset(self.optional_categories)
        return frozenset({"marketing"}) if self.gpc == "marketing" else frozenset()

    @property
    def optional_categories(self) -> tuple[str, ...]:
        """The categories a visitor chooses about, in display order."""
        return tuple(c.name for c in self.all_categories if c.name != NECESSARY)

    # -- loading --------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ConsentConfig:
        """Load a config file; the secret comes from ``CONSENTGATE_SECRET_KEY`` if absent.

        The file holds what ``from_mapping`` takes, at its top level or in a
        ``[consentgate]`` table; relative paths in it are taken from the file's folder.
        """
        return cls.from_mapping(read_toml(path), relative_to=Path(path).absolute().parent)

    @classmethod
    def from_mapping(
        cls, settings: Mapping[str, Any], *, relative_to: str | os.PathLike[str] | None = None
    ) -> ConsentConfig:
        """A config from plain data, as a TOML file or Django's ``settings.CONSENTGATE`` has it.

        Providers are tables with a ``type`` (``google-analytics``, ``site-kit``,
        ``jetpack-stats``, ``buffer`` or ``custom``) and that provider's
        arguments, their cookies tables of ``DeclaredCookie``'s fields;
        categories are tables of ``Category``'s fields; the look is a ``theme``
        table (with ``dark``) and ``texts`` tables per language. Objects
        (a ``Provider``, ``Category`` or ``Theme``) are taken as they are. The
        secret comes from ``CONSENTGATE_SECRET_KEY`` and ``admin_token`` from
        ``CONSENTGATE_ADMIN_TOKEN`` when absent. With ``relative_to``, a relative
        ``template_dirs`` folder, SQLite ``store`` path or ``outbox`` is taken from that
        folder.
        """
        data = dict(settings)
        if "secret_key" not in data and "secret_keys" not in data:
            secret = os.environ.get(SECRET_ENV)
            if secret:
                data["secret_key"] = secret
        if "admin_token" not in data and os.environ.get(ADMIN_TOKEN_ENV):
            data["admin_token"] = os.environ[ADMIN_TOKEN_ENV]
        if "chain_key" not in data and os.environ.get(CHAIN_KEY_ENV):
            data["chain_key"] = os.environ[CHAIN_KEY_ENV]
        data["providers"] = [
            p if isinstance(p, Provider) else _provider_from_toml(i, p)
            for i, p in enumerate(data.get("providers", []))
        ]
        data["trackers"] = [
            tracker_from_table(f"trackers[{i}]", t) for i, t in enumerate(data.get("trackers", []))
        ]
        data["categories"] = [
            c if isinstance(c, Category) else _from_table(Category, f"categories[{i}]", c)
            for i, c in enumerate(data.get("categories", []))
        ]
        if "theme" in data and not isinstance(data["theme"], Theme | None):
            data["theme"] = _from_table(Theme, "theme", data["theme"])
        if relative_to is not None:
            here = Path(relative_to)
            for folders in ("template_dirs", "locale_dirs"):
                if isinstance(data.get(folders), list):
                    data[folders] = [
                        here / folder if isinstance(folder, str) else folder
                        for folder in data[folders]
                    ]
            # The default store too: the same file wherever the app is started from.
            store = data.get("store", cls.__dataclass_fields__["store"].default)
            if isinstance(store, str):
                data["store"] = sqlite_relative_to(store, here)
            if isinstance(data.get("outbox"), str) and data["outbox"]:
                data["outbox"] = here / data["outbox"]
        known = set(cls.__dataclass_fields__)
        for key in data:
            _require(key in known, key, "is not a consentgate setting")
        return cls(**data)

    # -- checks ---------------------------------------------------------

    def _check_secrets(self) -> None:
        if self.secret_key is not None and self.secret_keys:
            raise ConfigurationError("secret_keys", "give secret_key or secret_keys, not both")
        if isinstance(self.secret_keys, str):
            raise ConfigurationError("secret_keys", "must be a list of secrets, newest first")
        keys = self.signing_keys
        if not keys:
            raise ConfigurationError(
                "secret_key",
                f"is required (or set {SECRET_ENV}); generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        name = "secret_key" if self.secret_key is not None else "secret_keys"
        for i, key in enumerate(keys):
            where = name if self.secret_key is not None else f"secret_keys[{i}]"
            _require(isinstance(key, str), where, "must be a string")
            _require(
                len(key) >= MIN_SECRET_LENGTH,
                where,
                f"is too short ({len(key)} characters); use at least {MIN_SECRET_LENGTH}",
            )

    def _check_categories(self) -> None:
        seen = {c.name for c in BUILTIN_CATEGORIES}
        for i, category in enumerate(self.categories):
            where = f"categories[{i}]"
            _require(isinstance(category, Category), where, "must be a consentgate.Category")
            _require(
                _NAME.fullmatch(category.name) is not None,
                f"{where}.name",
                f"{category.name!r} is not a valid name (lowercase letters, digits, - and _)",
            )
            _require(
                category.name not in seen, f"{where}.name", f"{category.name!r} is defined twice"
            )
            _require(bool(category.title), f"{where}.title", "a site's own category needs a title")
            seen.add(category.name)

    def _check_providers(self) -> None:
        known = {c.name for c in self.all_categories}
        keys: dict[str, int] = {}
        categories: dict[str, str] = {}
        for i, provider in enumerate(self.providers):
            where = f"providers[{i}]"
            _require(isinstance(provider, Provider), where, "must be a consentgate Provider")
            provider.validate(where)
            _require(
                provider.category in known,
                f"{where}.category",
                f"unknown category {provider.category!r}; known: {', '.join(sorted(known))}",
            )
            # A visitor allows a provider by its name: one name, one category.
            category = categories.setdefault(provider.name, provider.category)
            _require(
                category == provider.category,
                f"{where}.category",
                f"another provider named {provider.name!r} is in {category!r}; "
                "give this one another name or the same category",
            )
            _require(
                provider.key not in keys,
                where,
                f"duplicate provider {provider.key!r} (also providers[{keys.get(provider.key)}])",
            )
            keys[provider.key] = i
            for j, cookie in enumerate(provider.cookies):
                _require(
                    not cookie.matches(self.cookie_name),
                    f"{where}.cookies[{j}]",
                    f"{cookie.name!r} would cover consentgate's own cookie {self.cookie_name!r}",
                )

    def _check_processing_outside_eea(self) -> None:
        policy = self.processing_outside_eea
        _require(
            policy in get_args(OutsideEeaPolicy),
            "processing_outside_eea",
            f"expected 'allow', 'warn' or 'refuse', got {policy!r}",
        )
        if policy == "allow":
            return
        outside = []
        for i, provider in enumerate(self.providers):
            disclosure = provider.disclosure
            if disclosure is None:
                # Built-ins without one run on the site's own server (Matomo).
                if not isinstance(provider, BuiltinProvider):
                    logger.warning(
                        "providers[%d] (%s) has no disclosure, so consentgate cannot tell "
                        "whether it processes data outside the EU/EEA; give it a Disclosure",
                        i,
                        provider.name,
                    )
                continue
            if disclosure.outside_eea:
                outside.append(
                    f"providers[{i}] {provider.title} ({disclosure.legal_entity}: "
                    f"{', '.join(disclosure.outside_eea)})"
                )
        if not outside:
            return
        names = "; ".join(outside)
        if policy == "refuse":
            raise ConfigurationError(
                "processing_outside_eea",
                f"'refuse', but these providers process data outside the EU/EEA: {names}",
            )
        logger.warning("providers processing data outside the EU/EEA: %s", names)

    def _check_blocking(self) -> None:
        _require(
            isinstance(self.block_known_trackers, bool),
            "block_known_trackers",
            f"expected True or False, got {self.block_known_trackers!r}",
        )
        _require(
            self.unknown_third_party in get_args(UnknownPolicy),
            "unknown_third_party",
            f"expected 'warn', 'block' or 'allow', got {self.unknown_third_party!r}",
        )
        known = {c.name for c in self.all_categories}
        for i, tracker in enumerate(self.trackers):
            where = f"trackers[{i}]"
            _require(isinstance(tracker, Tracker), where, "must be a consentgate.Tracker")
            tracker.validate(where)
            _require(
                tracker.category in known,
                f"{where}.category",
                f"unknown category {tracker.category!r}; known: {', '.join(sorted(known))}",
            )

    def _check_cookie(self) -> None:
        _require(
            _COOKIE_NAME.fullmatch(self.cookie_name) is not None,
            "cookie_name",
            f"{self.cookie_name!r} is not a valid cookie name",
        )
        _require(self.cookie_max_age > 0, "cookie_max_age", "must be a positive number of seconds")
        _require(
            self.cookie_max_age <= MAX_COOKIE_MAX_AGE,
            "cookie_max_age",
            f"{self.cookie_max_age} seconds is longer than 13 months ({MAX_COOKIE_MAX_AGE}); "
            "a consent must be asked for again by then",
        )
        if self.cookie_domain is not None:
            _require(
                _DOMAIN.fullmatch(self.cookie_domain) is not None and "." in self.cookie_domain[1:],
                "cookie_domain",
                f"{self.cookie_domain!r} is not a domain like .example.com",
            )
        # Browsers drop a prefixed cookie set without what its prefix promises (RFC 6265bis
        # 4.1.3): the visitor's choice would silently never stick.
        if self.cookie_name.startswith(("__Host-", "__Secure-")):
            _require(
                self.cookie_secure is not False,
                "cookie_secure",
                f"a {self.cookie_name.split('-')[0]}- cookie is always Secure; "
                "leave cookie_secure unset",
            )
        if self.cookie_name.startswith("__Host-"):
            _require(
                self.cookie_domain is None,
                "cookie_domain",
                "a __Host- cookie belongs to one host and has no Domain; drop cookie_domain, "
                "or name the cookie without the prefix (e.g. __Secure-consentgate)",
            )

    def _check_look(self) -> None:
        """Controller details, theme, texts and template folders: what the visitor sees."""
        if self.controller_email is not None:
            _require(
                _EMAIL.fullmatch(self.controller_email) is not None,
                "controller_email",
                f"{self.controller_email!r} is not an e-mail address like privacy@example.com",
            )
        for name in ("controller_name", "controller_address"):
            value = getattr(self, name)
            _require(
                value is None or isinstance(value, str) and bool(value.strip()),
                name,
                "must be a non-empty string",
            )
        if self.theme is not None:
            _require(isinstance(self.theme, Theme), "theme", "must be a consentgate.Theme")
            self.theme.validate("theme")
        site = self.site_locales
        object.__setattr__(self, "texts", check_overrides(self.texts, site.added, site.own_keys))
        for i, folder in enumerate(self.template_dirs):
            is_path = isinstance(folder, str | os.PathLike)
            _require(
                is_path and Path(folder).is_dir(),
                f"template_dirs[{i}]",
                f"{os.fspath(folder) if is_path else folder!r} is not a folder",
            )
        if self.template_dirs:
            # Render the site's templates now: Starlette builds middleware on the first
            # request, but a config is built when the app module is imported. (Imported
            # here because the renderer imports this module.)
            from ._render import check_templates

            check_templates(self)

    def _check_paths(self) -> None:
        segments = self.prefix.split("/")[1:]
        _require(
            re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.prefix) is not None
            and not any(segment in (".", "..") for segment in segments),
            "prefix",
            f"{self.prefix!r} must look like /_consent (a path, no trailing slash, no . or ..)",
        )
        for i, path in enumerate(self.exclude_paths):
            _require(path.startswith("/"), f"exclude_paths[{i}]", f"{path!r} must start with /")

    def _check_log_options(self) -> None:
        check_retention_days(self.retention_days)
        if self.retention_days is not None:
            # Proof must outlive the consent it proves: a record pruned while its cookie
            # still grants would leave a consent that nothing in the log shows was given.
            lifetime_days = -(-self.cookie_max_age // _DAY)
            _require(
                self.retention_days >= lifetime_days,
                "retention_days",
                f"{self.retention_days} days is shorter than a consent lasts (cookie_max_age: "
                f"{lifetime_days} days); records must be kept at least that long",
            )
        if self.admin_token is not None:
            _require(
                isinstance(self.admin_token, str)
                and len(self.admin_token) >= MIN_ADMIN_TOKEN_LENGTH
                and re.fullmatch(r"[!-~]+", self.admin_token) is not None,
                "admin_token",
                f"must be at least {MIN_ADMIN_TOKEN_LENGTH} printable ASCII characters without "
                "spaces; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        _require(
            self.log_user_agent in get_args(UserAgentMode),
            "log_user_agent",
            f"expected 'off', 'truncate' or 'hash', got {self.log_user_agent!r}",
        )
        _require(
            self.gpc in get_args(GpcMode),
            "gpc",
            f"expected 'marketing', 'all' or 'ignore', got {self.gpc!r}",
        )
        _require(
            self.log_ip in get_args(IpMode),
            "log_ip",
            f"expected 'off' or 'truncate', got {self.log_ip!r}",
        )
        if self.chain_key is not None:
            _require(
                isinstance(self.chain_key, str) and len(self.chain_key) >= MIN_SECRET_LENGTH,
                "chain_key",
                f"must be a secret of at least {MIN_SECRET_LENGTH} characters (or unset)",
            )
            _require(
                isinstance(self.store, str),
                "chain_key",
                "give the key to the ConsentLog you made (its chain_key argument), not here",
            )
            _require(
                self.chain_key not in self.signing_keys,
                "chain_key",
                "must differ from the signing secrets",
            )
        self._check_anchor()

    def _check_anchor(self) -> None:
        _require(
            isinstance(self.anchor_every_records, int)
            and not isinstance(self.anchor_every_records, bool)
            and self.anchor_every_records >= 1,
            "anchor_every_records",
            "must be a whole number of records, at least 1",
        )
        _require(
            isinstance(self.anchor_every_minutes, int | float)
            and not isinstance(self.anchor_every_minutes, bool)
            and 0 < self.anchor_every_minutes < 60 * 24 * 366,
            "anchor_every_minutes",
            "must be a positive number of minutes, below a year",
        )
        if self.anchor_url is None:
            return
        _require(
            isinstance(self.anchor_url, str) and _is_web_url(self.anchor_url),
            "anchor_url",
            "must be an absolute http(s) URL",
        )
        try:
            import httpx  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "anchor_url",
                f"anchoring sends the head with httpx, which is not installed ({exc}); "
                "install it with: pip install consentgate[anchor]",
            ) from exc


def check_retention_days(days: object) -> None:
    """Raise ConfigurationError unless ``days`` is None or a whole number of days in range."""
    _require(
        days is None
        or (isinstance(days, int) and not isinstance(days, bool) and 0 < days <= MAX_RETENTION),
        "retention_days",
        f"must be a whole number of days from 1 to {MAX_RETENTION}, got {days!r}",
    )


_SEQUENCE_FIELDS = (
    "secret_keys",
    "locale_dirs",
    "providers",
    "trackers",
    "categories",
    "exclude_paths",
    "trusted_origins",
    "template_dirs",
)


def _is_site_path(url: str) -> bool:
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _require(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ConfigurationError(field, message)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a consentgate TOML file: its ``[consentgate]`` table, or the whole."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError("path", f"cannot read {os.fspath(path)!r}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError("path", f"{os.fspath(path)!r} is not valid TOML: {exc}") from exc
    table = data.get("consentgate", data)
    if not isinstance(table, dict):
        raise ConfigurationError("consentgate", "must be a table")
    return dict(table)


def sqlite_relative_to(store: str, folder: Path) -> str:
    """A ``sqlite:///relative/path`` URL made absolute against ``folder``; others unchanged."""
    scheme, sep, rest = store.partition(":///")
    if not sep or scheme.lower() != "sqlite" or rest.startswith("/") or rest in ("", ":memory:"):
        return store
    return f"{scheme}:///{folder / rest}"


def _from_table(cls: type[Any], where: str, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigurationError(where, "must be a table")
    try:
        return cls(**table)
    except TypeError as exc:
        raise ConfigurationError(where, str(exc)) from exc


def _provider_from_toml(i: int, table: Any) -> Provider:
    where = f"providers[{i}]"
    if not isinstance(table, dict):
        raise ConfigurationError(where, "must be a table")
    table = dict(table)
    kind = table.pop("type", None)
    if kind not in PROVIDER_TYPES:
        raise ConfigurationError(
            f"{where}.type", f"expected one of {', '.join(PROVIDER_TYPES)}, got {kind!r}"
        )
    if isinstance(table.get("disclosure"), dict):
        disclosure = dict(table["disclosure"])
        for key in ("countries", "transfer_basis"):
            if isinstance(disclosure.get(key), list):
                disclosure[key] = tuple(disclosure[key])
        table["disclosure"] = _from_table(Disclosure, f"{where}.disclosure", disclosure)
    if "cookies" in table:
        table["cookies"] = tuple(
            _from_table(DeclaredCookie, f"{where}.cookies[{j}]", c)
            for j, c in enumerate(table["cookies"])
        )
    for key in ("preludes", "extra_tag_ids"):
        if key in table:
            table[key] = tuple(table[key])
    provider: Provider = _from_table(PROVIDER_TYPES[kind], where, table)
    return provider
