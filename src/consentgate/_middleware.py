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
from typing import Any
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
            cookie_secure=config.cookie_secure,
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
        self.parse_cookies = lru_cache(maxsize=1024)(cookie_parser)

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

    def injects_into(self, scope: Scope, status: int) -> bool:
        """Whether the body is a page a visitor sees (not HEAD, a redirect, or excluded)."""
        if scope["method"] == "HEAD" or status in _NO_BODY_STATUSES or 300 <= status < 400:
            return False
        path: str = scope["path"]
        return status >= 200 and not (
            path in self._excluded or path.startswith(self._excluded_below)
        )

    def fragments(self, scope: Scope, state: ConsentState, host: str) -> tuple[str, str]:
        """What goes before ``</head>`` and before ``</body>`` for this visitor."""
        renderer = self.renderer
        if not state.has_choice and renderer.choosable:
            values = self._page_values(scope, host)
            values["csrf"] = self.csrf.issue()
            return self._stylesheet, renderer.banner[self._language(scope)].fill(values)
        head, body = renderer.snippets(state.granted, iso_week(), hostname(host))
        if self.config.show_settings_link:
            link = renderer.settings_link[self._language(scope)].fill(
                self._page_values(scope, host)
            )
            return self._stylesheet + head, body + link
        return head, body

    def injector(
        self, head: str, body: str, charset: str | None, encoding: bytes
    ) -> HtmlInjector | GzipInjector | None:
        codec = ascii_compatible_codec(charset)
        if codec is None:
            self._warn_once(b"charset:" + (charset or "").encode(), f"charset {charset!r}")
            return None
        head_bytes = head.encode(codec, "xmlcharrefreplace")
        body_bytes = body.encode(codec, "xmlcharrefreplace")
        if not encoding or encoding == b"identity":
            return HtmlInjector(head_bytes, body_bytes)
        if encoding == b"gzip":
            return GzipInjector(head_bytes, body_bytes)
        self._warn_once(encoding, f"Content-Encoding {encoding.decode('latin-1')!r}")
        return None

    def _page_values(self, scope: Scope, host: str) -> dict[str, str]:
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        here = (path + b"?" + query if query else path).decode("latin-1")
        return {"next": here, "next_q": quote(here, safe=""), "host": host}

    def _language(self, scope: Scope) -> str:
        return self.renderer.negotiate(header(scope["headers"], b"accept-language"))

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

    __slots__ = ("consent", "injector", "mw", "passthrough", "scope", "send_next", "start")

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

    async def send(self, message: Message) -> None:
        if self.passthrough:
            await self.send_next(message)
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
            name = name.lower()
            if name == b"content-type":
                content_type = value.lower()
            elif name == b"set-cookie":
                set_cookie = True
            elif name == b"content-encoding":
                encoding = value.strip().lower()
        html = content_type.startswith(b"text/html")
        if not html and not (set_cookie and self.mw.firewall):
            self.passthrough = True
            await self.send_next(message)
            return

        mw = self.mw
        reading = self.consent.reading
        state = reading.state
        headers: list[tuple[bytes, bytes]] = list(raw_headers)
        if set_cookie:
            headers = [
                (name, value)
                for name, value in headers
                if name.lower() != b"set-cookie" or mw.firewall.allows_set_cookie(value, state)
            ]
        if html:
            headers = self._consent_headers(headers, reading)
            status = message["status"]
            if mw.injects_into(self.scope, status):
                host = header(self.scope["headers"], b"host") or ""
                head, body = mw.fragments(self.scope, state, host)
                if head or body:
                    self.injector = mw.injector(head, body, _charset(content_type), encoding)
        message = {**message, "headers": headers}
        if self.injector is None:
            self.passthrough = True
            await self.send_next(message)
        else:
            self.start = message  # held until the first body message shows whether it streams

    def _consent_headers(
        self, headers: list[tuple[bytes, bytes]], reading: CookieReading
    ) -> list[tuple[bytes, bytes]]:
        """Expire refused trackers' cookies, re-sign a rotated cookie, add ``Vary: Cookie``."""
        mw = self.mw
        state = reading.state
        cookie_header = header(self.scope["headers"], b"cookie")
        if cookie_header and mw.firewall:
            host = hostname(header(self.scope["headers"], b"host") or "")
            for value in mw.firewall.expire(mw.parse_cookies(cookie_header), state, host):
                headers.append((b"set-cookie", value.encode("latin-1")))
        if reading.reissue:
            secure = mw.config.cookie_secure
            if secure is None:
                secure = self.scope.get("scheme") == "https"
            headers.append((b"set-cookie", mw.cookie.set_cookie(state, secure=secure).encode()))
        return _add_vary_cookie(headers)

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
                    body = injector.feed(body) + injector.finish()
                except RewriteError as exc:
                    logger.warning("consentgate left a response untouched: %s", exc)
                self.passthrough = True
                await self.send_next(_with_length(start, len(body)))
                await self.send_next({"type": "http.response.body", "body": body})
                return
            await self.send_next(_with_length(start, None))
        out = injector.feed(body)
        if not more_body:
            out += injector.finish()
            self.passthrough = True
        await self.send_next({"type": "http.response.body", "body": out, "more_body": more_body})


def _charset(content_type: bytes) -> str | None:
    for param in content_type.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"charset":
            return value.strip().strip(b"\"'").decode("latin-1")
    return None


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {t.strip().lower() for t in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[i] = (name, value + b", Cookie")
            return headers
    headers.append((b"vary", b"Cookie"))
    return headers


def _with_length(start: Message, length: int | None) -> dict[str, Any]:
    headers = [(n, v) for n, v in start["headers"] if n.lower() != b"content-length"]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {**start, "headers": headers}
