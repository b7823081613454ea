"""What a scan saw and found: plain values, the same for the kit, the CLI and every output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "VISITORS",
    "CookieSeen",
    "Finding",
    "FindingKind",
    "PageSeen",
    "ResourceSeen",
    "ScanReport",
    "Severity",
    "Visitor",
]

Visitor = Literal["new", "reject_all", "accept_all"]
#: In the order they visit: a visitor who never answers, one who rejects, one who accepts.
VISITORS: tuple[Visitor, ...] = ("new", "reject_all", "accept_all")
FindingKind = Literal["violation", "undeclared", "stale", "banner"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class PageSeen:
    url: str
    visitor: Visitor
    status: int
    content_type: str


@dataclass(frozen=True, slots=True)
class CookieSeen:
    """A ``Set-Cookie`` a visitor got, and whose the cookie is."""

    name: str
    domain: str
    #: Seconds; None for a session cookie.
    lifetime: int | None
    page: str
    visitor: Visitor
    #: The declaring provider, if the site's declaration covers it.
    declared_by: str | None
    #: The category it needs: the declaration's, else a known tracker's; None if unknown.
    category: str | None
    #: A built-in provider known to set it, whether or not the site declares it.
    tracker: str | None


@dataclass(frozen=True, slots=True)
class ResourceSeen:
    """A third-party or tracker resource in a page's HTML."""

    kind: str
    #: Absolute URL; "" for an inline script.
    url: str
    page: str
    visitor: Visitor
    #: The registry's provider and category, if it knows the resource.
    provider: str | None
    category: str | None
    #: Inert as served (``type="text/plain"``, ``data-consent-src``): loads nothing.
    blocked: bool


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    severity: Severity
    #: Where it was seen ("" for the site as a whole, e.g. a stale declaration).
    page: str
    visitor: Visitor | None
    #: A sentence a site owner can act on.
    detail: str
    #: What it is about: a cookie name, a provider, a check's name.
    subject: str


@dataclass(slots=True)
class ScanReport:
    target: str
    started_at: str
    duration: float
    declaration_source: str
    pages: list[PageSeen] = field(default_factory=list)
    cookies: list[CookieSeen] = field(default_factory=list)
    resources: list[ResourceSeen] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: Pages robots.txt kept the scan from.
    skipped: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "violation"]

    def failing(self, fail_on: frozenset[FindingKind] = frozenset()) -> list[Finding]:
        """The findings that fail the scan: every error, and every finding of ``fail_on``."""
        return [f for f in self.findings if f.severity == "error" or f.kind in fail_on]

    @property
    def clean(self) -> bool:
        return not self.failing()
