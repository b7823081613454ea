"""The blocker: the app's own tracker markup is inert until allowed, byte-identical after."""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from consentgate import ConfigurationError, ConsentConfig, ConsentState, Tracker
from consentgate._blocking import _TAG, BOUND, Blocker, Blocking, PageBlocker
from consentgate._registry import Registry, builtin_trackers
from consentgate._rewrite import PageRewrite
from consentgate.providers import GoogleAnalytics, GoogleTagManager, Provider, YouTube
from consentgate.testing import assert_no_tracking_before_consent

from .helpers import choose, client_for, make_app, make_config
from .tracker_corpus import CORPUS, GA4, GTM_HEAD, GTM_NOSCRIPT, YOUTUBE, Snippet, page_with

NOBODY = ConsentState(consent_id="x")
EVERYONE = ConsentState(
    consent_id="x", granted=frozenset({"preferences", "statistics", "marketing"})
)


def blocking(**overrides: Any) -> Blocking:
    return Blocking(make_config(**overrides))


def page_blocker(state: ConsentState = NOBODY, **overrides: Any) -> PageBlocker:
    return blocking(**overrides).page_of(state, "www.example.com", "/page")


class _Loads(HTMLParser):
    """What a browser would fetch or run from markup: executable scripts, and URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            executable = values.get("type", "").lower() in ("", "text/javascript", "module")
            self._in_script = executable
            if executable and "src" in values:
                self.urls.append(values["src"])
        elif tag in ("iframe", "img") and "src" in values:
            self.urls.append(values["src"])
        elif tag == "link" and "href" in values:
            self.urls.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def loads(html: str) -> _Loads:
    parser = _Loads()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(html: str, snippet: Snippet) -> None:
    found = loads(html)
    for url in found.urls:
        assert not any(host in url for host in snippet.hosts), url
    original_scripts = loads(snippet.html).scripts
    for script in found.scripts:
        assert script not in original_scripts, script


@pytest.mark.parametrize("snippet", CORPUS, ids=lambda s: s.name)
def test_each_snippet_is_inert_before_consent(snippet: Snippet) -> None:
    page = page_with(snippet).encode()
    out = page_blocker().whole(page).decode()
    assert out != page.decode()
    assert_inert(out, snippet)
    assert f'data-consent="{snippet.provider}"' in out or snippet.provider == "google-tag-manager"


@pytest.mark.parametrize("snippet", CORPUS, ids=lambda s: s.name)
def test_each_snippet_passes_byte_for_byte_once_its_category_is_granted(snippet: Snippet) -> None:
    page = page_with(snippet).encode()
    state = ConsentState(consent_id="x", granted=frozenset({snippet.category}))
    assert page_blocker(state).whole(page) == page


@pytest.mark.parametrize("snippet", CORPUS, ids=lambda s: s.name)
def test_each_snippet_passes_once_its_provider_alone_is_allowed(snippet: Snippet) -> None:
    page = page_with(snippet).encode()
    state = ConsentState(consent_id="x", providers=frozenset({snippet.provider}))
    assert page_blocker(state).whole(page) == page


def test_other_categories_do_not_release_a_snippet() -> None:
    page = page_with(GA4).encode()
    state = ConsentState(consent_id="x", granted=frozenset({"marketing", "preferences"}))
    assert_inert(page_blocker(state).whole(page).decode(), GA4)


def test_the_whole_corpus_on_one_page() -> None:
    page = page_with(*CORPUS).encode()
    out = page_blocker().whole(page).decode()
    for snippet in CORPUS:
        assert_inert(out, snippet)
    assert page_blocker(EVERYONE).whole(page) == page


def test_the_whole_corpus_behind_the_middleware_passes_the_testing_kit() -> None:
    """What the scanner sees of an app serving every vendor snippet: nothing before consent
    (or after Reject all), and each snippet's provider after Accept all."""
    corpus = page_with(*CORPUS)

    async def serve(request: Request) -> Response:
        return HTMLResponse(corpus)

    app = make_app(make_config(unknown_third_party="allow"), [Route("/", serve)])
    report = assert_no_tracking_before_consent(app, paths=["/"])
    accepted = {r.provider for r in report.resources if r.visitor == "accept_all"}
    assert {snippet.provider for snippet in CORPUS} <= accepted

    # The same app with blocking off fails the kit, naming every provider of the corpus.
    leaking = make_app(
        make_config(block_known_trackers=False, unknown_third_party="allow"), [Route("/", serve)]
    )
    with pytest.raises(AssertionError) as failed:
        assert_no_tracking_before_consent(leaking, paths=["/"])
    for snippet in CORPUS:
        assert f"loads {snippet.provider} " in str(failed.value)


