"""ConsentMiddleware: the whole request path, in this one file.

    request ──> ConsentMiddleware.__call__
                  ├─ not http (lifespan, websocket) ──> app, untouched
                  ├─ path under the prefix ──> ConsentEndpoints (choose, preferences, me, static)
                  └─ anything else ──> app, send wrapped by a per-request _ResponseGate:
                        start, not HTML, no Set-Cookie ──> passed on as is, body too
                        otherwise ──> read the consent cookie (only now);
                                      drop tracker Set-Cookies; for HTML: expire refused
                                      trackers' cookies, add Vary: Cookie, and plan the
                                      insertions (banner | snippets + settings link)
                        body ──> streamed through the HTML injector (gzip kept),
                                 never buffered whole

Everything that does not depend on the request (templates, the banner per
language, snippets per set of granted categories, cookie matchers) is prepared
in ``__init__`` or cached.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._assets import Assets
from ._config import ConsentConfig
from ._cookie import ConsentCookie
from ._csrf import CsrfTokens
from ._endpoints import ConsentEndpoints
from ._firewall import CookieFirewall
from ._http import header, hostname
from ._render import Renderer, iso_week
from ._rewrite import GzipInjector, HtmlInjector, RewriteError, ascii_compatible_codec
from ._state import SCOPE_KEY, ConsentState, CookieReading, Headers, LazyConsent
from .log import ConsentLog, open_log

__all__ = ["ConsentMiddleware"]

logger = logging.getLogger("consentgate")

# Servers may offer to send files themselves; the body of an HTML file must pass here.
_BYPASS_EXTENSIONS = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
_NO_BODY_STATUSES = frozenset({204, 304})
# Response headers the gate reads; ASGI names are lowercase, others are lowered.
_CONTENT_TYPE, _SET_COOKIE, _CONTENT_ENCODING = "content-type", "set-cookie", "content-encoding"
_WATCHED = {name.encode(): name for name in (_CONTENT_TYPE, _SET_COOKIE, _CONTENT_ENCODING)}


class ConsentMiddleware:
    """Gates tracker snippets and cookies behind the visitor's recorded consent.

    ``app.add_middleware(ConsentMiddleware, config=ConsentConfig(...))``. Put
    compression middleware (e.g. GZipMiddleware) outside it, or let it compress
    with gzip: consentgate rewrites gzip bodies but passes other encodings
    through untouched.

    .. versionadded:: 0.1
    """

    def __init__(self, app: ASGIApp, *, config: ConsentConfig) -> None:
        self.app = app
        self.config = config
        self.log: ConsentLog = (
            config.store
            if isinstance(config.store, ConsentLog)
            else open_log(config.store, timeout=config.store_timeout)
        )
        self.assets = Assets(config.prefix)
        self.renderer = Renderer(config, self.assets)
        self.cookie = ConsentCookie(
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
        self._prefix = config.prefix
        self._prefix_slash = config.prefix + "/"
        self._excluded = frozenset(p.rstrip("/") or "/" for p in config.exclude_paths)
        self._excluded_below = tuple(p.rstrip("/") + "/" for p in config.exclude_paths)
        self._stylesheet = self.renderer.stylesheet()
        self._warned_encodings: set[bytes] = set()
        if config.privacy_policy_url is None:
            logger.warning(
                "consentgate: no privacy_policy_url configured; the banner links only to "
                "the cookie declaration, but visitors must be able to read your privacy policy"
            )
        # Per-request values repeat (the same few pages, languages and visitors):
        # remember the last results rather than rebuilding them.
        self.parse_cookies = lru_cache(maxsize=1024)(cookie_parser)
        self._banner_fragments = lru_cache(maxsize=512)(self._render_banner)
        self._consented_fragments = lru_cache(maxsize=512)(self._render_consented)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self._prefix or path.startswith(self._prefix_slash):
            await self.endpoints(scope, receive, send)
            return
        extensions = scope.get("extensions")
        if extensions and not _BYPASS_EXTENSIONS.isdisjoint(extensions):
            scope = {
                **scope,
                "extensions": {k: v for k, v in extensions.items() if k not in _BYPASS_EXTENSIONS},
            }
        consent = LazyConsent(self.read_consent, scope["headers"])
        scope[SCOPE_KEY] = consent
        await self.app(scope, receive, _ResponseGate(self, scope, consent, send).send)

    # -- used by the per-request gate -------------------------------------

    def read_consent(self, headers: Headers) -> CookieReading:
        cookie_header = header(headers, b"cookie")
        value = self.parse_cookies(cookie_header).get(self.cookie.name) if cookie_header else None
        return self.cookie.read(value)

    def injector(
        self, scope: Scope, state: ConsentState, status: int, content_type: bytes, encoding: bytes
    ) -> HtmlInjector | GzipInjector | None:
        """The rewriter for this page, or None when its body is to pass untouched."""
        path: str = scope["path"]
        if (
            scope["method"] == "HEAD"
            or not 200 <= status < 300
            and status < 400
            or status in _NO_BODY_STATUSES
            or path in self._excluded
            or path.startswith(self._excluded_below)
        ):
            return None
        if encoding not in (b"", b"identity", b"gzip"):
            self._warn_once(encoding, f"Content-Encoding {encoding.decode('latin-1')!r}")
            return None
        codec = _codec_for(content_type)
        if codec is None:
            self._warn_once(content_type, f"Content-Type {content_type.decode('latin-1')!r}")
            return None
        head, body = self.fragments(scope, state, codec)
        if not (head or body):
            return None
        return GzipInjector(head, body) if encoding == b"gzip" else HtmlInjector(head, body)

    def fragments(self, scope: Scope, state: ConsentState, codec: str) -> tuple[bytes, bytes]:
        """What goes before ``</head>`` and before ``</body>`` for this visitor, encoded."""
        headers = scope["headers"]
        host = header(headers, b"host") or ""
        language = self.renderer.negotiate(header(headers, b"accept-language"))
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        here = (path + b"?" + query if query else path).decode("latin-1")
        if not state.has_choice and self.renderer.choosable:
            return self._banner_fragments(language, here, host, self.csrf.issue(), codec)
        return self._consented_fragments(state.granted, language, here, host, iso_week(), codec)

    def _render_banner(
        self, language: str, here: str, host: str, csrf: str, codec: str
    ) -> tuple[bytes, bytes]:
        values = {"next": here, "next_q": quote(here, safe=""), "host": host, "csrf": csrf}
        banner = self.renderer.banner[language].fill(values)
        return _encode(self._stylesheet, codec), _encode(banner, codec)

    def _render_consented(
        self, granted: frozenset[str], language: str, here: str, host: str, week: str, codec: str
    ) -> tuple[bytes, bytes]:
        head, body = self.renderer.snippets(granted, week, hostname(host))
        if self.config.show_settings_link:
            values = {"next": here, "next_q": quote(here, safe=""), "host": host}
            head = self._stylesheet + head
            body += self.renderer.settings_link[language].fill(values)
        return _encode(head, codec), _encode(body, codec)

    def _warn_once(self, key: bytes, what: str) -> None:
        if key not in self._warned_encodings:
            self._warned_encodings.add(key)
            logger.warning(
                "consentgate cannot rewrite HTML with %s: such pages pass untouched, "
                "without banner or snippets (serve them as utf-8, identity or gzip)",
                what,
            )


class _ResponseGate:
    """One response's way through the gate; per-request state lives here, not on the middleware."""

    __slots__ = ("consent", "ended", "injector", "mw", "passthrough", "scope", "send_next", "start")

    def __init__(
        self, mw: ConsentMiddleware, scope: Scope, consent: LazyConsent, send: Send
    ) -> None:
        self.mw = mw
        self.scope = scope
        self.consent = consent
        self.send_next = send
        self.passthrough = False
        self.start: Message | None = None
        self.injector: HtmlInjector | GzipInjector | None = None
        self.ended = False  # by the gate, on a body that could not be rewritten

    async def send(self, message: Message) -> None:
        if self.passthrough:
            await self.send_next(message)
        elif self.ended:
            return
        elif message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body":
            await self._on_body(message)
        else:
            await self.send_next(message)

    async def _on_start(self, message: Message) -> None:
        raw_headers = message.get("headers", ())
        content_type = encoding = b""
        set_cookie = False
        for name, value in raw_headers:
            kind = _WATCHED.get(name)
            if kind is None and not name.islower():
                kind = _WATCHED.get(name.lower())
            if kind == _CONTENT_TYPE:
                content_type = value.lower()
            elif kind == _SET_COOKIE:
                set_cookie = True
            elif kind == _CONTENT_ENCODING:
                encoding = value.strip().lower()
        html = content_type.startswith(b"text/html")
        if not html and not (set_cookie and self.mw.firewall):
            self.passthrough = True
            await self.send_next(message)
            return

        mw = self.mw
        reading = self.consent.reading
        state = reading.state
        if html:
            self.injector = mw.injector(
                self.scope, state, message["status"], content_type, encoding
            )
        # One pass over the headers: drop tracker cookies the visitor refused, drop a
        # Content-Length the rewrite will change, and add Cookie to Vary, since what
        # passes here (a page, or the cookies it may set) depends on the consent cookie.
        headers: list[tuple[bytes, bytes]] = []
        vary = False
        for name, value in raw_headers:
            lowered = name if name.islower() else name.lower()
            if lowered == b"set-cookie":
                if not mw.firewall.allows_set_cookie(value, state):
                    continue
            elif lowered == b"content-length":
                if self.injector is not None:
                    continue
            elif lowered == b"vary":
                value, vary = _vary_with_cookie(value), True
            headers.append((name, value))
        if not vary:
            headers.append((b"vary", b"Cookie"))
        if html:
            headers += self._consent_cookies(reading)
        message = {**message, "headers": headers}
        if self.injector is None:
            self.passthrough = True
            await self.send_next(message)
        else:
            self.start = message  # held until the first body message shows whether it streams

    def _consent_cookies(self, reading: CookieReading) -> list[tuple[bytes, bytes]]:
        """Set-Cookies expiring refused trackers' cookies the browser sent; a rotated one."""
        mw = self.mw
        state = reading.state
        cookies: list[tuple[bytes, bytes]] = []
        cookie_header = header(self.scope["headers"], b"cookie")
        if cookie_header and mw.firewall:
            host = hostname(header(self.scope["headers"], b"host") or "")
            for value in mw.firewall.expire(mw.parse_cookies(cookie_header), state, host):
                cookies.append((b"set-cookie", value.encode("latin-1")))
        if reading.reissue:
            secure = mw.cookie.secure_for(self.scope.get("scheme", "http"))
            cookies.append((b"set-cookie", mw.cookie.set_cookie(state, secure=secure).encode()))
        return cookies

    async def _on_body(self, message: Message) -> None:
        injector = self.injector
        assert injector is not None
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        start = self.start
        if start is not None:
            self.start = None
            if not more_body:
                # The whole body in one message: rewrite it and say its new length.
                try:
                    body = injector.whole(body)
                except RewriteError as exc:
                    logger.warning("consentgate left a response untouched: %s", exc)
                self.passthrough = True
                start["headers"].append((b"content-length", b"%d" % len(body)))
                await self.send_next(start)
                await self.send_next({"type": "http.response.body", "body": body})
                return
            await self.send_next(start)
        try:
            out = injector.feed(body)
            if not more_body:
                out += injector.finish()
                self.passthrough = True
        except RewriteError as exc:
            # Part of the page is gone already: end it here rather than with a traceback.
            logger.error("consentgate cut a streamed response short: %s", exc)
            self.ended = True
            out, more_body = b"", False
        await self.send_next({"type": "http.response.body", "body": out, "more_body": more_body})


def _encode(html: str, codec: str) -> bytes:
    # Character references keep text readable in any charset the page uses.
    return html.encode(codec, "xmlcharrefreplace")


@lru_cache(maxsize=64)
def _codec_for(content_type: bytes) -> str | None:
    """The codec of an HTML Content-Type, if consentgate can rewrite pages in it."""
    charset = None
    for param in content_type.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"charset":
            charset = value.strip().strip(b"\"'").decode("latin-1")
    return ascii_compatible_codec(charset)


def _vary_with_cookie(value: bytes) -> bytes:
    tokens = {token.strip().lower() for token in value.split(b",")}
    return value if b"cookie" in tokens or b"*" in tokens else value + b", Cookie"
