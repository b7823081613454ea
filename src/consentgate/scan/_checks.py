"""From what the visitors saw to findings: the rules, without any I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .._state import NECESSARY
from ._declaration import Declaration, DeclaredEntry
from ._html import Form
from ._model import CookieSeen, Finding, ResourceSeen, Severity, Visitor

__all__ = ["BannerSeen", "banner_findings", "classify_cookie", "cookie_findings"]

#: The visitors nothing optional may reach.
_WITHOUT_CONSENT: frozenset[Visitor] = frozenset({"new", "reject_all"})
_WHO = {"new": "a new visitor", "reject_all": "a visitor who chose Reject all"}


def classify_cookie(
    name: str, declaration: Declaration, known: Sequence[DeclaredEntry]
) -> tuple[str | None, str | None, str | None]:
    """(declared by, category it needs, built-in tracker known to set it)."""
    declared = declaration.covering(name)
    tracker = next((entry for entry in known if entry.matches(name)), None)
    # Declared by several: necessary if one of them says so (the firewall lets it pass then).
    if declared:
        necessary = [entry for entry in declared if entry.category == NECESSARY]
        chosen = necessary[0] if necessary else declared[0]
        return chosen.provider, chosen.category, tracker.provider if tracker else None
    if tracker is not None:
        return None, tracker.category, tracker.provider
    return None, None, None


def cookie_findings(cookies: Iterable[CookieSeen]) -> list[Finding]:
    """A cookie that needs consent, without it, is a violation (once per visitor); a cookie no
    declaration covers is undeclared (once, at the first visitor that got it)."""
    findings: list[Finding] = []
    violations: set[tuple[str, Visitor]] = set()
    undeclared: set[str] = set()
    for cookie in cookies:
        optional = cookie.category is not None and cookie.category != NECESSARY
        if (
            cookie.visitor in _WITHOUT_CONSENT
            and optional
            and (cookie.name, cookie.visitor) not in violations
        ):
            violations.add((cookie.name, cookie.visitor))
            whose = cookie.declared_by or cookie.tracker
            findings.append(
                Finding(
                    "violation",
                    "error",
                    cookie.page,
                    cookie.visitor,
                    f"{_WHO[cookie.visitor]} got cookie {cookie.name} ({whose}, "
                    f"{cookie.category}), which needs consent",
                    cookie.name,
                )
            )
        if cookie.declared_by is None and cookie.name not in undeclared:
            undeclared.add(cookie.name)
            known = f" (set by {cookie.tracker})" if cookie.tracker else ""
            findings.append(
                Finding(
                    "undeclared",
                    "warning",
                    cookie.page,
                    cookie.visitor,
                    f"cookie {cookie.name}{known} is set but no declaration covers it",
                    cookie.name,
                )
            )
    return findings


def resource_findings(resources: Iterable[ResourceSeen], declaration: Declaration) -> list[Finding]:
    """A tracker that loads without consent is a violation; a tracker in the pages whose
    provider the site does not declare is undeclared."""
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        if resource.provider is None:
            continue
        what = f"{resource.kind} {resource.url}" if resource.url else "an inline script"
        optional = resource.category is not None and resource.category != NECESSARY
        if resource.visitor in _WITHOUT_CONSENT and optional and not resource.blocked:
            key: tuple[str, str, str] = ("violation", resource.provider + what, resource.visitor)
            if key not in seen:
                seen.add(key)
                findings.append(
                    Finding(
                        "violation",
                        "error",
                        resource.page,
                        resource.visitor,
                        f"{_WHO[resource.visitor]} loads {resource.provider} "
                        f"({resource.category}): {what}",
                        resource.provider,
                    )
                )
        if resource.provider not in declaration.providers and optional:
            key = ("undeclared", resource.provider, "")
            if key not in seen:
                seen.add(key)
                findings.append(
                    Finding(
                        "undeclared",
                        "warning",
                        resource.page,
                        resource.visitor,
                        f"the pages carry {resource.provider} ({what}) "
                        "but the site does not declare it",
                        resource.provider,
                    )
                )
    return findings


def stale_findings(
    declaration: Declaration,
    cookies: Sequence[CookieSeen],
    resources: Sequence[ResourceSeen],
    known: Sequence[DeclaredEntry],
) -> list[Finding]:
    """A declared cookie no visitor got, though nothing could have set it unseen.

    Without a browser, cookies a provider's script sets in the page cannot be seen:
    a declared cookie whose provider's markup reached the Accept-all visitor (or a
    built-in tracker known to set it) is taken as accounted for.
    """
    loaded = {r.provider for r in resources if r.visitor == "accept_all" and not r.blocked}
    names = {cookie.name for cookie in cookies}
    findings: list[Finding] = []
    for entry in declaration.entries:
        if any(entry.matches(name) for name in names) or entry.provider in loaded:
            continue
        if any(k.provider in loaded and _overlaps(k.cookie, entry.cookie) for k in known):
            continue
        findings.append(
            Finding(
                "stale",
                "warning",
                "",
                None,
                f"{entry.title} declares cookie {entry.cookie} ({entry.category}), "
                "but no visitor got it, not even after Accept all",
                entry.cookie,
            )
        )
    return findings


def _overlaps(known: str, declared: str) -> bool:
    """Whether a declared cookie is one the known pattern covers (``_ga_*`` covers ``_ga_X``)."""
    return DeclaredEntry("", "", "", known).matches(declared.replace("*", ""))


@dataclass(frozen=True, slots=True)
class BannerSeen:
    """The first page as the new visitor got it, and the first page after each choice."""

    page: str
    form: Form | None
    prefix: str
    #: For each visitor who chose: the page after the choice, and whether it links to
    #: the preference centre.
    after_choice: dict[Visitor, tuple[str, bool]]
    #: Visitors whose choice the site did not take, with what it answered.
    refused: dict[Visitor, str]


def banner_findings(seen: BannerSeen) -> list[Finding]:
    def banner(check: str, severity: Severity, detail: str, visitor: Visitor = "new") -> Finding:
        return Finding("banner", severity, seen.page, visitor, detail, check)

    form = seen.form
    if form is None:
        return [
            banner("banner-shown", "error", "the first page shows a new visitor no consent banner")
        ]
    findings: list[Finding] = []
    if ("action", "reject_all") not in form.buttons:
        findings.append(
            banner(
                "reject-first-layer",
                "error",
                "the banner has no Reject all button beside Accept all on its first layer",
            )
        )
    ticked = [value for _, value, checked in form.checkboxes if checked]
    if ticked:
        findings.append(
            banner(
                "nothing-pre-ticked",
                "error",
                f"the banner comes with boxes ticked: {', '.join(ticked)}",
            )
        )
    preferences = seen.prefix + "/preferences"
    policy = [
        href
        for href in form.links
        if not href.startswith(("mailto:", "tel:", "#")) and preferences not in href
    ]
    if not policy:
        findings.append(
            banner(
                "privacy-policy-link",
                "warning",
                "the banner does not link to a privacy policy (set privacy_policy_url)",
            )
        )
    for visitor, answer in seen.refused.items():
        findings.append(
            banner(
                "choice-taken", "error", f"the banner's form refused the choice: {answer}", visitor
            )
        )
    for visitor, (page, linked) in seen.after_choice.items():
        if not linked:
            findings.append(
                Finding(
                    "banner",
                    "warning",
                    page,
                    visitor,
                    "after a choice the page has no link to change it (the settings link)",
                    "settings-link",
                )
            )
    return findings
