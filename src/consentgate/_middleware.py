"""ConsentMiddleware: the whole request path, in this one file.

    request ──> ConsentMiddleware.__call__
                  ├─ lifespan ──> app, with the consent log opened after its start-up
                  │               and closed after its shutdown (_lifespan)
                  ├─ not http (websocket) ──> app, untouched
                  ├─ path under the prefix ──> ConsentEndpoints (choose, preferences, me, static)
                  ├─ /.well-known/gpc.json ──> app, its 404 answered with GPC support (_gpc)
                  └─ anything else ──> app, with a per-request _ResponseGate as its send
                        (and at scope["consentgate"], where the app reads consent);
                        a page request with If-None-Match/-Modified-Since/-Range from a
                        visitor without a choice reaches the app without them:
                        start, not HTML, no Set-Cookie, consent unread ──> passed on as is
                        otherwise ──> read the visitor's headers (only now; cached;
                                      Sec-GPC among them);
                                      drop tracker Set-Cookies; add Vary: Cookie; for
                                      HTML: expire refused trackers' cookies, and plan the
                                      insertions (banner | snippets + settings link;
                                      one cached page plan per visitor, language, page
                                      and minute),
                                      with the nonce of the page's CSP on them, and
                                      the blocker of the app's own tracker markup
                                      (click-to-load placeholders for its embeds); a
                                      page rewritten or given a cookie is made private,
                                      and loses the app's validators (HEAD too)
                        body ──> one message: blocked, rewritten, new Content-Length
                                 several: streamed through the blocker and the HTML
                                 injector (gzip kept), never buffered whole

Everything that does not depend on the request (templates, the banner per
language, snippets per set of granted categories, cookie matchers) is prepared
in ``__init__``; what depends only on repeating values (a visitor's headers, a
page's path) is cached, bounded in entries and in bytes, and only while the
values are small (``_cache.Memo``). A response's headers are copied, not rebuilt,
when none of them needs rewriting (most pages send only a type and a length).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_to_bytes, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._assets import Assets
from ._blocking import Blocking, Placeholder
from ._cache import Memo
from ._config import ConsentConfig
from ._cookie import MAX_VALUE_BYTES, ConsentCookie
from ._csp import NonceSlots, page_nonces, without_nonces
from ._csrf import CsrfTokens
from ._embeds import EmbedPlaceholders
from ._endpoints import ConsentEndpoints
from ._firewall import CookieFirewall
from ._gpc import GPC_RESOURCE, GpcResource, sends_gpc
from ._http import hostname, split_cookies
from ._lifespan import Lifespan
from ._page_language import LanguageFromPage
from ._placement import check_placement
from ._render import ACCEPT_LANGUAGE_READ, BANNER_ROOM, Renderer, iso_week
from ._rewrite import PageRewrite, PlainRewriter, RewriteError, ascii_compatible_codec
from ._state import SCOPE_KEY, ConsentState, CookieReading, Headers, LazyConsent
from .log import ConsentLog, open_log

__all__ = ["ConsentMiddleware"]

logger = logging.getLogger(__name__)

#: Longer Host or Accept-Language headers are answered without remembering the visitor.
MAX_CACHED_HEADER = 256
#: Longer paths and queries get their banner or settings link without it being remembered.
MAX_CACHED_PATH = 2048
#: Any ASGI app: Starlette's, Litestar's and Django's types of one do not match each other.
AnyASGIApp = Callable[..., Awaitable[None]]

# Servers may offer to send files themselves; the body of an HTML file must pass here.
_BYPASS_EXTENSIONS = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
#: Passed untouched: no body, or a range of a body (a banner pasted into it would corrupt it).
_UNTOUCHED_STATUSES = frozenset({204, 206, 304})
#: Request headers that may turn a page into a 304 or a range of the app's own body.
_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since", b"if-range"})
#: What Sec-Fetch-Dest says when a browser asks for a page it will show.
_PAGE_DESTINATIONS = frozenset({b"document", b"iframe", b"frame"})
#: The app's validators and range support describe its body, not the rewritten one.
_DROPPED_WHEN_REWRITTEN = frozenset(
    {b"content-length", b"etag", b"last-modified", b"accept-ranges"}
)
#: Caching rules for CDNs only (Fastly, Cloudflare, Akamai), which override Cache-Control there.
_EDGE_CACHE_CONTROL = frozenset(
    {b"surrogate-control", b"cdn-cache-control", b"cloudflare-cdn-cache-control", b"edge-control"}
)
_name = itemgetter(0)
#: The request headers a visitor is read from.
_VISITOR_HEADERS = frozenset({b"cookie", b"host", b"accept-language", b"sec-gpc"})
# Response headers the gate reads; ASGI names are lowercase, others are lowered.
_CONTENT_TYPE, _SET_COOKIE, _CONTENT_ENCODING = "content-type", "set-cookie", "content-encoding"
_CSP, _CSP_REPORT_ONLY = "content-security-policy", "content-security-policy-report-only"
_WATCHED = {
    name.encode(): name
    for name in (_CONTENT_TYPE, _SET_COOKIE, _CONTENT_ENCODING, _CSP, _CSP_REPORT_ONLY)
}
#: Response headers ``_rewritten_headers`` may change or drop; a response without them
#: (most pages) has its header list copied, less the length of a rewritten body.
_REWRITTEN = frozenset(
    {b"set-cookie", b"vary", b"cache-control", *_DROPPED_WHEN_REWRITTEN, *_EDGE_CACHE_CONTROL}
    - {b"content-length"}
)
_VARY_COOKIE = (b"vary", b"Cookie")
_PRIVATE = (b"cache-control", b"private")


class ConsentMiddleware:
    """Gates tracker snippets and cookies behind the visitor's recorded consent.

    ``app.add_middleware(ConsentMiddleware, config=ConsentConfig(...))``. Put
    compression middleware (e.g. GZipMiddleware) outside it, or let it compress
    with gzip: consentgate rewrites gzip bodies but passes other encodings
    through untouched.

    .. versionadded:: 0.1
    """

    def __init__(self, app: AnyASGIApp, *, config: ConsentConfig) -> None:
        self.app: ASGIApp = app
        self.config = config
        self.log: ConsentLog = (
            config.store
            if isinstance(config.store, ConsentLog)
            else open_log(config.store, timeout=config.store_timeout, chain_key=config.chain_key)
        )
        self.assets = Assets(config.prefix)
        self.renderer = Renderer(config, self.assets)
        self.cookie = ConsentCookie(
            providers=self.renderer.provider_table,
            revisions=self.renderer.revisions.short_categories(),
            name=config.cookie_name,
            keys=config.signing_keys,
            policy_version=config.policy_version,
            categories=config.optional_categories,
            max_age=config.cookie_max_age,
            domain=config.cookie_domain,
            secure=config.cookie_secure,
        )
        self.csrf = CsrfTokens(config.signing_keys, config.csrf_max_age)
        self.firewall = CookieFirewall(config.providers, config.cookie_domain)
        self.endpoints = ConsentEndpoints(
            prefix=config.prefix,
            renderer=self.renderer,
            cookie=self.cookie,
            csrf=self.csrf,
            log=self.log,
            firewall=self.firewall,
            assets=self.assets,
            trusted_origins=config.trusted_origins,
        )
        self.lifespan = Lifespan(
            self.log, self.endpoints.retention, self.endpoints.outbox, self.endpoints.texts
        )
        self._prefix = config.prefix
        self._prefix_slash = config.prefix + "/"
        self._excluded = frozenset(p.rstrip("/") or "/" for p in config.exclude_paths)
        self._excluded_below = tuple(p.rstrip("/") + "/" for p in config.exclude_paths)
        self._stylesheet = self.renderer.stylesheet()
        self._gpc_resource = GpcResource() if config.gpc != "ignore" else None
        self._policy_path = _policy_path(config.privacy_policy_url)
        self.blocking = Blocking(config)
        self.embeds = EmbedPlaceholders(self.renderer)
        self._warned_encodings: set[bytes] = set()
        self._placement_checked = False
        if config.controller_name is None:
            logger.warning(
                "no controller_name configured; the banner says 'this site' "
                "where it should name who is responsible for the data (the data controller)"
            )
        if config.privacy_policy_url is None:
            logger.warning(
                "no privacy_policy_url configured; the banner links only to "
                "the cookie declaration, but visitors must be able to read your privacy policy"
            )
        self._cookie_name = config.cookie_name.encode("latin-1")
        # Per-request values repeat (the same few pages, languages and visitors):
        # remember the last results rather than rebuilding them, within bounds in
        # bytes, since the values come from what clients send.
        self._clock = time.time
        self._visitors = Memo(
            self._visitor,
            max_entries=1024,
            max_bytes=4 * 1024 * 1024,
            max_key_bytes=8 * 1024,
            value_bytes=_Visitor.bytes,
        )
        self._banner_fragments = Memo(
            self._render_banner,
            max_entries=512,
            max_bytes=8 * 1024 * 1024,
            max_key_bytes=MAX_CACHED_PATH + 512,
            value_bytes=_Insertion.bytes,
        )
        self._consented_fragments = Memo(
            self._render_consented,
            max_entries=512,
            max_bytes=8 * 1024 * 1024,
            max_key_bytes=MAX_CACHED_PATH + 1024,
            value_bytes=_Insertion.bytes,
        )
        # One visitor's page in one language and minute: its fragments (shared with
        # every visitor in the same state, above) and what else a page needs, in one
        # lookup.
        self._plans = Memo(
            self._plan,
            max_entries=1024,
            max_bytes=8 * 1024 * 1024,
            max_key_bytes=2 * MAX_CACHED_PATH + 512,
            value_bytes=_PagePlan.bytes_of,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.lifespan(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if not self._placement_checked:
            self._placement_checked = True
            check_placement(scope)
        path: str = scope["path"]
        if path == self._prefix or path.startswith(self._prefix_slash):
            await self.endpoints(scope, receive, send)
            return
        if path == GPC_RESOURCE and self._gpc_resource is not None:
            send = self._gpc_resource.fallback(scope, send)
        extensions = scope.get("extensions")
        if extensions and not _BYPASS_EXTENSIONS.isdisjoint(extensions):
            scope = {
                **scope,
                "extensions": {k: v for k, v in extensions.items() if k not in _BYPASS_EXTENSIONS},
            }
        gate = _ResponseGate(self, scope, send)
        if not _CONDITIONAL.isdisjoint(map(_name, scope["headers"])):
            scope = gate.scope = self._unconditional(scope, gate)
        scope[SCOPE_KEY] = gate
        try:
            await self.app(scope, receive, gate.send)
        finally:
            # The scope holds the gate, and the gate holds the scope and the server's
            # send (which holds the scope): undo that, or every request would wait
            # for the garbage collector to be freed.
            gate.scope, gate.send_next = None, _send_after_return

    def _unconditional(self, scope: Scope, gate: _ResponseGate) -> Scope:
        """The request without its conditions, when it asks for a page the visitor must get
        whole: one without a valid choice must see a fresh banner (its form's token
        expires), not a copy their browser kept. Assets keep their 304s."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if (
            not _asks_for_a_page(headers)
            or self._is_excluded(scope["path"])
            or not gate.visitor_for_gate().reading.state.needs_answer
        ):
            return scope
        dropped = _CONDITIONAL
        if b"if-range" in map(_name, headers):
            # A Range without its If-Range would be answered with a part of the page.
            dropped = _CONDITIONAL | {b"range"}
        return {**scope, "headers": [(n, v) for n, v in headers if n not in dropped]}

    def _is_excluded(self, path: str) -> bool:
        """Whether ``path`` is under ``exclude_paths``: its pages are never rewritten."""
        return path in self._excluded or path.startswith(self._excluded_below)

    # -- used by the per-request gate -------------------------------------

    def visitor_of(self, headers: Headers) -> _Visitor:
        """What the request's Cookie, Host, Accept-Language and Sec-GPC headers say; one pass.

        Of the cookies only what consentgate reads is kept: the consent cookie's
        value and the names of declared tracker cookies. Those, the Host and the
        Accept-Language are what a visitor is remembered by, and only while each
        is small: one client sending megabytes must not make the process keep them.
        """
        consent = host = accept_language = None
        names: list[bytes] = []
        gpc = False
        for name, value in headers:
            if name not in _VISITOR_HEADERS:  # most of a browser's dozen or so
                continue
            if name == b"cookie":
                # HTTP/2 may split cookies over several headers (RFC 9113 8.2.3).
                found, others = split_cookies(value, self._cookie_name)
                if found is not None:
                    consent = found
                names += others
            elif name == b"host":
                host = value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"sec-gpc":
                gpc = gpc or sends_gpc(value)  # several: any one of them is the signal
        if consent is not None and len(consent) > MAX_VALUE_BYTES:
            consent = None  # not one consentgate wrote: no choice
        trackers = self.firewall.trackers_in(names) if names and self.firewall else ()
        if (host is not None and len(host) > MAX_CACHED_HEADER) or (
            accept_language is not None and len(accept_language) > MAX_CACHED_HEADER
        ):
            return self._visitor(consent, trackers, host, accept_language, gpc, remembered=False)
        visitor = self._visitors(consent, trackers, host, accept_language, gpc)
        if visitor.valid_until < self._clock():  # their choice lapsed since it was cached
            visitor = self._visitor(consent, trackers, host, accept_language, gpc, remembered=False)
        return visitor

    def _visitor(
        self,
        consent: bytes | None,
        trackers: tuple[str, ...],
        host: bytes | None,
        accept_language: bytes | None,
        gpc: bool,
        *,
        remembered: bool = True,
    ) -> _Visitor:
        reading, valid_until = self.cookie.read_until(
            consent.decode("latin-1") if consent else None
        )
        name = hostname(host)
        expired = tuple(
            (b"set-cookie", value.encode("latin-1"))
            for value in self.firewall.expire(trackers, reading.state, name)
        )
        # What the negotiation reads, and one byte more to show where the read part ends.
        language = self.renderer.negotiate(
            accept_language[: ACCEPT_LANGUAGE_READ + 1].decode("latin-1")
            if accept_language
            else None
        )
        # The signal changes only what the banner says, and only where it refuses something.
        gpc = gpc and bool(self.renderer.gpc_refused)
        return _Visitor(reading, valid_until, language, name, expired, gpc, remembered)

    def insertions(
        self,
        scope: Scope,
        visitor: _Visitor,
        status: int,
        content_type: bytes,
        encoding: bytes,
        csp: bytes | None,
    ) -> PageRewrite | LanguageFromPage | None:
        """What this page gets before ``</head>``, before ``</body>`` and after ``<body>``
        (the banner), and the blocker for the app's own tracker markup; None to pass it
        untouched. Its texts are in the language ``language_from`` names.

        ``csp`` is the page's Content-Security-Policy: its nonces go on what is inserted.
        """
        if not 200 <= status < 300 and status < 400 or status in _UNTOUCHED_STATUSES:
            return None
        source = self.config.language_from
        if isinstance(source, str):
            if source == "accept-language":
                return self._rewrite(scope, visitor, visitor.language, content_type, encoding, csp)
            # "html-lang": whether the page is rewritten does not depend on its language,
            # only with what, which waits for its <html lang>.
            if self._codec_if_rewritten(scope["path"], content_type, encoding) is None:
                return None

            def rewrite_in(lang: str | None) -> PageRewrite:
                language = self.renderer.language_of(lang) or visitor.language
                rewrite = self._rewrite(scope, visitor, language, content_type, encoding, csp)
                assert rewrite is not None  # the page is rewritten: see above
                return rewrite

            return LanguageFromPage(rewrite_in)
        language = self.renderer.language_of(self._language_from_app(source, scope))
        return self._rewrite(
            scope, visitor, language or visitor.language, content_type, encoding, csp
        )

    def _rewrite(
        self,
        scope: Scope,
        visitor: _Visitor,
        language: str,
        content_type: bytes,
        encoding: bytes,
        csp: bytes | None,
    ) -> PageRewrite | None:
        """The page's rewrite with its texts in ``language``; None to pass it untouched."""
        path: str = scope["path"]
        raw_path: bytes | None = scope.get("raw_path")
        query: bytes = scope.get("query_string", b"")
        if visitor.remembered:
            minute = self.csrf.minute()
            plan = self._plans(
                visitor, language, minute, path, raw_path, query, content_type, encoding
            )
        else:
            plan = self._plan(visitor, language, 0, path, raw_path, query, content_type, encoding)
        if plan is None:
            return None
        insertion = plan.insertion
        nonces = page_nonces(csp) if csp is not None else None
        if nonces is None:
            head, body, top = insertion.head, insertion.body, insertion.top
            placeholder = plan.placeholder
        else:
            # The response's own nonces go on what is inserted: filled per response.
            nonced = insertion.nonced
            if nonced is None:
                head, body, top = insertion.head, insertion.body, insertion.top
            else:
                head, body, top = (
                    nonced[0].fill(nonces),
                    nonced[1].fill(nonces),
                    nonced[2].fill(nonces),
                )
            placeholder = self.embeds.for_page(
                language, plan.here, self.csrf.issue, plan.codec, nonces
            )
        blocker = self.blocking.page_of(visitor.reading.state, visitor.hostname, path, placeholder)
        return PageRewrite(head, body, blocker, top)

    def _plan(
        self,
        visitor: _Visitor,
        language: str,
        minute: int,
        path: str,
        raw_path: bytes | None,
        query: bytes,
        content_type: bytes,
        encoding: bytes,
    ) -> _PagePlan | None:
        """What a page of this visitor's gets in ``language``, as long as the minute (which
        gives the banner form's token, and the ISO week in snippets) lasts; None to pass it
        untouched.

        Cached in ``_plans``, so its arguments are everything the page's fragments depend
        on: the visitor (compared by identity: their choice, host, GPC signal), the
        language, the minute, the page's path and query, its Content-Type and encoding.
        """
        codec = self._codec_if_rewritten(path, content_type, encoding)
        if codec is None:
            return None
        page = raw_path or path.encode()
        here = _here(page, query)
        on_policy = unquote_to_bytes(page).rstrip(b"/") == self._policy_path
        insertion = self.fragments(visitor, language, here, on_policy, codec)
        placeholder = self.embeds.for_page(language, here, self.csrf.issue, codec, None)
        return _PagePlan(insertion, here, codec, placeholder)

    def _codec_if_rewritten(self, path: str, content_type: bytes, encoding: bytes) -> str | None:
        """The codec a page at ``path`` is rewritten in; None (warned about once, unless
        excluded) when it passes untouched."""
        if self._is_excluded(path):
            return None
        if encoding not in (b"", b"identity", b"gzip"):
            self._warn_once(encoding, f"Content-Encoding {encoding.decode('latin-1')!r}")
            return None
        codec = _codec_for(content_type)
        if codec is None:
            self._warn_once(content_type, f"Content-Type {content_type.decode('latin-1')!r}")
        return codec

    @staticmethod
    def _language_from_app(source: Callable[[Scope], str | None], scope: Scope) -> str | None:
        """What the site's ``language_from`` function says; its failure costs the page only
        its language (logged), never the banner."""
        try:
            return source(scope)
        except Exception:
            logger.exception("language_from failed; the banner follows Accept-Language")
            return None

    def fragments(
        self, visitor: _Visitor, language: str, here: str, on_policy: bool, codec: str
    ) -> _Insertion:
        """What goes before ``</head>``, before ``</body>`` and after ``<body>`` for this
        visitor on the page ``here`` (its path and query; ``on_policy``: the privacy
        policy's page), encoded, with texts in ``language``."""
        state = visitor.reading.state
        if state.needs_answer and self.renderer.choosable:
            # The host matters to a banner page only for snippets of what runs beside
            # it: without them, every host shares one entry.
            runs = bool(state.providers or state.granted)
            return self._banner_fragments(
                state.granted if state.has_choice else frozenset(),
                state.providers,
                visitor.reading.lapsed_from if state.has_choice else (),
                language,
                here,
                on_policy,
                visitor.hostname if runs else "",
                self.csrf.issue(),
                iso_week(),
                codec,
                visitor.gpc,
            )
        return self._consented_fragments(
            state.granted,
            state.providers,
            language,
            here,
            visitor.hostname,
            iso_week(),
            codec,
        )

    def _render_banner(
        self,
        granted: frozenset[str],
        providers: frozenset[str],
        lapsed_from: tuple[tuple[str, str], ...],
        language: str,
        here: str,
        on_policy: bool,
        host: str,
        csrf: str,
        week: str,
        codec: str,
        gpc: bool,
    ) -> _Insertion:
        """The banner (asking only about the categories whose grant lapsed, if any), and
        the snippets of what runs meanwhile: the categories still granted and the providers
        allowed one by one.

        The banner opens the body, so a keyboard or a screen reader meets it first; the
        room it leaves at the end of the page goes where the body ends.
        """
        values = {"next": here, "next_q": quote(here, safe=""), "csrf": csrf}
        renderer = self.renderer
        if lapsed_from:
            banner = renderer.banner_again(language, lapsed_from, on_policy, gpc)
        elif on_policy:
            banner = (renderer.folded_gpc_banner if gpc else renderer.folded_banner)[language]
        else:
            banner = (renderer.gpc_banner if gpc else renderer.banner)[language]
        head, body, top = self._stylesheet, BANNER_ROOM, banner.fill(values)
        if granted or providers:
            snippets = renderer.snippets(granted, providers, week, host)
            head, body = head + snippets[0], body + snippets[1]
        return _Insertion.of(head, body, codec, top)

    def _render_consented(
        self,
        granted: frozenset[str],
        providers: frozenset[str],
        language: str,
        here: str,
        host: str,
        week: str,
        codec: str,
    ) -> _Insertion:
        head, body = self.renderer.snippets(granted, providers, week, host)
        # The stylesheet and script always, so the page API (consentgate.open(), the
        # change event) is there whether or not the small link is shown.
        head = self._stylesheet + head
        if self.config.show_settings_link:
            values = {"next": here, "next_q": quote(here, safe="")}
            body += self.renderer.settings_link[language].fill(values)
        return _Insertion.of(head, body, codec)

    def _warn_once(self, key: bytes, what: str) -> None:
        # Keyed on what the app sends, but bounded all the same.
        key = key[:MAX_CACHED_HEADER]
        if key not in self._warned_encodings and len(self._warned_encodings) < 64:
            self._warned_encodings.add(key)
            logger.warning(
                "consentgate cannot rewrite HTML with %s: such pages pass untouched, "
                "without banner or snippets (serve them as utf-8, identity or gzip)",
                what,
            )


