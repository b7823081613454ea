"""Google Analytics 4 via gtag.js, plain or as Site Kit by Google prints it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field

from consentgate._exceptions import ConfigurationError
from consentgate._locales import provider_text
from consentgate._text import LocalizedText

from ._base import BuiltinProvider, DeclaredCookie
from ._disclosure import Disclosure

__all__ = [
    "CONSENT_MODE_PRELUDE",
    "GOOGLE_IRELAND",
    "GOOGLE_IRELAND_ADDRESS",
    "GoogleAnalytics",
    "SiteKit",
]

#: Shared head template with the Consent Mode v2 default and update; every Google tag needs it.
CONSENT_MODE_PRELUDE = "snippets/google_consent_mode.html"

_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]{4,}")
_TAG_ID = re.compile(r"(?:G|GT|AW)-[A-Z0-9]{4,}")

_PRIVACY_POLICY = "https://policies.google.com/privacy"

#: Google Ireland is the contracting party for sites in the EU/EEA; under the Google
#: Ads Data Processing Terms it processes Analytics data for the site (a processor),
#: storing it in the USA and wherever else Google runs data centres.
GOOGLE_IRELAND = "Google Ireland Limited"
GOOGLE_IRELAND_ADDRESS = "Gordon House, Barrow Street, Dublin 4, D04 E5W5, Ireland"
_ANALYTICS_DISCLOSURE = Disclosure(
    legal_entity=GOOGLE_IRELAND,
    address=GOOGLE_IRELAND_ADDRESS,
    role="processor",
    countries=("IE", "US"),
    transfer_basis=("dpf", "scc"),
    retention=provider_text("retention.google-analytics"),
)


def _cookie(name: str, purpose: str) -> DeclaredCookie:
    return DeclaredCookie(
        name=name,
        purpose=provider_text(f"purposes.{purpose}"),
        expiry=provider_text("durations.2years"),
        processing_location=provider_text("locations.google"),
    )


_GA_COOKIE = _cookie("_ga", "ga-visitor")
_ANY_PROPERTY_COOKIE = _cookie("_ga_*", "ga-property")


def _session_cookie(measurement_id: str) -> DeclaredCookie:
    """GA4 names its session cookie after the measurement id without ``G-``."""
    return _cookie(f"_ga_{measurement_id.removeprefix('G-')}", "ga-session")


def _analytics_cookies(tag_ids: Iterable[object]) -> tuple[DeclaredCookie, ...]:
    """``_ga`` plus one session cookie per GA4 id; a ``GT-`` tag may feed any property."""
    ids = [tag_id for tag_id in tag_ids if isinstance(tag_id, str)]
    cookies = [_GA_COOKIE]
    cookies.extend(_session_cookie(tag_id) for tag_id in ids if tag_id.startswith("G-"))
    if any(tag_id.startswith("GT-") for tag_id in ids):
        cookies.append(_ANY_PROPERTY_COOKIE)
    return tuple(cookies)


def _check_measurement_id(value: object, field_name: str) -> None:
    if not isinstance(value, str) or not _MEASUREMENT_ID.fullmatch(value):
        raise ConfigurationError(
            field_name, f"expected a GA4 measurement id like G-A1B2C3D4E5, got {value!r}"
        )


@dataclass(frozen=True)
class GoogleAnalytics(BuiltinProvider):
    """Google Analytics 4 through gtag.js, behind Consent Mode v2.

    ``GoogleAnalytics("G-A1B2C3D4E5")``; ``send_page_view=False`` leaves page
    views to the site's own ``gtag("event", ...)`` calls. ``inject=False`` is for
    a site whose templates already carry the gtag snippet: consentgate then only
    declares it, and blocks that snippet until statistics is granted.
    """

    measurement_id: str
    _: KW_ONLY
    send_page_view: bool = True
    inject: bool = True
    name: str = field(init=False, default="google-analytics")
    title: str = field(init=False, default="Google Analytics")
    category: str = field(init=False, default="statistics")
    description: LocalizedText = field(
        init=False,
        default_factory=lambda: provider_text("descriptions.google-analytics"),
        hash=False,
    )
    privacy_policy_url: str = field(init=False, default=_PRIVACY_POLICY)
    disclosure: Disclosure | None = field(init=False, default=_ANALYTICS_DISCLOSURE, hash=False)
    head_template: str | None = field(init=False, default="snippets/google_analytics_head.html")
    preludes: tuple[str, ...] = field(init=False, default=(CONSENT_MODE_PRELUDE,))

    def __post_init__(self) -> None:
        object.__setattr__(self, "cookies", _analytics_cookies([self.measurement_id]))
        if self.inject is False:
            object.__setattr__(self, "head_template", None)
            object.__setattr__(self, "preludes", ())

    @property
    def key(self) -> str:
        return f"{self.name}:{self.measurement_id}"

    def template_context(self) -> Mapping[str, object]:
        return {"measurement_id": self.measurement_id, "send_page_view": self.send_page_view}

    def validate(self, field: str) -> None:
        super().validate(field)
        _check_measurement_id(self.measurement_id, f"{field}.measurement_id")
        for option in ("send_page_view", "inject"):
            if not isinstance(getattr(self, option), bool):
                raise ConfigurationError(
                    f"{field}.{option}", f"expected True or False, got {getattr(self, option)!r}"
                )


@dataclass(frozen=True)
class SiteKit(BuiltinProvider):
    """The Google tag exactly as the WordPress plugin Site Kit by Google prints it.

    For sites moving off WordPress whose tooling looks for Site Kit's markup.
    ``extra_tag_ids`` adds ``config`` calls for more ``G-``, ``GT-`` or ``AW-``
    ids; Consent Mode keeps ad storage denied for them unless marketing is granted.
    """

    measurement_id: str
    _: KW_ONLY
    extra_tag_ids: tuple[str, ...] = ()
    name: str = field(init=False, default="site-kit")
    title: str = field(init=False, default="Google Analytics (Site Kit)")
    category: str = field(init=False, default="statistics")
    description: LocalizedText = field(
        init=False, default_factory=lambda: provider_text("descriptions.site-kit"), hash=False
    )
    privacy_policy_url: str = field(init=False, default=_PRIVACY_POLICY)
    disclosure: Disclosure | None = field(init=False, default=_ANALYTICS_DISCLOSURE, hash=False)
    head_template: str | None = field(init=False, default="snippets/site_kit_head.html")
    preludes: tuple[str, ...] = field(init=False, default=(CONSENT_MODE_PRELUDE,))

    def __post_init__(self) -> None:
        object.__setattr__(self, "cookies", _analytics_cookies(self.tag_ids))

    @property
    def tag_ids(self) -> tuple[str, ...]:
        """Every id gets a ``config`` call; the first one names the loader."""
        return (self.measurement_id, *self.extra_tag_ids)

    @property
    def key(self) -> str:
        return f"{self.name}:{self.measurement_id}"

    def template_context(self) -> Mapping[str, object]:
        return {"tag_ids": self.tag_ids}

    def validate(self, field: str) -> None:
        super().validate(field)
        _check_measurement_id(self.measurement_id, f"{field}.measurement_id")
        if not isinstance(self.extra_tag_ids, tuple):
            raise ConfigurationError(
                f"{field}.extra_tag_ids",
                f"expected a tuple of Google tag ids, got {self.extra_tag_ids!r}",
            )
        seen = {self.measurement_id}
        for index, tag_id in enumerate(self.extra_tag_ids):
            field_name = f"{field}.extra_tag_ids[{index}]"
            if not isinstance(tag_id, str) or not _TAG_ID.fullmatch(tag_id):
                raise ConfigurationError(
                    field_name,
                    "expected a Google tag id like G-A1B2C3D4E5, GT-A1B2C3D or AW-123456789, "
                    f"got {tag_id!r}",
                )
            if tag_id in seen:
                raise ConfigurationError(field_name, f"{tag_id} is configured twice")
            seen.add(tag_id)