def test_a_blocked_script_keeps_its_attributes_and_nonce() -> None:
    page = b'<script nonce="r4nd0m" type="module" async src="https://connect.facebook.net/x.js">'
    out = page_blocker().whole(page + b"</script>")
    assert out == (
        b'<script type="text/plain" data-consent="meta-pixel" data-consent-category="marketing"'
        b' data-consent-type="module" nonce="r4nd0m" async '
        b'src="https://connect.facebook.net/x.js"></script>'
    )


def test_a_blocked_embed_keeps_its_source_aside_and_is_hidden() -> None:
    out = page_blocker().whole(YOUTUBE.html.encode()).decode()
    assert 'data-consent-src="https://www.youtube.com/embed/dQw4w9WgXcQ?si=abc"' in out
    assert " src=" not in out.split("<iframe", 1)[1].split(">", 1)[0]
    assert "hidden" in out


def test_gtm_noscript_iframe_is_removed_whole() -> None:
    out = page_blocker().whole(GTM_NOSCRIPT.html.encode()).decode()
    assert "<noscript></noscript>" in out
    assert "iframe" not in out


def test_tracker_preloads_and_pixels_are_removed_and_others_kept() -> None:
    page = (
        b'<link rel="preconnect" href="https://www.googletagmanager.com">'
        b"<link rel='dns-prefetch' href='//connect.facebook.net' />"
        b'<link rel="stylesheet" href="https://fonts.example.net/a.css">'
        b'<link rel="preload" href="/app.js" as="script">'
        b'<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView" alt="">'
        b'<img src="https://cdn.example.net/logo.png" alt="logo">'
    )
    out = page_blocker().whole(page)
    assert out == (
        b'<link rel="stylesheet" href="https://fonts.example.net/a.css">'
        b'<link rel="preload" href="/app.js" as="script">'
        b'<img src="https://cdn.example.net/logo.png" alt="logo">'
    )


@pytest.mark.parametrize(
    "markup",
    [
        b'<script src="/static/app.js"></script>',
        b"<script>console.log('gtag is not called here')</script>",
        b'<script type="application/ld+json">{"@context":"https://schema.org","x":"fbq("}</script>',
        b'<script type="application/json">{"gtag(": 1}</script>',
        b'<img src="/logo.png" alt="fbq(">',
        b"<p>Call fbq( or gtag( in your own code</p>",
        b'<iframe src="/embedded.html"></iframe>',
        b"<script>myhj('x'); window.xclarity(1)</script>",
    ],
)
def test_markup_of_nobody_passes_untouched(markup: bytes) -> None:
    assert page_blocker().whole(markup) == markup


def test_a_script_carrying_two_providers_needs_both() -> None:
    page = b"<script>fbq('init','1'); _linkedin_partner_id = '2';</script>"
    meta_only = ConsentState(consent_id="x", providers=frozenset({"meta-pixel"}))
    out = page_blocker(meta_only).whole(page)
    assert b'data-consent="linkedin-insight"' in out
    both = ConsentState(consent_id="x", providers=frozenset({"meta-pixel", "linkedin-insight"}))
    assert page_blocker(both).whole(page) == page