def _policy_path(url: str | None) -> bytes | None:
    """The path of the privacy policy, as a request's is compared with it; None without one.

    The host of an absolute URL is not compared: on another site, the path is simply
    never this site's policy in practice, and the cost of a match is a folded banner.
    """
    path = unquote_to_bytes(urlsplit(url or "").path).rstrip(b"/")
    # A policy at the root of another site ("https://firma.dk/") names no page of this one.
    return path or None


@dataclass(frozen=True, slots=True)
class _Insertion:
    """A page's fragments, encoded: as a page without a CSP nonce gets them, and cut at
    the nonce placeholders (None when they have no element a nonce would go on)."""

    head: bytes
    body: bytes
    top: bytes
    nonced: tuple[NonceSlots, NonceSlots, NonceSlots] | None

    @classmethod
    def of(cls, head: str, body: str, codec: str, top: str = "") -> _Insertion:
        marked = _encode(head, codec), _encode(body, codec), _encode(top, codec)
        plain = (
            _encode(without_nonces(head), codec),
            _encode(without_nonces(body), codec),
            _encode(without_nonces(top), codec),
        )
        if marked == plain:
            return cls(*plain, None)
        return cls(
            *plain, (NonceSlots.of(marked[0]), NonceSlots.of(marked[1]), NonceSlots.of(marked[2]))
        )

    def bytes(self) -> int:
        nonced = sum(len(b) for n in self.nonced for b in n.pieces) if self.nonced else 0
        return len(self.head) + len(self.body) + len(self.top) + nonced


