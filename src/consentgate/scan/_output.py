"""A scan report as a terminal table, as JSON (schema: ``report.schema.json``), as one
self-contained HTML page, and as a draft cookie declaration in TOML."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, TypeVar

from jinja2 import Environment, select_autoescape

from .. import __version__
from ._model import VISITORS, CookieSeen, Finding, ScanReport

__all__ = ["SCHEMA_VERSION", "declaration_toml", "report_html", "report_json", "report_table"]

#: Bumped on any change a reader of the JSON would notice; ``report.schema.json`` says it.
SCHEMA_VERSION = 1
_DAY = 24 * 60 * 60
_T = TypeVar("_T")


def report_json(report: ScanReport) -> dict[str, Any]:
    """The report as the versioned JSON document ``report.schema.json`` describes."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "consentgate", "version": __version__},
        "target": report.target,
        "started_at": report.started_at,
        "duration_seconds": round(report.duration, 3),
        "visitors": list(VISITORS),
        "declaration_source": report.declaration_source,
        "clean": report.clean,
        "pages": [asdict(page) for page in report.pages],
        "skipped": list(report.skipped),
        "cookies": [_cookie_json(cookie) for cookie in report.cookies],
        "resources": [asdict(resource) for resource in report.resources],
        "findings": [asdict(finding) for finding in report.findings],
    }


def _cookie_json(cookie: CookieSeen) -> dict[str, Any]:
    data = asdict(cookie)
    data["lifetime_seconds"] = data.pop("lifetime")
    return data


def report_table(report: ScanReport) -> str:
    """What a person reads on a terminal: what was scanned, then each finding."""
    pages = len({page.url for page in report.pages})
    trackers = len({(r.provider, r.url) for r in report.resources if r.provider})
    lines = [
        f"consentgate scan of {report.target}",
        f"{pages} pages x {len(VISITORS)} visitors in {report.duration:.1f} s; "
        f"{len({c.name for c in report.cookies})} cookies, {trackers} tracker resources; "
        f"declaration from {report.declaration_source}",
    ]
    if report.skipped:
        lines.append(f"robots.txt kept the scan from {len(report.skipped)} pages")
    lines.append("")
    if report.findings:
        rows = [("SEVERITY", "KIND", "VISITOR", "PAGE", "DETAIL")]
        rows += [
            (f.severity, f.kind, f.visitor or "-", _path(f.page, report.target), f.detail)
            for f in report.findings
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
        lines.append("")
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


def _verdict(report: ScanReport) -> str:
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = len(report.findings) - len(errors)
    if errors:
        return f"FAILED: {len(errors)} errors, {warnings} warnings"
    if warnings:
        return f"clean (no violations); {warnings} warnings"
    return "clean"


def _path(url: str, target: str) -> str:
    """A page of the target's origin by its path, to keep the table narrow."""
    origin = "/".join(target.split("/", 3)[:3])
    if not url:
        return "-"
    if url.startswith(origin + "/"):
        return url[len(origin) :]
    return url


def report_html(report: ScanReport) -> str:
    """One page with everything in it (no scripts, no outside requests), to send on."""
    template = _environment().from_string(
        (files("consentgate.scan") / "report.html").read_text(encoding="utf-8")
    )
    by_kind: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    return template.render(
        report=report,
        cookies=_first(report.cookies, lambda c: (c.name, c.visitor)),
        resources=_first(report.resources, lambda r: (r.kind, r.url, r.provider, r.visitor)),
        verdict=_verdict(report),
        by_kind=by_kind,
        pages=sorted({page.url for page in report.pages}),
        visitors=VISITORS,
        lifetime=_lifetime,
        path=lambda url: _path(url, report.target),
        version=__version__,
    )


def _first(items: Iterable[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    """Each item whose key was not seen before: a cookie once per visitor, not per page."""
    seen: set[Hashable] = set()
    kept: list[_T] = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return kept


def _environment() -> Environment:
    return Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _lifetime(seconds: int | None) -> str:
    if seconds is None:
        return "session"
    if seconds >= _DAY:
        return f"{round(seconds / _DAY)} days"
    return f"{seconds} s"


def declaration_toml(report: ScanReport) -> str:
    """A draft ``[[providers]]`` list with a ``[[providers.cookies]]`` table per cookie that
    the visitors got but no declaration covers, to check and add to the site's TOML."""
    undeclared = _undeclared(report.cookies)
    today = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Draft cookie declaration: consentgate scan of {report.target}, {today}.",
        "# Cookies the visitors got that no declaration covers. Write each purpose, check",
        "# each expiry and category, then add these to the site's consentgate TOML file.",
    ]
    if not undeclared:
        lines.append("# Nothing to add: every cookie seen is declared.")
    groups: dict[str | None, list[CookieSeen]] = {}
    for cookie in undeclared:
        groups.setdefault(cookie.tracker, []).append(cookie)
    for tracker, cookies in groups.items():
        lines.append("")
        if tracker is not None:
            lines.append(f'# Built in: type = "{tracker}" declares all of its cookies for you.')
        lines += ["[[providers]]", 'type = "custom"']
        if tracker is not None:
            lines += [f"name = {_toml(tracker)}", f"title = {_toml(tracker)}"]
            lines.append(f"category = {_toml(cookies[0].category or 'marketing')}")
        else:
            lines += [
                'name = "site"  # who sets them: one [[providers]] table per provider',
                'title = "TODO: who sets these cookies"',
                'category = "marketing"  # TODO: the category they need ("necessary" if none)',
            ]
        for cookie in cookies:
            lines += [
                "",
                "[[providers.cookies]]",
                f"name = {_toml(cookie.name)}",
                'purpose = "TODO: why the cookie is set"',
                f"expiry = {_toml(_lifetime(cookie.lifetime))}",
                'party = "first"',
            ]
    return "\n".join(lines) + "\n"


def _undeclared(cookies: Iterable[CookieSeen]) -> list[CookieSeen]:
    seen: dict[str, CookieSeen] = {}
    for cookie in cookies:
        if cookie.declared_by is None and cookie.name not in seen:
            seen[cookie.name] = cookie
    return list(seen.values())


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