def test_gtags_own_data_layer_push_is_not_gtm() -> None:
    statistics = ConsentState(consent_id="x", granted=frozenset({"statistics"}))
    page = page_with(GA4).encode()
    assert page_blocker(statistics).whole(page) == page
    # A bare data layer push is GTM's, which needs marketing.
    gtm_event = b"<script>dataLayer.push({event: 'signup'});</script>"
    assert b"google-tag-manager" in page_blocker(statistics).whole(gtm_event)


# -- opt-in markup ---------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "allowed", "expected"),
    [
        (
            b'<script type="text/plain" data-consent="statistics" src="/a.js"></script>',
            "statistics",
            b'<script data-consent="statistics" src="/a.js"></script>',
        ),
        (
            b'<script type="text/plain" data-consent="youtube">yt()</script>',
            "marketing",
            b'<script data-consent="youtube">yt()</script>',
        ),
        (
            b'<script data-consent-type="module" type="text/plain" data-consent="statistics">'
            b"x()</script>",
            "statistics",
            b'<script data-consent-type="module" type="module" data-consent="statistics">'
            b"x()</script>",
        ),
        (
            # CookieConsent v3's markup, as sites migrating from it have it.
            b'<script type="text/plain" data-category="analytics" data-service="Plausible">'
            b"x()</script>",
            "statistics",
            b'<script data-category="analytics" data-service="Plausible">x()</script>',
        ),
        (
            b'<iframe data-consent-src="https://maps.example.net/" data-consent="marketing">'
            b"</iframe>",
            "marketing",
            b'<iframe src="https://maps.example.net/" data-consent="marketing"></iframe>',
        ),
    ],
)
def test_opt_in_markup_is_switched_on_once_allowed(
    markup: bytes, allowed: str, expected: bytes
) -> None:
    assert page_blocker().whole(markup) == markup
    state = ConsentState(consent_id="x", granted=frozenset({allowed}))
    assert page_blocker(state).whole(markup) == expected


def test_opt_in_markup_naming_nothing_known_stays_off() -> None:
    markup = b'<script type="text/plain" data-consent="no-such-thing">x()</script>'
    assert page_blocker(EVERYONE).whole(markup) == markup


# -- unknown third parties ---------------------------------------------------

THIRD_PARTY = b'<script src="https://cdn.unknown.example/widget.js"></script>'


def test_unknown_third_party_is_logged_once_per_host(caplog: pytest.LogCaptureFixture) -> None:
    shared = blocking()
    with caplog.at_level(logging.WARNING, "consentgate"):
        for path in ("/one", "/two"):
            out = shared.page_of(NOBODY, "www.example.com", path).whole(THIRD_PARTY)
            assert out == THIRD_PARTY
    warnings = [r.getMessage() for r in caplog.records if "cdn.unknown.example" in r.getMessage()]
    assert len(warnings) == 1
    assert "/one" in warnings[0]


def test_unknown_third_party_blocked_as_marketing() -> None:
    out = page_blocker(unknown_third_party="block").whole(THIRD_PARTY)
    assert b'type="text/plain" data-consent="marketing"' in out
    marketing = ConsentState(consent_id="x", granted=frozenset({"marketing"}))
    assert page_blocker(marketing, unknown_third_party="block").whole(THIRD_PARTY) == THIRD_PARTY


def test_first_party_and_declared_hosts_are_not_unknown(caplog: pytest.LogCaptureFixture) -> None:
    markup = (
        b'<script src="https://static.example.com/a.js"></script>'
        b'<script src="//www.example.com/b.js"></script>'
        b'<script src="https://cdn.jsdelivr.net/npm/x.js"></script>'
    )
    cdn = Tracker(provider="jsdelivr", category="necessary", urls=("cdn.jsdelivr.net",))
    with caplog.at_level(logging.WARNING, "consentgate"):
        out = page_blocker(unknown_third_party="block", trackers=[cdn]).whole(markup)
    assert out == markup
    assert not caplog.records