@dataclass(frozen=True, slots=True)
class _PagePlan:
    """What one visitor's page gets, worked out once a minute (see ``_plan``)."""

    insertion: _Insertion
    #: The page's own path and query, where the banner's and embeds' forms return to.
    here: str
    codec: str
    #: The blocker's callback for a page without a CSP nonce: its form's token is the
    #: minute's, which the plan lasts for.
    placeholder: Placeholder

    @staticmethod
    def bytes_of(plan: _PagePlan | None) -> int:
        # The insertion is shared with the fragment caches; count it all the same.
        return plan.insertion.bytes() + len(plan.here) if plan is not None else 0


@dataclass(frozen=True, slots=True, eq=False)
class _Visitor:
    """What a visitor's request headers say, worked out once per distinct set of them.

    Compared by identity: a page plan is keyed on the visitor object it was made for,
    and held by it, so no other visitor (nor this one once it is recomputed, say after
    its choice lapsed) is ever served that plan.
    """

    reading: CookieReading
    #: When ``reading`` stops being true (their choice lapses).
    valid_until: float
    language: str
    #: The host name in the Host header; "" when it is not a valid one.
    hostname: str
    #: Set-Cookie headers expiring the refused trackers' cookies the browser sent.
    expired: tuple[tuple[bytes, bytes], ...]
    #: The browser sends Global Privacy Control, and it refuses something here.
    gpc: bool
    #: Kept in the visitors' cache, so worth keeping page plans for.
    remembered: bool = True

    def bytes(self) -> int:
        return len(self.hostname) + sum(len(value) + 64 for _, value in self.expired)


