"""Jetpack Stats, Automattic's page-view counter for WordPress sites."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field

from consentgate._exceptions import ConfigurationError
from consentgate._text import LocalizedText

from ._base import BuiltinProvider, DeclaredCookie, bilingual

__all__ = ["JetpackStats"]

_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)

_PROCESSED_BY_AUTOMATTIC = bilingual(en="USA (Automattic Inc.)", da="USA (Automattic Inc.)")
# Automattic publishes no lifetimes for its Tracks cookies, so say so rather than guess.
_LIFETIME_UNPUBLISHED = bilingual(
    en="Set by Automattic, which does not publish how long the cookie lives",
    da="Fastsættes af Automattic, som ikke oplyser, hvor længe cookien gemmes",
)
_USAGE_PURPOSE = bilingual(
    en="Used by Automattic's statistics tool to collect information about how the site is used.",
    da="Bruges af Automattics statistikværktøj til at indsamle oplysninger om, hvordan siden "
    "bliver brugt.",
)


def _tracks_cookie(name: str, purpose: LocalizedText) -> DeclaredCookie:
    return DeclaredCookie(
        name=name,
        purpose=purpose,
        expiry=_LIFETIME_UNPUBLISHED,
        processing_location=_PROCESSED_BY_AUTOMATTIC,
    )


_TRACKS_COOKIES = (
    _tracks_cookie(
        "tk_ai",
        bilingual(
            en="Holds a random ID, so that Automattic's statistics can distinguish visitors "
            "and count unique visitors.",
            da="Indeholder et tilfældigt ID, så Automattics statistik kan skelne mellem "
            "besøgende og tælle unikke besøgende.",
        ),
    ),
    _tracks_cookie("tk_qs", _USAGE_PURPOSE),
    _tracks_cookie("tk_ni", _USAGE_PURPOSE),
    _tracks_cookie(
        "tk_*",
        bilingual(
            en="Other cookies of Automattic's statistics tool (Tracks), for example to "
            "remember which site the visitor came from.",
            da="Andre cookies fra Automattics statistikværktøj (Tracks), for eksempel til at "
            "huske, hvilken side den besøgende kom fra.",
        ),
    ),
)


@dataclass(frozen=True)
class JetpackStats(BuiltinProvider):
    """Jetpack Stats for the WordPress.com blog ``blog_id``.

    The view is reported with the request's host unless ``site_host`` pins it,
    which is wiser behind proxies since the Host header comes from the client.
    Jetpack's own documentation lists no visitor cookies for Stats, but
    Automattic says Site Stats uses cookies and names its ``tk_*`` family, so
    those are declared (and cleared on withdrawal) to stay on the safe side.
    """

    blog_id: int
    _: KW_ONLY
    site_host: str | None = None
    name: str = field(init=False, default="jetpack-stats")
    title: str = field(init=False, default="Jetpack Stats")
    category: str = field(init=False, default="statistics")
    description: LocalizedText = field(
        init=False,
        default_factory=lambda: bilingual(
            en="Jetpack Stats is the statistics service from Automattic, the company behind "
            "WordPress.com. It counts visits and shows us which pages are read and where "
            "visitors come from. Your browser sends the data to Automattic, which processes "
            "it in the USA.",
            da="Jetpack Stats er statistiktjenesten fra Automattic, firmaet bag WordPress.com. "
            "Den tæller besøg og viser os, hvilke sider der bliver læst, og hvor de besøgende "
            "kommer fra. Din browser sender oplysningerne til Automattic, som behandler dem "
            "i USA.",
        ),
        hash=False,
    )
    cookies: tuple[DeclaredCookie, ...] = field(init=False, default=_TRACKS_COOKIES)
    privacy_policy_url: str = field(init=False, default="https://automattic.com/privacy/")
    head_template: str | None = field(init=False, default="snippets/jetpack_stats_head.html")
    body_template: str | None = field(init=False, default="snippets/jetpack_stats_body.html")

    @property
    def key(self) -> str:
        return f"{self.name}:{self.blog_id}"

    def template_context(self) -> Mapping[str, object]:
        return {"blog_id": str(self.blog_id), "site_host": self.site_host}

    def validate(self, field: str) -> None:
        super().validate(field)
        if not isinstance(self.blog_id, int) or isinstance(self.blog_id, bool) or self.blog_id <= 0:
            raise ConfigurationError(
                f"{field}.blog_id",
                f"expected the site's WordPress.com blog id, a positive whole number, "
                f"got {self.blog_id!r}",
            )
        if self.site_host is not None and (
            not isinstance(self.site_host, str) or not _HOSTNAME.fullmatch(self.site_host)
        ):
            raise ConfigurationError(
                f"{field}.site_host",
                f"expected a bare host name such as 'www.example.com' (no scheme, port or "
                f"path), got {self.site_host!r}",
            )