def test_allow_passes_unknown_third_parties_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "consentgate"):
        assert page_blocker(unknown_third_party="allow").whole(THIRD_PARTY) == THIRD_PARTY
    assert not caplog.records


# -- the registry from the config -------------------------------------------


def test_a_sites_own_tracker_is_blocked() -> None:
    plausible = Tracker(
        provider="plausible", category="statistics", urls=("plausible.io/js/",), signatures=()
    )
    markup = b'<script defer data-domain="example.dk" src="https://plausible.io/js/script.js">'
    out = page_blocker(trackers=[plausible]).whole(markup)
    assert out.startswith(b'<script type="text/plain" data-consent="plausible"')


def test_block_known_trackers_off_leaves_the_builtins_alone() -> None:
    page = page_with(GA4).encode()
    assert page_blocker(block_known_trackers=False, unknown_third_party="allow").whole(page) == page


def test_a_configured_provider_decides_the_category() -> None:
    video = Provider(name="youtube", title="YouTube", category="preferences")
    preferences = ConsentState(consent_id="x", granted=frozenset({"preferences"}))
    page = YOUTUBE.html.encode()
    assert page_blocker(preferences, providers=[video]).whole(page) == page


@pytest.mark.parametrize(
    ("tracker", "field"),
    [
        ({"provider": "Bad Name", "category": "marketing", "urls": ("x.example",)}, "provider"),
        ({"provider": "x", "category": "marketing", "urls": ("https://x.example",)}, "urls[0]"),
        ({"provider": "x", "category": "marketing", "signatures": ("a",)}, "signatures[0]"),
        ({"provider": "x", "category": "nope", "urls": ("x.example",)}, "category"),
        ({"provider": "x", "category": "marketing", "urls": ("x.ex",), "embed": "audio"}, "embed"),
    ],
)
def test_bad_tracker_entries_are_named(tracker: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(trackers=[Tracker(**tracker)])
    assert caught.value.field == f"trackers[0].{field}"


def test_a_tracker_matching_nothing_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="matches nothing"):
        make_config(trackers=[Tracker(provider="x", category="marketing")])


def test_trackers_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        'secret_key = "' + "s" * 40 + '"\nunknown_third_party = "block"\n'
        "[[trackers]]\n"
        'provider = "plausible"\ncategory = "statistics"\nurls = ["plausible.io"]\n'
        'signatures = ["plausible("]\n',
        encoding="utf-8",
    )
    config = ConsentConfig.from_toml(path)
    assert config.unknown_third_party == "block"
    assert config.trackers == (
        Tracker(
            provider="plausible",
            category="statistics",
            urls=("plausible.io",),
            signatures=("plausible(",),
        ),
    )


def test_the_builtin_registry_is_valid_and_names_each_provider_once_per_url() -> None:
    trackers = builtin_trackers()
    registry = Registry.of(trackers)
    for tracker in trackers:
        for url in tracker.urls:
            host, _, path = url.partition("/")
            owner = registry.owner_of(host, "/" + path)
            assert owner is not None and owner.provider == tracker.provider, url


# -- streams, bounds and gzip --------------------------------------------------


def stream(blocker: PageBlocker, page: bytes, cuts: list[int]) -> bytes:
    out = []
    previous = 0
    for cut in [*sorted(cuts), len(page)]:
        out.append(blocker.feed(page[previous:cut]))
        previous = cut
    out.append(blocker.finish())
    return b"".join(out)


CORPUS_PAGE = page_with(*CORPUS).encode()


