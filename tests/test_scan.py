"""The scanner, in process: what three visitors get, and what it makes of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.leaky_site.app import app as leaky_app
from examples.starlette_site.app import app as demo_app, config as demo_config

from consentgate.scan import Declaration, Scanner
from consentgate.scan._cookies import parse_set_cookie
from consentgate.scan._html import parse_page
from tests.helpers import make_config
from tests.scan_sites import (
    META_PIXEL,
    html_page,
    redirect_route,
    scan,
    site,
    subjects,
    text_route,
)
from tests.servers import ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo keeps its log in the folder it runs in.
    monkeypatch.chdir(tmp_path)


async def test_the_demo_is_clean() -> None:
    report = await scan(demo_app)
    assert report.findings == []
    assert report.clean
    paths = {page.url.removeprefix("http://testserver") for page in report.pages}
    assert {"/", "/services", "/contact", "/video", "/privacy"} <= paths
    # Each visitor saw every page; the new visitor got no cookie, the others only the choice.
    for visitor in ("new", "reject_all", "accept_all"):
        assert {p.url for p in report.pages if p.visitor == visitor} == {
            p.url for p in report.pages if p.visitor == "new"
        }
    assert [(c.name, c.visitor) for c in report.cookies] == [
        ("consentgate", "reject_all"),
        ("consentgate", "accept_all"),
    ]
    # What consentgate injects after Accept all is seen, and is the declared providers'.
    accepted = {r.provider for r in report.resources if r.visitor == "accept_all"}
    assert {"google-analytics", "jetpack-stats", "youtube"} <= accepted


async def test_the_leaky_site_has_each_planted_problem() -> None:
    report = await scan(leaky_app)
    assert subjects(report, "violation") == {
        ("meta-pixel", "new"),
        ("meta-pixel", "reject_all"),
        ("_fbp", "new"),
        ("_fbp", "reject_all"),
    }
    assert {subject for subject, _ in subjects(report, "undeclared")} == {"_fbp", "meta-pixel"}
    assert subjects(report, "stale") == {("ab_variant", None)}
    assert subjects(report, "banner") == set()
    assert not report.clean
    fbp = next(c for c in report.cookies if c.name == "_fbp")
    assert (fbp.lifetime, fbp.declared_by, fbp.tracker) == (90 * 24 * 3600, None, "meta-pixel")


async def test_markup_the_middleware_made_inert_is_no_violation() -> None:
    pages = {"/": html_page('<iframe src="https://www.youtube.com/embed/x"></iframe>', META_PIXEL)}
    blocked = await scan(site(pages))
    assert subjects(blocked, "violation") == set()
    before = [r for r in blocked.resources if r.visitor != "accept_all"]
    assert {(r.provider, r.blocked) for r in before} == {("meta-pixel", True), ("youtube", True)}
    after = {(r.provider, r.blocked) for r in blocked.resources if r.visitor == "accept_all"}
    assert {("meta-pixel", False), ("youtube", False)} <= after

    # The same page with blocking off: every tag loads, for every visitor.
    leaking = await scan(site(pages, make_config(block_known_trackers=False)))
    assert subjects(leaking, "violation") == {
        (provider, visitor)
        for provider in ("meta-pixel", "youtube")
        for visitor in ("new", "reject_all")
    }


async def test_opt_in_markup_written_inert_is_no_violation() -> None:
    pages = {
        "/": html_page(
            '<script type="text/plain" data-consent="marketing" '
            'src="https://connect.facebook.net/en_US/fbevents.js"></script>'
            '<iframe data-consent-src="https://player.vimeo.com/video/1" '
            'data-consent="marketing"></iframe>'
        )
    }
    report = await scan(site(pages, make_config(block_known_trackers=False)))
    assert subjects(report, "violation") == set()
    assert {r.blocked for r in report.resources if r.visitor == "new"} == {True}


async def test_a_tracker_cookie_the_site_declares_is_dropped_so_no_violation() -> None:
    from consentgate.providers import MetaPixel

    pages = {"/": html_page("<p>Shop</p>")}
    cookies = {"/": {"_fbp": "fb.1.2.3"}}
    declared = await scan(site(pages, make_config(providers=[MetaPixel()]), cookies=cookies))
    assert subjects(declared, "violation") == set()
    assert subjects(declared, "undeclared") == set()
    assert [c.visitor for c in declared.cookies if c.name == "_fbp"] == ["accept_all"]

    undeclared = await scan(site(pages, cookies=cookies))
    assert ("_fbp", "new") in subjects(undeclared, "violation")


async def test_an_unknown_cookie_is_undeclared_but_no_violation() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}, cookies={"/": {"cart": "1"}}))
    assert subjects(report, "violation") == set()
    assert subjects(report, "undeclared") == {("cart", "new")}
    assert report.clean
    assert report.failing(frozenset({"undeclared"}))


async def test_banner_checks_of_a_banner_consentgate_did_not_make() -> None:
    # consentgate refuses to start with such a banner, so it is a hand-written one.
    banner = (
        '<form method="post" action="/_consent"><input type="hidden" name="csrf_token" '
        'value="t"><label><input type="checkbox" name="categories" value="statistics" checked>'
        ' Statistics</label><button name="action" value="accept_all">OK</button></form>'
    )
    report = await scan(site({"/": html_page(banner)}, middleware=False))
    assert subjects(report, "banner") == {
        ("reject-first-layer", "new"),
        ("nothing-pre-ticked", "new"),
        ("privacy-policy-link", "new"),
        # The form posts to a route that does not exist.
        ("choice-taken", "reject_all"),
        ("choice-taken", "accept_all"),
    }
    assert not report.clean

    good = await scan(site({"/": html_page("<p>Hei</p>")}))
    assert subjects(good, "banner") == set()


async def test_no_settings_link_after_a_choice() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}, make_config(show_settings_link=False)))
    assert subjects(report, "banner") == {
        ("settings-link", "reject_all"),
        ("settings-link", "accept_all"),
    }


async def test_a_site_without_a_banner() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}, middleware=False))
    assert subjects(report, "banner") == {("banner-shown", "new")}
    assert not report.clean


async def test_the_crawl_follows_links_and_the_sitemap_on_its_own_origin_only() -> None:
    pages = {
        "/": html_page(
            '<a href="/a#top">a</a> <a href="https://elsewhere.example/x">away</a> '
            '<a href="//elsewhere.example/y">away</a> <a href="mailto:x@example.dk">mail</a> '
            '<a href="/_consent/preferences">settings</a> <a href="/away">redirect</a>'
        ),
        "/a": html_page('<a href="/">home</a>'),
        "/only-in-sitemap": html_page("<p>deep</p>"),
    }
    sitemap = (
        "<?xml version='1.0'?><urlset><url><loc>http://testserver/only-in-sitemap</loc></url>"
        "<url><loc>https://elsewhere.example/z</loc></url></urlset>"
    )
    extra = [
        text_route("/sitemap.xml", sitemap, "application/xml"),
        redirect_route("/away", "https://elsewhere.example/landing"),
    ]
    requests: list[str] = []
    report = await scan(site(pages, extra=extra), requests)
    crawled = [p.url for p in report.pages if p.visitor == "new"]
    assert crawled[0] == "http://testserver/"
    assert sorted(crawled) == [
        "http://testserver/",
        "http://testserver/a",
        "http://testserver/away",
        "http://testserver/only-in-sitemap",
        "http://testserver/privatliv",  # the banner's privacy policy link
    ]
    assert all(url.startswith("http://testserver/") for url in requests)
    assert not any("/_consent/preferences" in url for url in crawled)


async def test_sitemaps_robots_txt_names_and_sitemap_indexes() -> None:
    pages = {"/": html_page("<p>no links</p>"), "/deep": html_page("<p>deep</p>")}
    index = (
        "<?xml version='1.0'?><sitemapindex><sitemap><loc>http://testserver/maps/pages.xml"
        "</loc></sitemap><sitemap><loc>https://elsewhere.example/map.xml</loc></sitemap>"
        "</sitemapindex>"
    )
    listed = "<urlset><url><loc>http://testserver/deep</loc></url></urlset>"
    extra = [
        text_route("/robots.txt", "Sitemap: http://testserver/maps/index.xml\n"),
        text_route("/maps/index.xml", index, "application/xml"),
        text_route("/maps/pages.xml", listed, "text/xml"),
    ]
    requests: list[str] = []
    report = await scan(site(pages, extra=extra), requests)
    assert "http://testserver/deep" in {p.url for p in report.pages}
    assert not any("elsewhere" in url for url in requests)


async def test_max_pages_bounds_the_crawl() -> None:
    pages = {f"/{i}": html_page(f'<a href="/{i + 1}">next</a>') for i in range(10)}
    pages["/"] = html_page('<a href="/0">start</a>')
    report = await scan(site(pages), max_pages=4)
    assert len([p for p in report.pages if p.visitor == "new"]) == 4
    assert len(report.pages) == 12


async def test_robots_txt_is_honoured_unless_ignored() -> None:
    pages = {
        "/": html_page('<a href="/private">p</a> <a href="/public">q</a>'),
        "/private": html_page("<p>no</p>"),
        "/public": html_page("<p>yes</p>"),
    }
    robots = text_route("/robots.txt", "User-agent: *\nDisallow: /private\n")
    app = site(pages, extra=[robots])
    honoured = await scan(app)
    assert honoured.skipped == ["http://testserver/private"]
    assert "http://testserver/private" not in {p.url for p in honoured.pages}
    ignored = await scan(app, honour_robots=False)
    assert "http://testserver/private" in {p.url for p in ignored.pages}


async def test_paths_visit_those_pages_only() -> None:
    pages = {"/": html_page('<a href="/b">b</a>'), "/a": html_page("a"), "/b": html_page("b")}
    report = await scan(site(pages), paths=["/a"])
    assert {p.url for p in report.pages} == {"http://testserver/a"}


async def test_declaration_from_the_preference_centre_matches_the_config() -> None:
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=demo_app), base_url="http://testserver"
    ) as client:
        page = (await client.get("/_consent/preferences")).text
    from_page = Declaration.from_preferences_page(page, "page")
    from_config = Declaration.from_config(demo_config, "config")
    assert {(e.category, e.cookie) for e in from_page.entries} == {
        (e.category, e.cookie) for e in from_config.entries
    }
    assert dict(from_page.provider_categories) == dict(from_config.provider_categories)


def test_set_cookie_lifetimes() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    expires = "Thu, 01 Jan 2026 01:00:00 GMT"
    assert parse_set_cookie("a=1; Max-Age=60; Expires=" + expires, "h", now).lifetime == 60  # type: ignore[union-attr]
    assert parse_set_cookie("a=1; Expires=" + expires, "h", now).lifetime == 3600  # type: ignore[union-attr]
    session = parse_set_cookie("a=1; Path=/; Domain=.Example.dk", "h", now)
    assert session is not None and (session.lifetime, session.domain) == (None, "example.dk")
    gone = parse_set_cookie('a=""; Max-Age=0', "h", now)
    assert gone is not None and gone.deletes
    assert parse_set_cookie("=1", "h", now) is None
    assert parse_set_cookie("no-equals", "h", now) is None


def test_what_the_parser_counts_as_loading() -> None:
    page = parse_page(
        '<script src="https://a.example/x.js"></script>'
        '<script type="module" src="https://a.example/m.js"></script>'
        '<script type="text/plain" src="https://a.example/inert.js"></script>'
        '<script type="application/ld+json">{"a": 1}</script>'
        "<script>gtag('js')</script>"
        '<link rel="preconnect" href="https://a.example"><link rel="canonical" href="https://b">'
        '<img src="https://px.example/p.gif"><iframe data-consent-src="https://v.example/"></iframe>'
    )
    assert [(r.kind, r.url, r.blocked) for r in page.resources] == [
        ("script", "https://a.example/x.js", False),
        ("script", "https://a.example/m.js", False),
        ("script", "https://a.example/inert.js", True),
        ("inline-script", "", True),
        ("inline-script", "", False),
        ("link", "https://a.example", False),
        ("img", "https://px.example/p.gif", False),
        ("iframe", "https://v.example/", True),
    ]


def test_the_middleware_and_the_log_commands_do_not_import_the_scanner() -> None:
    """The scan extra is optional: nothing but ``consentgate scan`` and the kit needs httpx."""
    code = (
        "import sys, consentgate, consentgate._cli, consentgate.contrib.django\n"
        "from examples.starlette_site.app import app\n"
        "assert consentgate._cli.main(['--version']) == 0\n"
        "loaded = {m for m in sys.modules if m.split('.')[0] == 'httpx' or "
        "m.startswith(('consentgate.scan', 'consentgate.testing'))}\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


class EndlessVideo(httpx.AsyncByteStream):
    """A body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.read += 1
            yield b"\0" * 65536


