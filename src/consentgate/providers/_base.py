"""What a tracker is, as far as consent is concerned: its category, its cookies, its markup."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from consentgate._exceptions import ConfigurationError
from consentgate._registry import Tracker
from consentgate._text import LocalizedText

from ._disclosure import Disclosure

__all__ = ["BuiltinProvider", "DeclaredCookie", "Provider"]

_PROVIDER_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

# RFC 6265 cookie-name characters (an HTTP token); "*" is one of them, so a
# declaration can only use it as a wildcard, never mean a literal star.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Scoped DOTALL keeps a glob's meaning when the middleware joins the sources
# of many declarations into one pattern compiled with flags of its own.
_ANY = "(?s:.*)"


# An expiry that tells the visitor nothing. Planet49 (C-673/17) requires the duration:
# where a vendor publishes none, say the longest observed or the technical maximum.
_NO_DURATION = re.compile(
    r"\W*(unknown|not (published|known|stated|specified)|unspecified|n/?a|none|-+|\?+|tbd"
    # ... and "unknown" in the other nine built-in languages.
    r"|ukendt|unbekannt|okänd|ukjent|tuntematon|onbekend|inconnue?|desconocid[ao]|sconosciut[ao])\W*",
    re.IGNORECASE,
)


def _is_blank(text: LocalizedText) -> bool:
    if isinstance(text, str):
        return not text.strip()
    return not any(isinstance(value, str) and value.strip() for value in text.values())


def _check_text(text: object, field_name: str, what: str) -> None:
    if not isinstance(text, str | Mapping):
        raise ConfigurationError(
            field_name, f"expected a text or a mapping of language to text, got {text!r}"
        )
    if _is_blank(text):
        raise ConfigurationError(field_name, f"must not be empty: {what}")


@dataclass(frozen=True, kw_only=True)
class DeclaredCookie:
    """One cookie (or family of cookies) a provider sets, as the visitor must be told about it.

    Planet49 and the Danish Cookie Order require telling visitors why a cookie
    is set, how long it lives and who gets access; the cookie declaration and the
    cookie firewall are both built from these.
    """

    #: Exact cookie name, or a glob where ``*`` stands for any run of characters.
    name: str
    purpose: LocalizedText = field(hash=False)
    expiry: LocalizedText = field(hash=False)
    party: Literal["first", "third"] = "first"
    #: Where the data is processed; empty when not stated.
    processing_location: LocalizedText = field(default="", hash=False)
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if "*" in self.name:
            object.__setattr__(self, "_regex", re.compile(self.pattern()))

    def matches(self, cookie_name: str) -> bool:
        """Whether ``cookie_name`` is covered by this declaration (case-sensitive, like cookies)."""
        if self._regex is None:
            return cookie_name == self.name
        return self._regex.fullmatch(cookie_name) is not None

    def pattern(self) -> str:
        """Regex source matching exactly the covered names, for one combined matcher.

        The source is unanchored; anchor it (or use ``fullmatch``) when combining.
        """
        parts = re.split(r"\*+", self.name)
        return _ANY.join(re.escape(part) for part in parts)

    def validate(self, field_name: str) -> None:
        """Raise :class:`ConfigurationError` naming ``field_name.<attr>`` on bad values."""
        if not isinstance(self.name, str) or not _COOKIE_NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"{field_name}.name",
                "expected a cookie name (letters, digits and !#$%&'*+-.^_`|~), "
                f"with * as a wildcard, got {self.name!r}",
            )
        if not self.name.strip("*"):
            raise ConfigurationError(
                f"{field_name}.name",
                "a declaration that is only '*' would claim every cookie on the site; "
                "name the cookie or its prefix, e.g. '_ga_*'",
            )
        _check_text(self.purpose, f"{field_name}.purpose", "say why the cookie is set")
        _check_text(self.expiry, f"{field_name}.expiry", "say how long the cookie lives")
        texts = [self.expiry] if isinstance(self.expiry, str) else list(self.expiry.values())
        if any(isinstance(text, str) and _NO_DURATION.fullmatch(text) for text in texts):
            raise ConfigurationError(
                f"{field_name}.expiry",
                f"{self.expiry!r} does not say how long the cookie lives; where the vendor "
                "publishes no lifetime, give the longest observed one or the technical maximum "
                "(browsers keep a cookie at most 400 days)",
            )
        if not isinstance(self.processing_location, str | Mapping):
            raise ConfigurationError(
                f"{field_name}.processing_location",
                f"expected a text or a mapping of language to text, "
                f"got {self.processing_location!r}",
            )
        if self.party not in ("first", "third"):
            raise ConfigurationError(
                f"{field_name}.party", f"expected 'first' or 'third', got {self.party!r}"
            )


@dataclass(frozen=True, kw_only=True)
class Provider:
    """A tracker or embed the middleware injects only once its category is granted.

    A site declares its own by instantiating this class with inline Jinja2
    ``head``/``body`` sources; built-ins are subclasses that name template files
    instead, so a site can override those files through its template loader.
    """

    name: str
    title: str
    category: str
    description: LocalizedText = field(default="", hash=False)
    cookies: tuple[DeclaredCookie, ...] = ()
    privacy_policy_url: str = ""
    #: Who receives the data, where and for how long; shown on the second layer.
    disclosure: Disclosure | None = field(default=None, hash=False)
    head: str = ""
    body: str = ""
    head_template: str | None = None
    body_template: str | None = None
    preludes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Identity for spotting the same provider configured twice."""
        return self.name

    def template_context(self) -> Mapping[str, object]:
        """Extra variables for this provider's templates."""
        return {}

    def trackers(self) -> tuple[Tracker, ...]:
        """Tracker entries this provider adds to the registry (e.g. a self-hosted URL)."""
        return ()

    def validate(self, field: str) -> None:
        """Raise :class:`ConfigurationError` naming ``field.<attr>`` on bad values.

        Whether ``category`` exists is the configuration's business, not ours.
        """
        if not isinstance(self.name, str) or not _PROVIDER_NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"{field}.name",
                "expected a machine name of lowercase letters, digits and single hyphens "
                f"(e.g. 'google-analytics'), got {self.name!r}",
            )
        if not isinstance(self.title, str) or not self.title.strip():
            raise ConfigurationError(f"{field}.title", "must not be empty")
        if not isinstance(self.category, str) or not self.category.strip():
            raise ConfigurationError(
                f"{field}.category",
                "must name a category such as 'statistics' or 'marketing'",
            )
        if not isinstance(self.description, str | Mapping):
            raise ConfigurationError(
                f"{field}.description",
                f"expected a text or a mapping of language to text, got {self.description!r}",
            )
        for part in ("head", "body"):
            self._validate_markup(field, part)
        if not isinstance(self.preludes, tuple) or not all(
            isinstance(name, str) and name.strip() for name in self.preludes
        ):
            raise ConfigurationError(
                f"{field}.preludes", f"expected a tuple of template names, got {self.preludes!r}"
            )
        self._validate_privacy_policy_url(field)
        if self.disclosure is not None:
            if not isinstance(self.disclosure, Disclosure):
                raise ConfigurationError(
                    f"{field}.disclosure", f"expected a Disclosure, got {self.disclosure!r}"
                )
            self.disclosure.validate(f"{field}.disclosure")
        if not isinstance(self.cookies, tuple) or not all(
            isinstance(cookie, DeclaredCookie) for cookie in self.cookies
        ):
            raise ConfigurationError(
                f"{field}.cookies", f"expected a tuple of DeclaredCookie, got {self.cookies!r}"
            )
        for index, cookie in enumerate(self.cookies):
            cookie.validate(f"{field}.cookies[{index}]")

    def _validate_markup(self, field: str, part: Literal["head", "body"]) -> None:
        source = getattr(self, part)
        template = getattr(self, f"{part}_template")
        if not isinstance(source, str):
            raise ConfigurationError(
                f"{field}.{part}", f"expected Jinja2 template source, got {source!r}"
            )
        if template is None:
            return
        if not isinstance(template, str) or not template.strip():
            raise ConfigurationError(
                f"{field}.{part}_template",
                f"expected a template name such as 'snippets/my_tracker.html', got {template!r}",
            )
        if source:
            raise ConfigurationError(
                f"{field}.{part}_template",
                f"give either {part} (template source) or {part}_template "
                "(a template name), not both",
            )

    def _validate_privacy_policy_url(self, field: str) -> None:
        url = self.privacy_policy_url
        if not isinstance(url, str):
            raise ConfigurationError(
                f"{field}.privacy_policy_url", f"expected a URL string, got {url!r}"
            )
        if not url:
            return
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigurationError(
                f"{field}.privacy_policy_url", f"not a valid URL: {url!r} ({exc})"
            ) from exc
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"{field}.privacy_policy_url",
                f"expected an absolute http(s) URL such as 'https://example.com/privacy', "
                f"got {url!r}",
            )


@dataclass(frozen=True, kw_only=True)
class BuiltinProvider(Provider):
    """Base of the shipped providers: every inherited field is fixed, not a constructor argument.

    Subclasses redeclare the fields they give values to with ``field(init=False, ...)``
    and take only their own settings (ids and options) in the constructor.
    """

    name: str = field(init=False, default="")
    title: str = field(init=False, default="")
    category: str = field(init=False, default="")
    description: LocalizedText = field(init=False, default="", hash=False)
    cookies: tuple[DeclaredCookie, ...] = field(init=False, default=())
    privacy_policy_url: str = field(init=False, default="")
    disclosure: Disclosure | None = field(init=False, default=None, hash=False)
    head: str = field(init=False, default="")
    body: str = field(init=False, default="")
    head_template: str | None = field(init=False, default=None)
    body_template: str | None = field(init=False, default=None)
    preludes: tuple[str, ...] = field(init=False, default=())