def test_every_single_split_of_the_corpus_gives_the_whole_output() -> None:
    config = make_config()
    whole = Blocking(config).page_of(NOBODY, "www.example.com", "/").whole(CORPUS_PAGE)
    shared = Blocking(config)
    for cut in range(len(CORPUS_PAGE) + 1):
        blocker = shared.page_of(NOBODY, "www.example.com", "/")
        assert stream(blocker, CORPUS_PAGE, [cut]) == whole, cut


fragments = st.sampled_from(
    [
        *(s.html.encode() for s in CORPUS),
        b"<p>text</p>",
        b'<script src="/app.js"></script>',
        b"<script>var a = '<img src=x>';</script>",
        b'<img alt="a > b" src="/x.png">',
        b'<img alt="<script>fbq(\'in an attribute\')</script>" src="/x.png">',
        b'<link rel="preconnect" href="https://www.googletagmanager.com">',
        b'<script type="text/plain" data-consent="statistics">x()</script>',
        b"<SCRIPT>fbq('x')</SCRIPT>",
        b"<scr",
        b"<iframe src='https://player.vimeo.com/video/1'",
        b'"',
        b">",
        "<p>æøå</p>".encode(),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(fragments, max_size=12),
    granted=st.sets(st.sampled_from(["statistics", "marketing", "preferences"])),
    bound=st.sampled_from([64, 300, BOUND]),
    data=st.data(),
)
def test_any_split_gives_the_whole_output(
    parts: list[bytes], granted: set[str], bound: int, data: st.DataObject
) -> None:
    page = b"".join(parts)
    state = ConsentState(consent_id="x", granted=frozenset(granted))
    shared = blocking()
    shared.blocker = Blocker(shared.registry, unknown="warn", bound=bound)
    whole = shared.page_of(state, "www.example.com", "/").whole(page)
    cuts = data.draw(st.lists(st.integers(0, len(page)), max_size=8))
    streamed = stream(shared.page_of(state, "www.example.com", "/"), page, cuts)
    assert streamed == whole


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(fragments, max_size=12), data=st.data())
def test_a_stream_holds_back_at_most_the_bound(parts: list[bytes], data: st.DataObject) -> None:
    page = b"".join(parts) + b"x" * 200
    shared = blocking()
    shared.blocker = Blocker(shared.registry, unknown="warn", bound=100)
    blocker = shared.page_of(NOBODY, "www.example.com", "/")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(page)), max_size=8)))
    fed = sent = 0
    previous = 0
    for cut in [*cuts, len(page)]:
        sent += len(blocker.feed(page[previous:cut]))
        fed += cut - previous
        previous = cut
        assert len(blocker._pending) <= 100 + 16


tag_names = st.sampled_from(
    [b"script", b"SCRIPT", b"Script", b"iframe", b"IFrame", b"img", b"IMG", b"link", b"p"]
)
tag_parts = st.sampled_from(
    [
        b' src="/app.js"',
        b" src=/app.js",
        b' src="https://www.googletagmanager.com/gtag/js?id=G-1"',
        b" src=//connect.facebook.net/en_US/fbevents.js",
        b' SRC="HTTPS://WWW.YOUTUBE.COM/embed/x"',
        b" src='https://www.youtube.com/embed/x'",
        b' src="https://cdn.example.org/lib.js"',
        b' src="https://www.example.com/own.js"',
        b' src="///www.facebook.com/tr"',
        b' src="https://user@www.facebook.com/tr"',
        b' src="https:\\\\www.facebook.com\\tr"',
        b" src=&#47;&#47;www.facebook.com/tr",
        b' src = "/spaced.js"',
        b" a= src=y",
        b' x-src="//www.facebook.com/tr"',
        b' data-src="/lazy.js"',
        b' alt="a > b"',
        b' title="a src=b"',
        b' alt="<script>fbq(1)</script>"',
        b' a"b c="x>y"',
        b' data-consent="marketing"',
        b' DATA-CATEGORY="analytics"',
        b' data-consent-src="https://www.youtube.com/embed/x"',
        b' type="text/plain"',
        b' type="module"',
        b' rel="preconnect" href="https://www.googletagmanager.com"',
        b' rel="preload" href="//www.google-analytics.com/analytics.js"',
        b' rel="stylesheet" href="/site.css"',
        b' href="https://www.youtube.com"',
        b" defer",
        b" /",
        b"\n",
        b'"',
        b"'",
    ]
)
tag_ends = st.sampled_from(
    [b">", b"/>", b"", b">fbq('init', '1');</script>", b"></iframe>", b">x()</script>"]
)


