"""Jetpack Stats, Automattic's page-view counter for WordPress sites."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field

from consentgate._exceptions import ConfigurationError
from consentgate._locales import provider_text
from consentgate._text import LocalizedText

from ._base import BuiltinProvider, DeclaredCookie
from ._disclosure import Disclosure

__all__ = ["JetpackStats"]

_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _tracks_cookie(name: str, purpose: str) -> DeclaredCookie:
    # Automattic publishes no lifetimes for its Tracks cookies, and tk_or has been seen
    # set for five years: say the most a browser keeps one (Chrome: 400 days).
    return DeclaredCookie(
        name=name,
        purpose=provider_text(f"purposes.{purpose}"),
        expiry=provider_text("durations.400days-max"),
        processing_location=provider_text("locations.automattic"),
    )


_TRACKS_COOKIES = (
    _tracks_cookie("tk_ai", "tracks-visitor"),
    _tracks_cookie("tk_qs", "tracks-usage"),
    _tracks_cookie("tk_ni", "tracks-usage"),
    _tracks_cookie("tk_*", "tracks-other"),
)

#: Automattic's Data Processing Addendum makes it the site's processor for Jetpack;
#: for sites in the EU/EEA the contracting party is its Irish company, and the data is
#: processed in the USA (Automattic is certified under the Data Privacy Framework,
#: and the addendum carries standard contractual clauses).
_AUTOMATTIC_DISCLOSURE = Disclosure(
    legal_entity="Aut O'Mattic A8C Ireland Ltd.",
    address="Grand Canal Dock, 25 Herbert Pl, Dublin, D02 AY86, Ireland",
    role="processor",
    countries=("US",),
    transfer_basis=("dpf", "scc"),
    retention=provider_text("retention.automattic"),
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
        init=False, default_factory=lambda: provider_text("descriptions.jetpack-stats"), hash=False
    )
    cookies: tuple[DeclaredCookie, ...] = field(init=False, default=_TRACKS_COOKIES)
    privacy_policy_url: str = field(init=False, default="https://automattic.com/privacy/")
    disclosure: Disclosure | None = field(init=False, default=_AUTOMATTIC_DISCLOSURE, hash=False)
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
