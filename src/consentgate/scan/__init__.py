"""``consentgate scan``: what a site, as served, does before and after consent.

Three visitors go through the same pages: one who never answers the banner, one
who chooses Reject all and one who chooses Accept all, each through the site's
real banner form. What they get (cookies, tracker markup) is checked against
the tracker registry and the site's own cookie declaration. Needs httpx
(``pip install 'consentgate[scan]'``); the middleware never imports this package.
"""

from __future__ import annotations

from ._declaration import Declaration, DeclaredEntry
from ._model import (
    VISITORS,
    CookieSeen,
    Finding,
    FindingKind,
    PageSeen,
    ResourceSeen,
    ScanReport,
    Severity,
    Visitor,
)
from ._scanner import ScanError, Scanner

__all__ = [
    "VISITORS",
    "CookieSeen",
    "Declaration",
    "DeclaredEntry",
    "Finding",
    "FindingKind",
    "PageSeen",
    "ResourceSeen",
    "ScanError",
    "ScanReport",
    "Scanner",
    "Severity",
    "Visitor",
]
