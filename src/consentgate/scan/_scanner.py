"""The scan: three visitors through the same pages, each with its own cookie jar.

1. a new visitor, who never answers the banner, crawls the site (its start page,
   the same-origin links of each page, ``/sitemap.xml``), up to ``max_pages``;
2. a visitor who chooses Reject all through the banner's own form (its token, and
   an ``Origin`` header as a browser sends it), then visits the same pages;
3. a visitor who chooses Accept all the same way.

One request at a time. Redirects are followed on the site's own origin only, so
the scan never sends a request to another host.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from .._blocking import _first_party
from .._exceptions import ConsentGateError
from .._registry import Registry, Tracker, builtin_trackers
from ._checks import (
    BannerSeen,
    banner_findings,
    classify_cookie,
    cookie_findings,
    resource_findings,
    stale_findings,
)
from ._cookies import parse_set_cookie
from ._declaration import Declaration, known_tracker_cookies
from ._html import Form, PageMarkup, parse_page
from ._model import CookieSeen, PageSeen, ResourceSeen, ScanReport, Visitor

__all__ = ["DEFAULT_PREFIX", "USER_AGENT", "ScanError", "Scanner"]

USER_AGENT = "consentgate-scan (+https://pypi.org/project/consentgate/)"
DEFAULT_PREFIX = "/_consent"
MAX_REDIRECTS = 5
#: The most of a page the scan reads; a browser would stop parsing long before.
MAX_BODY = 5 * 1024 * 1024
#: Sitemap documents read at most (an index and the sitemaps it lists).
MAX_SITEMAPS = 10
_SITEMAP_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>")

#: Makes one visitor's client: its own cookie jar, the site's transport.
ClientFactory = Callable[[], httpx.AsyncClient]
#: Told after each page: visitor, pages done for it, pages it will visit.
Progress = Callable[[Visitor, int, int], None]


class ScanError(ConsentGateError):
    """The site could not be scanned: its start page did not answer, or a request failed."""


@dataclass
class _Answer:
    url: str
    status: int
    content_type: str
    text: str
    cookies: list[tuple[str, str]] = field(default_factory=list)  # (header, url that set it)


class Scanner:
    """Scans one site; ``scan()`` returns the report.

    ``paths``, when given, are the pages to visit (no crawl); else the crawl starts at
    ``start_url``. ``declaration`` defaults to what ``<prefix>/preferences`` shows.
    ``trackers`` are the site's own registry entries, before the built-in ones.
    """

    def __init__(
        self,
        client: ClientFactory,
        start_url: str,
        *,
        paths: Sequence[str] | None = None,
        max_pages: int = 50,
        honour_robots: bool = True,
        declaration: Declaration | None = None,
        trackers: Sequence[Tracker] = (),
        progress: Progress | None = None,
        browser: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.client = client
        self.start_url = start_url
        parts = urlsplit(start_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScanError(f"{start_url!r} is not an http(s) URL")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname
        self.paths = list(paths) if paths is not None else None
        self.max_pages = max_pages
        self.honour_robots = honour_robots
        self.declaration = declaration
        self.registry = Registry.of((*trackers, *builtin_trackers()))
        self.progress = progress
        self.browser = browser
        self.timeout = timeout
        self.known = known_tracker_cookies()
        #: Seconds between requests: robots.txt's Crawl-delay, if it sets one.
        self.delay = 0.0
        self._last_request: float | None = None

    # -- the scan ---------------------------------------------------------

    async def scan(self) -> ScanReport:
        started = time.monotonic()
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        report = ScanReport(self.start_url, started_at, 0.0, "")
        raw_cookies: list[tuple[str, str, Visitor]] = []

        async with self.client() as new:
            pages, markup = await self._crawl(new, report, raw_cookies)
        first = pages[0]
        banner_form = _banner(markup.get(first))
        prefix = _prefix(banner_form, self.origin)

        declaration = self.declaration
        if declaration is None:
            async with self.client() as reader:
                url = self.origin + prefix + "/preferences"
                answer = await self._get(reader, url)
                declaration = Declaration.from_preferences_page(answer.text, url)
        report.declaration_source = declaration.source

        after_choice: dict[Visitor, tuple[str, bool]] = {}
        refused: dict[Visitor, str] = {}
        for visitor in ("reject_all", "accept_all"):
            async with self.client() as client:
                refusal = await self._choose(client, first, visitor, raw_cookies)
                if refusal is not None:
                    refused[visitor] = refusal
                for i, url in enumerate(pages):
                    answer = await self._visit(client, url, visitor, report, raw_cookies)
                    if i == 0 and refusal is None:
                        links = parse_page(answer.text).links if _is_html(answer) else []
                        after_choice[visitor] = (
                            url,
                            any(prefix + "/preferences" in h for h in links),
                        )
                    self._tell(visitor, i + 1, len(pages))

        report.cookies = self._cookies(raw_cookies, declaration)
        if self.browser:
            await self._browse(pages, report, declaration, refused)
        findings = [
            *banner_findings(BannerSeen(first, banner_form, prefix, after_choice, refused)),
            *resource_findings(report.resources, declaration),
            *cookie_findings(report.cookies),
            *stale_findings(declaration, report.cookies, report.resources, self.known),
        ]
        # Errors first; otherwise in the order seen.
        report.findings = sorted(findings, key=lambda f: f.severity != "error")
        report.duration = time.monotonic() - started
        return report

    async def _browse(
        self,
        pages: list[str],
        report: ScanReport,
        declaration: Declaration,
        refused: dict[Visitor, str],
    ) -> None:
        """Add what the visitors' browsers did: requests to other hosts, cookies set by scripts."""
        from ._browser import browse

        requests, cookies, not_clicked = await browse(self.origin, pages, self.timeout)
        for request in requests:
            parts = urlsplit(request.url)
            owner = self.registry.owner_of((parts.hostname or "").lower(), parts.path or "/")
            report.resources.append(
                ResourceSeen(
                    "request",
                    request.url,
                    request.page,
                    request.visitor,
                    owner.provider if owner else None,
                    owner.category if owner else None,
                    False,
                )
            )
        already = {(c.name, c.visitor) for c in report.cookies}
        for cookie in cookies:
            if (cookie.name, cookie.visitor) in already:
                continue
            declared_by, category, tracker = classify_cookie(cookie.name, declaration, self.known)
            report.cookies.append(
                CookieSeen(
                    cookie.name,
                    cookie.domain,
                    cookie.lifetime,
                    cookie.page,
                    cookie.visitor,
                    declared_by,
                    category,
                    tracker,
                )
            )
        for visitor, why in not_clicked.items():
            refused.setdefault(visitor, why)

    async def _crawl(
        self,
        client: httpx.AsyncClient,
        report: ScanReport,
        raw_cookies: list[tuple[str, str, Visitor]],
    ) -> tuple[list[str], dict[str, PageMarkup]]:
        """The new visitor's visit: the pages to see, and their markup."""
        robots = await self._robots(client) if self.honour_robots else None
        if self.paths is not None:
            queue = deque(self._absolute(p) for p in self.paths)
            follow = False
        else:
            queue = deque([self._absolute(self.start_url)])
            follow = True
        queued = set(queue)
        pages: list[str] = []
        markup: dict[str, PageMarkup] = {}
        prefix = DEFAULT_PREFIX
        sitemap_read = not follow
        limit = self.max_pages if follow else len(queue)
        while queue and len(pages) < limit:
            url = queue.popleft()
            if robots is not None and not robots.can_fetch(USER_AGENT, url):
                report.skipped.append(url)
                continue
            answer = await self._visit(client, url, "new", report, raw_cookies)
            pages.append(url)
            self._tell("new", len(pages), min(limit, len(pages) + len(queue)))
            if _is_html(answer):
                markup[url] = parse_page(answer.text)
                if len(pages) == 1:
                    prefix = _prefix(_banner(markup[url]), self.origin)
                if follow:
                    for href in markup[url].links:
                        link = self._same_origin(answer.url, href)
                        if link is None or _under(link, prefix):
                            continue
                        if link not in queued:
                            queued.add(link)
                            queue.append(link)
            if not sitemap_read:
                sitemap_read = True
                for link in await self._sitemap(client, robots):
                    if link not in queued and not _under(link, prefix):
                        queued.add(link)
                        queue.append(link)
        if not pages:
            raise ScanError(f"robots.txt allows none of the pages to scan at {self.origin}")
        return pages, markup

    async def _choose(
        self,
        client: httpx.AsyncClient,
        page: str,
        visitor: Visitor,
        raw_cookies: list[tuple[str, str, Visitor]],
    ) -> str | None:
        """Make the visitor's choice through the banner's form; what went wrong, or None."""
        answer = await self._get(client, page)
        form = _banner(parse_page(answer.text)) if _is_html(answer) else None
        if form is None:
            return "there is no banner to choose with"
        fields = [(name, value) for name, value in form.hidden if name]
        fields.append(("action", visitor))
        target = urljoin(answer.url, form.action or answer.url)
        if self._same_origin(answer.url, target) is None:
            return f"the form posts to another origin ({target})"
        try:
            response = await client.post(
                target, data=_grouped(fields), headers={"origin": self.origin}
            )
        except httpx.HTTPError as exc:
            raise ScanError(f"posting the banner's form at {target} failed: {exc}") from exc
        raw_cookies.extend(
            (header, page, visitor) for header in response.headers.get_list("set-cookie")
        )
        if response.status_code >= 400:
            return f"HTTP {response.status_code}"
        return None

    async def _visit(
        self,
        client: httpx.AsyncClient,
        url: str,
        visitor: Visitor,
        report: ScanReport,
        raw_cookies: list[tuple[str, str, Visitor]],
    ) -> _Answer:
        answer = await self._get(client, url)
        report.pages.append(PageSeen(url, visitor, answer.status, answer.content_type))
        raw_cookies.extend((header, url, visitor) for header, _ in answer.cookies)
        if _is_html(answer):
            report.resources.extend(self._resources(parse_page(answer.text), answer.url, visitor))
        return answer

    async def _get(self, client: httpx.AsyncClient, url: str) -> _Answer:
        """GET ``url``, following redirects on the site's origin only.

        Only text is read (HTML, XML, plain text), and at most ``MAX_BODY`` of it: a
        link to a video or a PDF costs its headers, not its download.
        """
        cookies: list[tuple[str, str]] = []
        for _ in range(MAX_REDIRECTS + 1):
            if self._last_request is not None and self.delay:
                await asyncio.sleep(max(0.0, self._last_request + self.delay - time.monotonic()))
            self._last_request = time.monotonic()
            try:
                async with client.stream("GET", url) as response:
                    content_type = _media_type(response)
                    body = await _read_text(response) if _is_text(content_type) else ""
            except httpx.HTTPError as exc:
                raise ScanError(f"GET {url} failed: {exc or type(exc).__name__}") from exc
            cookies += [(h, url) for h in response.headers.get_list("set-cookie")]
            location = response.headers.get("location")
            if response.is_redirect and location:
                following = self._same_origin(url, location)
                if following is None:
                    break
                url = following
                continue
            break
        return _Answer(url, response.status_code, content_type, body, cookies)

    # -- what the pages hold -----------------------------------------------

    def _resources(self, page: PageMarkup, url: str, visitor: Visitor) -> list[ResourceSeen]:
        found: list[ResourceSeen] = []
        for tag in page.resources:
            if tag.kind == "inline-script":
                for tracker in self.registry.signed(tag.text.encode("utf-8", "replace")):
                    found.append(
                        ResourceSeen(
                            tag.kind,
                            "",
                            url,
                            visitor,
                            tracker.provider,
                            tracker.category,
                            tag.blocked,
                        )
                    )
                continue
            absolute = urljoin(url, tag.url)
            parts = urlsplit(absolute)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                continue
            owner = self.registry.owner_of(parts.hostname.lower(), parts.path or "/")
            if owner is None and _first_party(parts.hostname.lower(), self.host):
                continue
            found.append(
                ResourceSeen(
                    tag.kind,
                    absolute,
                    url,
                    visitor,
                    owner.provider if owner else None,
                    owner.category if owner else None,
                    tag.blocked,
                )
            )
        return found

    def _cookies(
        self, raw: list[tuple[str, str, Visitor]], declaration: Declaration
    ) -> list[CookieSeen]:
        cookies: list[CookieSeen] = []
        now = datetime.now(UTC)
        for header, page, visitor in raw:
            cookie = parse_set_cookie(header, urlsplit(page).hostname or self.host, now)
            if cookie is None or cookie.deletes:
                continue
            declared_by, category, tracker = classify_cookie(cookie.name, declaration, self.known)
            cookies.append(
                CookieSeen(
                    cookie.name,
                    cookie.domain,
                    cookie.lifetime,
                    page,
                    visitor,
                    declared_by,
                    category,
                    tracker,
                )
            )
        return cookies

    # -- the site's map ----------------------------------------------------

    async def _robots(self, client: httpx.AsyncClient) -> RobotFileParser | None:
        answer = await self._get(client, self.origin + "/robots.txt")
        if answer.status != 200:
            return None
        robots = RobotFileParser()
        robots.parse(answer.text.splitlines())
        delay = robots.crawl_delay(USER_AGENT)
        if delay is not None:
            self.delay = float(delay)
        return robots

    async def _sitemap(
        self, client: httpx.AsyncClient, robots: RobotFileParser | None
    ) -> list[str]:
        """The pages the site's sitemaps list: ``/sitemap.xml`` and those robots.txt names,
        following sitemap indexes, at most ``MAX_SITEMAPS`` documents, on this origin."""
        named = robots.site_maps() if robots is not None else None
        queue = deque([self.origin + "/sitemap.xml", *(named or ())])
        read: set[str] = set()
        pages: list[str] = []
        while queue and len(read) < MAX_SITEMAPS:
            url = self._same_origin(self.origin, queue.popleft())
            if url is None or url in read:
                continue
            read.add(url)
            answer = await self._get(client, url)
            if answer.status != 200 or "xml" not in answer.content_type:
                continue
            locs = _SITEMAP_LOC.findall(answer.text)
            if "<sitemapindex" in answer.text:
                queue.extend(locs)
            else:
                pages.extend(locs)
        links = (self._same_origin(self.origin, page) for page in pages)
        return [link for link in links if link is not None]

    def _absolute(self, path: str) -> str:
        return urldefrag(urljoin(self.origin + "/", path)).url

    def _same_origin(self, base: str, href: str) -> str | None:
        """``href`` made absolute, without its fragment, if it is a page of this site."""
        url = urldefrag(urljoin(base, href.strip())).url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return None
        return url

    def _tell(self, visitor: Visitor, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(visitor, done, total)


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


def _is_text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.endswith(("xml", "+xml"))


async def _read_text(response: httpx.Response) -> str:
    """The body as text, cut at ``MAX_BODY`` bytes."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_BODY:
            del body[MAX_BODY:]
            break
    return body.decode(response.encoding or "utf-8", errors="replace")


def _is_html(answer: _Answer) -> bool:
    return answer.content_type in ("text/html", "application/xhtml+xml")


def _banner(page: PageMarkup | None) -> Form | None:
    forms = page.consent_forms() if page is not None else []
    return forms[0] if forms else None


def _prefix(form: Form | None, origin: str) -> str:
    """consentgate's prefix: where the banner posts."""
    if form is None or not form.action:
        return DEFAULT_PREFIX
    return urlsplit(urljoin(origin + "/", form.action)).path.rstrip("/") or DEFAULT_PREFIX


def _under(url: str, prefix: str) -> bool:
    """Whether ``url`` is one of consentgate's own routes, not a page of the site."""
    path = urlsplit(url).path
    return path == prefix or path.startswith(prefix + "/")


def _grouped(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped
