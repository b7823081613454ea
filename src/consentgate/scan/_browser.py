"""``--browser``: the same three visitors in Chromium, so what scripts do is seen too.

A script can load a tracker the HTML never names (a tag manager, a first-party
loader) and set cookies with ``document.cookie``; only a browser running the
pages sees either. Each visitor is a browser context of its own (its own
cookies); the Reject-all and Accept-all visitors click the banner's buttons.

No request leaves the site's origin: every request to another host is recorded
(which tracker the registry says it is) and aborted, so the scan tells what
would have been contacted without contacting it. Cookies a third party's own
script would have set (``_ga`` by gtag.js) are therefore not seen.

Needs Playwright (``pip install playwright``) and a Chromium: the one named by
``CONSENTGATE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH,
else Playwright's own.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._model import Visitor
from ._scanner import ScanError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

__all__ = ["BrowserCookie", "BrowserRequest", "BrowserUnavailable", "browse"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: Milliseconds a page may take to load; a page still busy after it is taken as it is.
PAGE_TIMEOUT_MS = 15_000
#: Milliseconds to let a page's scripts settle after its load event.
SETTLE_MS = 500


class BrowserUnavailable(ScanError):
    """Playwright or Chromium is missing."""


@dataclass(frozen=True, slots=True)
class BrowserRequest:
    url: str
    resource_type: str
    page: str
    visitor: Visitor


@dataclass(frozen=True, slots=True)
class BrowserCookie:
    name: str
    domain: str
    lifetime: int | None
    page: str
    visitor: Visitor


def chromium_path() -> str | None:
    named = os.environ.get("CONSENTGATE_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser")


async def browse(
    origin: str, pages: list[str], timeout: float
) -> tuple[list[BrowserRequest], list[BrowserCookie], dict[Visitor, str]]:
    """Each visitor's requests to other hosts and cookies, page by page; and the
    visitors whose banner button could not be clicked, with why."""
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError as exc:
        raise BrowserUnavailable(
            "--browser needs Playwright: pip install 'consentgate[scan]' playwright"
        ) from exc
    requests: list[BrowserRequest] = []
    cookies: list[BrowserCookie] = []
    refused: dict[Visitor, str] = {}
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
            )
        except Error as exc:
            raise BrowserUnavailable(f"cannot start Chromium: {exc.message}") from exc
        try:
            for visitor in ("new", "reject_all", "accept_all"):
                context = await browser.new_context()
                try:
                    visit = _Visit(context, origin, visitor, requests, cookies)
                    await context.route("**/*", visit.route)
                    refusal = await visit.run(pages, timeout)
                    if refusal:
                        refused[visitor] = refusal
                finally:
                    await context.close()
        finally:
            await browser.close()
    return requests, cookies, refused


class _Visit:
    def __init__(
        self,
        context: BrowserContext,
        origin: str,
        visitor: Visitor,
        requests: list[BrowserRequest],
        cookies: list[BrowserCookie],
    ) -> None:
        self.context = context
        self.origin = origin
        self.visitor = visitor
        self.requests = requests
        self.cookies = cookies
        self.page_url = ""
        self.seen_cookies: set[tuple[str, str]] = set()

    async def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            await route.continue_()
            return
        if parts.scheme in ("http", "https"):
            self.requests.append(
                BrowserRequest(url, route.request.resource_type, self.page_url, self.visitor)
            )
        await route.abort("blockedbyclient")

    async def run(self, pages: list[str], timeout: float) -> str | None:
        from playwright.async_api import Error

        page = await self.context.new_page()
        page.set_default_timeout(timeout * 1000)
        refusal = None
        if self.visitor != "new":
            self.page_url = pages[0]
            await self._load(page, pages[0])
            button = page.locator(
                f'form:has(input[name="csrf_token"]) button[name="action"][value="{self.visitor}"]'
            ).first
            try:
                await button.click()
                await page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)
            except Error as exc:
                refusal = f"the banner's {self.visitor} button could not be clicked: {exc.message}"
            await self._collect_cookies()
        for url in pages:
            self.page_url = url
            await self._load(page, url)
            await self._collect_cookies()
        return refusal

    async def _load(self, page: Any, url: str) -> None:
        from playwright.async_api import Error

        try:
            await page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            await page.wait_for_timeout(SETTLE_MS)
        except Error:
            return  # a page that never finished loading: what it did so far counts

    async def _collect_cookies(self) -> None:
        now = datetime.now(UTC).timestamp()
        for cookie in await self.context.cookies():
            name, domain = cookie.get("name", ""), cookie.get("domain", "")
            if (name, domain) in self.seen_cookies:
                continue
            self.seen_cookies.add((name, domain))
            expires = cookie.get("expires", -1)
            lifetime = None if expires is None or expires < 0 else int(expires - now)
            self.cookies.append(
                BrowserCookie(name, domain.lstrip("."), lifetime, self.page_url, self.visitor)
            )
