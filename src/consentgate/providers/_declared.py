"""Providers a site writes into its own templates: declared here, blocked until allowed.

These declare what the preference centre tells visitors (category, purpose,
cookies, where data goes) and what the blocker names on placeholders; they
inject nothing. The site's own markup for them (a GTM container, a Meta Pixel,
a YouTube iframe) is made inert by the registry (``consentgate/trackers.toml``)
until the visitor allows the provider or its category. Their texts live in the
language files (``[providers]``), in all ten languages.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from consentgate._exceptions import ConfigurationError
from consentgate._locales import provider_text
from consentgate._registry import Tracker
from consentgate._text import LocalizedText

from ._base import BuiltinProvider, DeclaredCookie
from ._disclosure import Disclosure, Role, TransferBasis
from ._google import GOOGLE_IRELAND, GOOGLE_IRELAND_ADDRESS

__all__ = [
    "GoogleMaps",
    "GoogleTagManager",
    "Hotjar",
    "LinkedInInsight",
    "Matomo",
    "MetaPixel",
    "MicrosoftClarity",
    "Vimeo",
    "YouTube",
]

_GOOGLE_PRIVACY = "https://policies.google.com/privacy"


def _cookie(
    name: str,
    purpose: str,
    expiry: str,
    location: str,
    party: Literal["first", "third"] = "first",
) -> DeclaredCookie:
    return DeclaredCookie(
        name=name,
        purpose=provider_text(f"purposes.{purpose}"),
        expiry=provider_text(f"durations.{expiry}"),
        party=party,
        processing_location=provider_text(f"locations.{location}"),
    )


def _description(name: str) -> LocalizedText:
    return provider_text(f"descriptions.{name}")


def _disclosure(
    entity: str,
    address: str,
    role: Role,
    countries: tuple[str, ...],
    basis: tuple[TransferBasis, ...],
    retention: str,
) -> Disclosure:
    return Disclosure(
        legal_entity=entity,
        address=address,
        role=role,
        countries=countries,
        transfer_basis=basis,
        retention=provider_text(f"retention.{retention}"),
    )


# From each vendor's privacy policy and data processing or controller terms for the EU/EEA.
# A site's own contract may differ (Google Tag Manager under the Ads Data Processing
# Terms, a Clarity project under Microsoft's): override by declaring a Provider of its own.
_GOOGLE_AS_PROCESSOR = _disclosure(
    GOOGLE_IRELAND,
    GOOGLE_IRELAND_ADDRESS,
    "processor",
    ("IE", "US"),
    ("dpf", "scc"),
    "google-tag-manager",
)
#: Google uses what its embeds collect for its own purposes (its privacy policy).
_GOOGLE_AS_CONTROLLER = _disclosure(
    GOOGLE_IRELAND,
    GOOGLE_IRELAND_ADDRESS,
    "independent-controller",
    ("IE", "US"),
    ("dpf", "scc"),
    "google",
)
#: Meta's Controller Addendum makes the site and Meta joint controllers (CJEU C-40/17).
_META = _disclosure(
    "Meta Platforms Ireland Limited",
    "Merrion Road, Dublin 4, D04 X2K5, Ireland",
    "joint-controller",
    ("IE", "US"),
    ("dpf", "scc"),
    "meta",
)
#: LinkedIn's Joint Controller Addendum covers the Insight Tag.
_LINKEDIN = _disclosure(
    "LinkedIn Ireland Unlimited Company",
    "Wilton Plaza, Wilton Place, Dublin 2, Ireland",
    "joint-controller",
    ("IE", "US"),
    ("dpf", "scc"),
    "linkedin",
)
#: Hotjar's Data Processing Agreement; its data is stored with AWS in Ireland.
_HOTJAR = _disclosure(
    "Hotjar Ltd.",
    "Dragonara Business Centre, 5th Floor, Dragonara Road, Paceville, St Julian's STJ 3141, Malta",
    "processor",
    ("MT", "IE"),
    (),
    "hotjar",
)
#: Clarity's terms: Microsoft uses Clarity data also for its own products and advertising.
_MICROSOFT = _disclosure(
    "Microsoft Ireland Operations Limited",
    "One Microsoft Place, South County Business Park, Leopardstown, Dublin 18, D18 P521, Ireland",
    "independent-controller",
    ("US",),
    ("dpf", "scc"),
    "microsoft-clarity",
)
_VIMEO = _disclosure(
    "Vimeo.com, Inc.",
    "330 West 34th Street, 5th Floor, New York, NY 10001, USA",
    "independent-controller",
    ("US",),
    ("dpf", "scc"),
    "vimeo",
)


@dataclass(frozen=True, kw_only=True)
class GoogleTagManager(BuiltinProvider):
    """Google Tag Manager, whose container the site writes in its templates.

    Declared as marketing: a container usually fires marketing tags, and the
    blocker cannot see inside it. Put statistics-only tags in their own
    provider (GoogleAnalytics) rather than in the container."""

    name: str = field(init=False, default="google-tag-manager")
    title: str = field(init=False, default="Google Tag Manager")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("google-tag-manager"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (),
    )
    privacy_policy_url: str = field(init=False, default=_GOOGLE_PRIVACY)
    disclosure: Disclosure | None = field(init=False, default=_GOOGLE_AS_PROCESSOR, hash=False)


@dataclass(frozen=True, kw_only=True)
class MetaPixel(BuiltinProvider):
    """The Meta Pixel (Facebook, Instagram ads), as the site writes it in its templates."""

    name: str = field(init=False, default="meta-pixel")
    title: str = field(init=False, default="Meta Pixel")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("meta-pixel"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (
            _cookie("_fbp", "visitor", "90days", "meta"),
            _cookie("_fbc", "adclick", "90days", "meta"),
            _cookie("fr", "ads", "90days", "meta", "third"),
        ),
    )
    privacy_policy_url: str = field(init=False, default="https://www.facebook.com/privacy/policy/")
    disclosure: Disclosure | None = field(init=False, default=_META, hash=False)


@dataclass(frozen=True, kw_only=True)
class LinkedInInsight(BuiltinProvider):
    """The LinkedIn Insight Tag, as the site writes it in its templates."""

    name: str = field(init=False, default="linkedin-insight")
    title: str = field(init=False, default="LinkedIn Insight Tag")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("linkedin-insight"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (
            _cookie("li_fat_id", "adclick", "30days", "linkedin"),
            _cookie("bcookie", "ads", "1year", "linkedin", "third"),
            _cookie("li_sugr", "ads", "90days", "linkedin", "third"),
            _cookie("UserMatchHistory", "ads", "30days", "linkedin", "third"),
            _cookie("AnalyticsSyncHistory", "ads", "30days", "linkedin", "third"),
            _cookie("lidc", "routing", "1day", "linkedin", "third"),
        ),
    )
    privacy_policy_url: str = field(
        init=False, default="https://www.linkedin.com/legal/privacy-policy"
    )
    disclosure: Disclosure | None = field(init=False, default=_LINKEDIN, hash=False)


@dataclass(frozen=True, kw_only=True)
class Hotjar(BuiltinProvider):
    """Hotjar (heat maps and recordings), as the site writes it in its templates."""

    name: str = field(init=False, default="hotjar")
    title: str = field(init=False, default="Hotjar")
    category: str = field(init=False, default="statistics")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("hotjar"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (
            _cookie("_hjSessionUser_*", "visitor", "1year", "hotjar"),
            _cookie("_hjSession_*", "session", "30min", "hotjar"),
        ),
    )
    privacy_policy_url: str = field(
        init=False, default="https://www.hotjar.com/legal/policies/privacy/"
    )
    disclosure: Disclosure | None = field(init=False, default=_HOTJAR, hash=False)


@dataclass(frozen=True, kw_only=True)
class MicrosoftClarity(BuiltinProvider):
    """Microsoft Clarity (heat maps and recordings), as the site writes it in its templates."""

    name: str = field(init=False, default="microsoft-clarity")
    title: str = field(init=False, default="Microsoft Clarity")
    category: str = field(init=False, default="statistics")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("microsoft-clarity"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (
            _cookie("_clck", "visitor", "1year", "microsoft"),
            _cookie("_clsk", "session", "1day", "microsoft"),
            _cookie("CLID", "visitor", "1year", "microsoft", "third"),
            _cookie("MUID", "ads", "1year", "microsoft", "third"),
        ),
    )
    privacy_policy_url: str = field(
        init=False, default="https://www.microsoft.com/privacy/privacystatement"
    )
    disclosure: Disclosure | None = field(init=False, default=_MICROSOFT, hash=False)


@dataclass(frozen=True, kw_only=True)
class YouTube(BuiltinProvider):
    """YouTube videos embedded in the site's pages, shown behind a click-to-load placeholder.

    Also for ``youtube-nocookie.com``, which still stores data in the browser
    once a video plays."""

    name: str = field(init=False, default="youtube")
    title: str = field(init=False, default="YouTube")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("youtube"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (
            _cookie("YSC", "video", "session", "google", "third"),
            _cookie("VISITOR_INFO1_LIVE", "video", "6months", "google", "third"),
            _cookie("VISITOR_PRIVACY_METADATA", "video", "6months", "google", "third"),
        ),
    )
    privacy_policy_url: str = field(init=False, default=_GOOGLE_PRIVACY)
    disclosure: Disclosure | None = field(init=False, default=_GOOGLE_AS_CONTROLLER, hash=False)


@dataclass(frozen=True, kw_only=True)
class Vimeo(BuiltinProvider):
    """Vimeo videos embedded in the site's pages, shown behind a click-to-load placeholder."""

    name: str = field(init=False, default="vimeo")
    title: str = field(init=False, default="Vimeo")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("vimeo"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (_cookie("vuid", "video", "2years", "vimeo", "third"),),
    )
    privacy_policy_url: str = field(init=False, default="https://vimeo.com/privacy")
    disclosure: Disclosure | None = field(init=False, default=_VIMEO, hash=False)