def same_as_every_tag_scanned(page: bytes, state: ConsentState, bound: int = BOUND) -> None:
    """The prefilter decides in the regular-expression engine which tags need no look;
    the scan of every tag, as the blocker did before it, must come to the same page."""
    shared = blocking()
    shared.blocker = Blocker(shared.registry, unknown="block", bound=bound)
    every_tag = Blocker(shared.registry, unknown="block", bound=bound)
    every_tag.next_to_look_at = _TAG.search  # type: ignore[method-assign,assignment]
    fast = shared.page_of(state, "www.example.com", "/").whole(page)
    shared.blocker = every_tag
    assert fast == shared.page_of(state, "www.example.com", "/").whole(page)


@settings(max_examples=400, deadline=None)
@given(
    tags=st.lists(
        st.tuples(tag_names, st.lists(tag_parts, max_size=5), tag_ends), min_size=1, max_size=4
    ),
    everyone=st.booleans(),
    bound=st.sampled_from([40, BOUND]),
)
def test_the_tags_the_prefilter_skips_are_those_the_scan_would_keep(
    tags: list[tuple[bytes, list[bytes], bytes]], everyone: bool, bound: int
) -> None:
    page = b"<p>".join(b"<" + name + b"".join(parts) + end for name, parts, end in tags)
    same_as_every_tag_scanned(page, EVERYONE if everyone else NOBODY, bound)


@pytest.mark.parametrize(
    "page",
    [
        b"<script title=\"a src=b\">fbq('init', '1');</script>",
        b"<script a= src=y>fbq('init', '1');</script>",
        b'<img a"b c="x>y" src="https://www.facebook.com/tr?id=1">',
        b'<img src="https://user@www.facebook.com/tr?id=1">',
        b'<link rel="preconnect" href="https://WWW.GOOGLETAGMANAGER.COM">',
        b'<iframe data-consent-src="https://www.youtube.com/embed/x" data-consent="youtube">',
        b"<SCRIPT>fbq('init', '1');</SCRIPT>",
        b'<script src="/a.js" x=">"></script><script>fbq(1)</script>',
    ],
)
def test_the_prefilter_looks_at_tags_only_a_tokenizer_reads_right(page: bytes) -> None:
    same_as_every_tag_scanned(page, NOBODY)
    same_as_every_tag_scanned(page, NOBODY, bound=40)


def test_a_script_longer_than_the_bound_is_blocked_whole() -> None:
    shared = blocking()
    shared.blocker = Blocker(shared.registry, unknown="warn", bound=1000)
    script = b"<script>" + b"var a = 1;\n" * 200 + b"fbq('init', '1');</script>"
    out = shared.page_of(NOBODY, "www.example.com", "/").whole(script)
    assert out.startswith(b'<script type="text/plain" data-consent="marketing"')
    assert out.endswith(b"fbq('init', '1');</script>")
    streamed = stream(shared.page_of(NOBODY, "www.example.com", "/"), script, [100, 900, 1500])
    assert streamed == out
    marketing = ConsentState(consent_id="x", granted=frozenset({"marketing"}))
    assert shared.page_of(marketing, "www.example.com", "/").whole(script) == script


def test_an_endless_start_tag_never_becomes_a_tag() -> None:
    shared = blocking()
    shared.blocker = Blocker(shared.registry, unknown="warn", bound=100)
    page = b'<script src="https://connect.facebook.net/' + b"a" * 200
    out = shared.page_of(NOBODY, "www.example.com", "/").whole(page)
    assert out.startswith(b"&lt;script")