class WithVideo(httpx.AsyncBaseTransport):
    """The app, but ``/intro.mp4`` is an endless video (ASGITransport would buffer it)."""

    def __init__(self, app: Any, video: EndlessVideo) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.video = video

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/intro.mp4":
            return httpx.Response(200, headers={"content-type": "video/mp4"}, stream=self.video)
        return await self.inner.handle_async_request(request)


async def test_what_is_not_text_is_not_downloaded() -> None:
    video = EndlessVideo()
    app = site({"/": html_page('<a href="/intro.mp4">video</a>')})

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=WithVideo(app, video), base_url="http://testserver")

    report = await Scanner(client, "http://testserver/").scan()
    seen = [(p.status, p.content_type) for p in report.pages if p.url.endswith("/intro.mp4")]
    assert seen == [(200, "video/mp4")] * 3
    assert video.read == 0


@pytest.mark.slow
async def test_robots_crawl_delay_spaces_the_requests() -> None:
    robots = text_route("/robots.txt", "User-agent: *\nCrawl-delay: 1\n")
    requests: list[str] = []
    report = await scan(site({"/": html_page("<p>Hei</p>")}, extra=[robots]), requests, paths=["/"])
    # Every GET after robots.txt waited its turn (the two choices are posts, sent at once).
    gets = len(requests) - 2
    assert gets == 7
    assert report.duration >= 1.0 * (gets - 1)