@dataclass(frozen=True, kw_only=True)
class GoogleMaps(BuiltinProvider):
    """Google Maps embedded in the site's pages, shown behind a click-to-load placeholder."""

    name: str = field(init=False, default="google-maps")
    title: str = field(init=False, default="Google Maps")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(
        init=False, default_factory=lambda: _description("google-maps"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(
        init=False,
        default_factory=lambda: (_cookie("NID", "google", "6months", "google", "third"),),
    )
    privacy_policy_url: str = field(init=False, default=_GOOGLE_PRIVACY)
    disclosure: Disclosure | None = field(init=False, default=_GOOGLE_AS_CONTROLLER, hash=False)


@dataclass(frozen=True)
class Matomo(BuiltinProvider):
    """Matomo on the site's own server, ``Matomo("https://stats.example.com/")``.

    ``cookieless=True`` declares Matomo set up with ``disableCookies``: no cookies
    are declared and the description says so; it still counts as statistics, as
    the browser still reports the visit. The server's URL joins the registry, so
    a ``<script src=".../matomo.js">`` there is blocked as Matomo's.
    """

    url: str
    _: KW_ONLY
    cookieless: bool = False
    name: str = field(init=False, default="matomo")
    title: str = field(init=False, default="Matomo")
    category: str = field(init=False, default="statistics")

    def __post_init__(self) -> None:
        description = "matomo-cookieless" if self.cookieless else "matomo"
        object.__setattr__(self, "description", _description(description))
        cookies = (
            ()
            if self.cookieless
            else (
                _cookie("_pk_id.*", "visitor", "13months", "matomo"),
                _cookie("_pk_ses.*", "session", "30min", "matomo"),
                _cookie("_pk_ref.*", "referrer", "6months", "matomo"),
            )
        )
        object.__setattr__(self, "cookies", cookies)

    @property
    def key(self) -> str:
        return f"{self.name}:{self.url}"

    def trackers(self) -> tuple[Tracker, ...]:
        parts = urlsplit(self.url)
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return (
            Tracker(
                provider=self.name,
                category=self.category,
                title=self.title,
                urls=(f"{(parts.hostname or '').lower()}{path}",),
                signatures=("_paq.push",),
            ),
        )

    def validate(self, field: str) -> None:
        super().validate(field)
        try:
            parts = urlsplit(self.url) if isinstance(self.url, str) else None
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"{field}.url",
                f"expected the Matomo server's URL, like https://stats.example.com/, "
                f"got {self.url!r}",
            )
        if not isinstance(self.cookieless, bool):
            raise ConfigurationError(
                f"{field}.cookieless", f"expected True or False, got {self.cookieless!r}"
            )