def test_gzip_bodies_are_blocked_too() -> None:
    page = page_with(GA4, GTM_HEAD).encode()
    rewrite = PageRewrite(b"", b"", page_blocker())
    out = gzip.decompress(rewrite.whole(gzip.compress(page), gzip=True)).decode()
    assert_inert(out, GA4)
    assert_inert(out, GTM_HEAD)
    streamed = rewrite_stream(page, 7)
    assert streamed == out


def rewrite_stream(page: bytes, pieces: int) -> str:
    rewriter = PageRewrite(b"", b"", page_blocker()).stream(gzip=True)
    compressed = gzip.compress(page)
    step = max(1, len(compressed) // pieces)
    out = b"".join(rewriter.feed(compressed[i : i + step]) for i in range(0, len(compressed), step))
    return gzip.decompress(out + rewriter.finish()).decode()


# -- through the middleware ------------------------------------------------------

SITE_PAGE = page_with(GA4, GTM_HEAD, GTM_NOSCRIPT, YOUTUBE)


async def site_page(request: Request) -> Response:
    return HTMLResponse(SITE_PAGE)


async def site_stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        data = SITE_PAGE.encode()
        for i in range(0, len(data), 37):
            yield data[i : i + 37]

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def site_gzip(request: Request) -> Response:
    return Response(
        gzip.compress(SITE_PAGE.encode()),
        media_type="text/html; charset=utf-8",
        headers={"content-encoding": "gzip"},
    )


def site_app(**overrides: Any) -> Any:
    routes = [
        Route("/page", site_page),
        Route("/stream", site_stream),
        Route("/gzip", site_gzip),
    ]
    declared = [GoogleAnalytics("G-A1B2C3D4E5", inject=False), GoogleTagManager(), YouTube()]
    return make_app(make_config(providers=declared, **overrides), routes)


def app_markup(html: str) -> str:
    """The page without what consentgate inserts (its stylesheet, banner, script, link)."""
    html = re.sub(r'<link rel="stylesheet" href="/_consent/static/[^"]+">', "", html)
    html = re.sub(r'<script src="/_consent/static/[^"]+" defer></script>', "", html)
    html = re.sub(r'<div id="consentgate-banner".*?</div>\s*(?=</body>)', "", html, flags=re.S)
    return html


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/page", "/stream", "/gzip"])
async def test_a_site_with_ga4_gtm_and_youtube_sends_none_before_consent(path: str) -> None:
    async with client_for(site_app()) as client:
        before = (await client.get(path)).text
        for snippet in (GA4, GTM_HEAD, GTM_NOSCRIPT, YOUTUBE):
            assert_inert(before, snippet)
        assert "consentgate-banner" in before
        await choose(client, "reject_all")
        rejected = (await client.get(path)).text
        for snippet in (GA4, GTM_HEAD, GTM_NOSCRIPT, YOUTUBE):
            assert_inert(rejected, snippet)
        await choose(client, "accept_all")
        accepted = (await client.get(path)).text
    for snippet in (GA4, GTM_HEAD, GTM_NOSCRIPT, YOUTUBE):
        assert snippet.html in accepted
    assert "data-consent" not in accepted


@pytest.mark.anyio
async def test_excluded_paths_are_not_blocked() -> None:
    async with client_for(site_app(exclude_paths=["/page"])) as client:
        assert (await client.get("/page")).text == SITE_PAGE


def test_a_url_written_with_character_references_is_still_seen() -> None:
    markup = b'<script src="https:&#x2F;&#x2F;connect.facebook.net/en_US/fbevents.js"></script>'
    assert b'data-consent="meta-pixel"' in page_blocker().whole(markup)


@pytest.mark.parametrize(
    "pixel",
    [
        b"<img alt='a>b' src=\"https://www.facebook.com/tr?id=1\">",
        b'<img alt="x" title="a>b" src="https://www.facebook.com/tr?id=1">',
        b'<img alt="don\'t" src="https://www.facebook.com/tr?id=1">',
        b"<img src=https://www.facebook.com/tr?id=1 alt=pixel>",
    ],
)
def test_a_greater_than_sign_in_a_quoted_value_does_not_end_the_tag(pixel: bytes) -> None:
    assert page_blocker().whole(b"<p>a</p>" + pixel + b"<p>b</p>") == b"<p>a</p><p>b</p>"


@settings(max_examples=100, deadline=None)
@given(
    snippets=st.lists(st.sampled_from(CORPUS), min_size=1, max_size=6),
    noise=st.lists(
        st.sampled_from(
            [
                "<p>text</p>",
                '<script src="/app.js"></script>',
                "<script>var a = '<img src=x>';</script>",
                '<img alt="a > b" src="/x.png">',
                "<SCRIPT>console.log(1)</SCRIPT>",
                "<!-- <script src='https://connect.facebook.net/x.js'></script> -->",
            ]
        ),
        max_size=6,
    ),
    data=st.data(),
)
def test_no_mix_of_snippets_lets_a_tracker_through(
    snippets: list[Snippet], noise: list[str], data: st.DataObject
) -> None:
    parts = [s.html for s in snippets] + noise
    order = data.draw(st.permutations(parts))
    page = page_with().replace("<p>Some text.</p>", "\n".join(order)).encode()
    out = page_blocker().whole(page).decode()
    for snippet in snippets:
        assert_inert(out, snippet)


@pytest.mark.parametrize(
    ("markup", "provider"),
    [
        (
            b"<script>!function (w, d, t) { w.TiktokAnalyticsObject=t; ttq.load('C1');}</script>",
            "tiktok-pixel",
        ),
        (b"<script>pintrk('load', '2612345678901');pintrk('page');</script>", "pinterest-tag"),
        (
            b"<script>(function(w,d,t,r,u){w[u]=w[u]||[];})(window,document,'script',"
            b"'//bat.bing.com/bat.js','uetq');</script>",
            "microsoft-advertising",
        ),
        (b"<script>twq('config','o1abc');</script>", "x-pixel"),
        (
            b'<script id="hs-script-loader" async defer src="//js.hs-scripts.com/123.js"></script>',
            "hubspot",
        ),
        (b'<script async src="https://platform.twitter.com/widgets.js"></script>', "x-embeds"),
        (
            b'<iframe src="https://open.spotify.com/embed/track/abc" width="100%" height="152">'
            b"</iframe>",
            "spotify",
        ),
    ],
)
def test_more_trackers_from_the_registry(markup: bytes, provider: str) -> None:
    assert f'data-consent="{provider}"'.encode() in page_blocker().whole(markup)
    assert page_blocker(EVERYONE).whole(markup) == markup


def test_tracker_lists_are_taken_as_given_in_python() -> None:
    tracker = Tracker(provider="plausible", category="statistics", urls=["plausible.io/js/"])
    assert tracker.urls == ("plausible.io/js/",)
    assert make_config(trackers=[tracker]).trackers == (tracker,)
    with pytest.raises(ConfigurationError) as caught:
        make_config(trackers=[Tracker(provider="x", category="marketing", urls="x.example")])
    assert caught.value.field == "trackers[0].urls"


def test_a_long_inline_script_in_many_chunks_gives_the_whole_output() -> None:
    script = b"<script>" + b"var a = '</scrip' + 't>';\n" * 8000 + b"fbq('init');</script><p>x</p>"
    whole = page_blocker().whole(script)
    assert b'data-consent="meta-pixel"' in whole
    cuts = list(range(0, len(script), 1000))
    assert stream(page_blocker(), script, cuts) == whole