# Where a response is on its way through the gate.
_AWAITING_START, _PASSING, _HOLDING_START, _STREAMING, _ENDED = range(5)


class _ResponseGate(LazyConsent):
    """One response's way through the gate; per-request state lives here, not on the middleware.

    It is also what the app finds at ``scope["consentgate"]``: one object per
    request, and the consent cookie is read only if the app or an HTML page asks.

    ``send`` is a plain function returning the awaitable to await: the common
    case hands on the server's own ``send(message)``, with no coroutine of ours
    in between.
    """

    __slots__ = (
        "app_read",
        "gzip",
        "headers",
        "injector",
        "insert",
        "mw",
        "phase",
        "scope",
        "send_next",
        "start",
        "visitor",
    )
    # Set when the response is to be rewritten:
    # What goes before </head>, before </body>, after <body>; what is blocked:
    insert: PageRewrite | LanguageFromPage
    gzip: bool
    start: Message | None  # the held response start, until the first body message
    injector: PlainRewriter  # made once the body turns out to stream

    def __init__(self, mw: ConsentMiddleware, scope: Scope, send: Send) -> None:
        self.mw = mw
        self.scope: Scope | None = scope
        self.headers: Headers = scope["headers"]
        self.send_next = send
        self.phase = _AWAITING_START
        self.visitor: _Visitor | None = None
        #: The app asked for the visitor's consent: the response depends on the cookie.
        self.app_read = False

    @property
    def reading(self) -> CookieReading:
        self.app_read = True
        return self.visitor_for_gate().reading

    def visitor_for_gate(self) -> _Visitor:
        """The visitor, as consentgate itself reads it (the app's reads go through ``reading``)."""
        if self.visitor is None:
            self.visitor = self.mw.visitor_of(self.headers)
        return self.visitor

    def send(self, message: Message) -> Awaitable[None]:
        phase = self.phase
        if phase == _PASSING:
            return self.send_next(message)
        if phase == _STREAMING and message["type"] == "http.response.body":
            if not message.get("more_body", False):
                return self._on_chunk(message)
            # A chunk amid the stream, the common case of a streamed page: inline.
            try:
                out = self.injector.feed(message.get("body", b""))
            except RewriteError as exc:
                return self._cut_short(exc)
            return self.send_next({"type": "http.response.body", "body": out, "more_body": True})
        if phase == _AWAITING_START and message["type"] == "http.response.start":
            return self._on_start(message)
        if phase == _HOLDING_START and message["type"] == "http.response.body":
            return self._on_first_body(message)
        if phase == _ENDED:
            return _DONE
        return self.send_next(message)

    def _on_start(self, message: Message) -> Awaitable[None]:
        raw_headers = message.get("headers", ())
        content_type = encoding = b""
        set_cookie = lowered = False
        csp = csp_report_only = None
        for name, value in raw_headers:
            kind = _WATCHED.get(name)
            if kind is None:
                if name.islower():
                    continue
                lowered = True
                kind = _WATCHED.get(name.lower())
            if kind == _CONTENT_TYPE:
                content_type = value.lower()
            elif kind == _SET_COOKIE:
                set_cookie = True
            elif kind == _CONTENT_ENCODING:
                encoding = value.strip().lower()
            elif kind == _CSP:
                csp = value if csp is None else csp + b", " + value
            elif kind == _CSP_REPORT_ONLY:
                csp_report_only = value
        html = content_type.startswith(b"text/html")
        if html or set_cookie and self.mw.firewall or self.app_read:
            policy = csp if csp is not None else csp_report_only
            return self._gate_start(message, lowered, html, content_type, encoding, policy)
        self.phase = _PASSING
        return self.send_next(message)

    def _gate_start(
        self,
        message: Message,
        lowered: bool,
        html: bool,
        content_type: bytes,
        encoding: bytes,
        csp: bytes | None,
    ) -> Awaitable[None]:
        """``lowered``: some header names were not lowercase."""
        mw = self.mw
        scope = self.scope
        assert scope is not None
        visitor = self.visitor_for_gate()
        reading = visitor.reading
        insert = None
        added: tuple[tuple[bytes, bytes], ...] = ()
        if html:
            insert = mw.insertions(scope, visitor, message["status"], content_type, encoding, csp)
            added = visitor.expired
            if reading.reissue:
                secure = mw.cookie.secure_for(scope.get("scheme", "http"))
                reissued = mw.cookie.set_cookie(reading.state, secure=secure).encode("latin-1")
                added += ((b"set-cookie", reissued),)
        # A page made for this visitor, or one carrying their cookies, is no shared
        # cache's to keep: private, whatever the app allowed for its own page.
        personal = insert is not None or bool(added)
        raw_headers = message.get("headers", ())
        names = list(map(_name, raw_headers))
        if lowered or not _REWRITTEN.isdisjoint(names) or names.count(b"content-length") > 1:
            headers = self._rewritten_headers(raw_headers, reading.state, insert, personal)
        else:
            # Nothing the app sent is rewritten: only its body's length may go.
            headers = list(raw_headers)
            if insert is not None and b"content-length" in names:
                del headers[names.index(b"content-length")]
            headers.append(_VARY_COOKIE)
            if personal:
                headers.append(_PRIVATE)
        headers += added
        message = {**message, "headers": headers}
        if insert is None or scope["method"] == "HEAD":
            # HEAD: the headers a GET would get, less the length only the body would tell.
            self.phase = _PASSING
            return self.send_next(message)
        # Held until the first body message shows whether the body streams.
        self.insert, self.gzip, self.start = insert, encoding == b"gzip", message
        self.phase = _HOLDING_START
        return _DONE

    def _rewritten_headers(
        self,
        raw_headers: Iterable[tuple[bytes, bytes]],
        state: ConsentState,
        insert: PageRewrite | LanguageFromPage | None,
        personal: bool,
    ) -> list[tuple[bytes, bytes]]:
        """One pass over the headers: drop tracker cookies the visitor refused; on a
        rewritten page drop the length and validators of the app's body; and add
        Cookie to Vary, since what passes here (a page, the cookies it may set, what
        the app made of the consent) depends on the consent cookie."""
        firewall = self.mw.firewall
        headers: list[tuple[bytes, bytes]] = []
        vary = cache_control = False
        for name, value in raw_headers:
            lowered = name if name.islower() else name.lower()
            if lowered == b"set-cookie":
                if not firewall.allows_set_cookie(value, state):
                    continue
            elif lowered in _DROPPED_WHEN_REWRITTEN:
                if insert is not None:
                    continue
            elif lowered == b"vary":
                value, vary = _vary_with_cookie(value), True
            elif lowered == b"cache-control":
                if personal:
                    value, cache_control = _private(value), True
            elif lowered in _EDGE_CACHE_CONTROL:
                if personal:
                    continue
            headers.append((name, value))
        if not vary:
            headers.append(_VARY_COOKIE)
        if personal and not cache_control:
            headers.append(_PRIVATE)
        return headers

    async def _on_first_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        start = self.start
        assert start is not None
        self.start = None
        if message.get("more_body", False):
            # It streams: send the start without a length, then rewrite chunk by chunk.
            self.injector = self.insert.stream(gzip=self.gzip)
            self.phase = _STREAMING
            await self.send_next(start)
            await self._on_chunk(message)
            return
        # The whole body in one message: rewrite it and say its new length.
        try:
            body = self.insert.whole(body, gzip=self.gzip)
        except RewriteError as exc:
            logger.warning("consentgate left a response untouched: %s", exc)
        self.phase = _PASSING
        start["headers"].append((b"content-length", b"%d" % len(body)))
        await self.send_next(start)
        await self.send_next({"type": "http.response.body", "body": body})

    def _on_chunk(self, message: Message) -> Awaitable[None]:
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        injector = self.injector
        try:
            out = injector.feed(body)
            if not more_body:
                out += injector.finish()
                self.phase = _PASSING
        except RewriteError as exc:
            return self._cut_short(exc)
        return self.send_next({"type": "http.response.body", "body": out, "more_body": more_body})

    def _cut_short(self, exc: RewriteError) -> Awaitable[None]:
        # Part of the page is gone already: end it here rather than with a traceback.
        logger.error("consentgate cut a streamed response short: %s", exc)
        self.phase = _ENDED
        return self.send_next({"type": "http.response.body", "body": b"", "more_body": False})


