"""The scanner's checks on an app, in process, as assertions that fail with the findings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx

from .._registry import Tracker
from ..scan import Declaration, Finding, FindingKind, Scanner, ScanReport

__all__ = [
    "assert_declared",
    "assert_no_tracking_before_consent",
    "format_findings",
    "scan_app",
]

BASE_URL = "http://testserver"
_T = TypeVar("_T")


async def scan_app(
    app: Any,
    paths: Sequence[str] | None = None,
    *,
    max_pages: int = 50,
    declaration: Declaration | None = None,
    trackers: Sequence[Tracker] = (),
    base_url: str = BASE_URL,
) -> ScanReport:
    """The scan of an ASGI app: ``paths`` only, or a crawl from ``/`` when None."""

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    scanner = Scanner(
        client,
        base_url + "/",
        paths=paths,
        max_pages=max_pages,
        declaration=declaration,
        trackers=trackers,
        honour_robots=False,
    )
    return await scanner.scan()


def assert_no_tracking_before_consent(
    app: Any, paths: Sequence[str] = ("/",), *, trackers: Sequence[Tracker] = ()
) -> ScanReport:
    """Fail unless a new visitor and one who chose Reject all get no tracker markup and no
    cookie that needs consent on ``paths``, and the banner passes its checks."""
    report = _run(lambda: scan_app(app, paths, trackers=trackers))
    _fail_with(
        [f for f in report.findings if f.severity == "error"],
        "tracking before consent",
    )
    return report


def assert_declared(
    app: Any, paths: Sequence[str] = ("/",), *, trackers: Sequence[Tracker] = ()
) -> ScanReport:
    """Fail unless every cookie and tracker ``paths`` give any visitor is declared, and every
    declared cookie shows up (or could be set by a script that does)."""
    report = _run(lambda: scan_app(app, paths, trackers=trackers))
    kinds: frozenset[FindingKind] = frozenset({"undeclared", "stale"})
    _fail_with([f for f in report.findings if f.kind in kinds], "declaration incomplete")
    return report


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding: kind, who, where, what."""
    lines = []
    for finding in findings:
        where = f" on {finding.page}" if finding.page else ""
        who = f" [{finding.visitor}]" if finding.visitor else ""
        lines.append(f"- {finding.kind}{who}{where}: {finding.detail}")
    return "\n".join(lines)


def _fail_with(findings: Sequence[Finding], title: str) -> None:
    if findings:
        raise AssertionError(f"{title}: {len(findings)} finding(s)\n{format_findings(findings)}")


def _run(coroutine: Callable[[], Awaitable[_T]]) -> _T:
    """Run the scan to the end from sync code, in a thread of its own inside an event loop."""

    async def main() -> _T:
        return await coroutine()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    result: list[_T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=work, name="consentgate-scan")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