async def _send_after_return(message: Message) -> None:
    raise RuntimeError("the app sent a message after it returned")


class _Done(tuple[()]):
    """An awaitable that is done at once: what ``send`` returns for a message it keeps.

    Its ``__await__`` is the empty tuple's iterator, which stops at once: awaiting it
    runs no Python code (a generator would be made and run for each message held).
    """

    __slots__ = ()
    if TYPE_CHECKING:

        def __await__(self) -> Generator[None, None, None]: ...

    else:
        __await__ = tuple.__iter__


_DONE = _Done()


def _here(path: bytes, query: bytes) -> str:
    """The page's own path and query, as ``next`` for the banner's form."""
    return (path + b"?" + query if query else path).decode("latin-1")


def _encode(html: str, codec: str) -> bytes:
    # Character references keep text readable in any charset the page uses.
    return html.encode(codec, "xmlcharrefreplace")


def _codec_for_uncached(content_type: bytes) -> str | None:
    """The codec of an HTML Content-Type, if consentgate can rewrite pages in it."""
    charset = None
    for param in content_type.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"charset":
            charset = value.strip().strip(b"\"'").decode("latin-1")
    return ascii_compatible_codec(charset)


_codec_for = Memo(
    _codec_for_uncached, max_entries=64, max_bytes=64 * 1024, max_key_bytes=MAX_CACHED_HEADER
)


def _asks_for_a_page(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a browser asks for a page to show (not an image, a script, a fetch)."""
    accept = b""
    for name, value in headers:
        if name == b"sec-fetch-dest":
            return value.strip().lower() in _PAGE_DESTINATIONS
        if name == b"accept":
            accept = value
    return b"text/html" in accept.lower()


def _private(cache_control: bytes) -> bytes:
    """``cache_control`` for one visitor's eyes: ``public`` and ``s-maxage`` dropped,
    ``private`` added; ``max-age`` and the rest kept (as the browser's own lifetime)."""
    kept = [b"private"]
    for directive in cache_control.split(b","):
        token = directive.strip()
        key = token.split(b"=", 1)[0].strip().lower()
        # private="Set-Cookie" would make only that header private: plain private replaces it.
        if token and key not in (b"public", b"s-maxage", b"proxy-revalidate", b"private"):
            kept.append(token)
    return b", ".join(kept)


def _vary_with_cookie(value: bytes) -> bytes:
    tokens = {token.strip().lower() for token in value.split(b",")}
    return value if b"cookie" in tokens or b"*" in tokens else value + b", Cookie"
