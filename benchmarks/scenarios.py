"""The benchmark's scenarios, and what each variant's response to them must be.

Shared by the live runs (``python -m benchmarks``) and the in-process mode
(``python -m benchmarks inprocess``): both check every scenario's response from
every variant before anything is timed, so a figure never belongs to a page that
lost its banner, its nonces or its own content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from benchmarks import apps

__all__ = [
    "SCENARIOS",
    "Fetch",
    "Headers",
    "Scenario",
    "Visitor",
    "check_response",
    "consent_cookie",
    "keeps_page",
]

#: Who asks: no choice yet (banner), statistics + marketing granted (snippets), all refused.
Visitor = Literal["new", "consented", "refused"]
#: Response headers as the checks read them: lowercased names, every value.
Headers = dict[str, list[str]]
#: One request: (method, path, body, headers) -> (status, headers, body).
Fetch = Callable[[str, str, bytes | None, dict[str, str]], tuple[int, Headers, bytes]]


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    path: str
    visitor: Visitor = "new"
    #: Peak and growth of memory are measured (the 1 MB pages).
    memory: bool = False
    #: Body messages the app sends (the per-chunk target divides by this).
    chunks: int = 1

    @property
    def html(self) -> bool:
        return self.name not in ("json", "css", "api")


SCENARIOS = (
    Scenario("json", "JSON (small)", "/json"),
    Scenario("css", "CSS (5 KB)", "/css"),
    Scenario("page", "30 KB HTML, no consent (banner)", "/page"),
    Scenario("page-consented", "30 KB HTML, consented (snippets)", "/page", "consented"),
    Scenario("page-refused", "30 KB HTML, all refused", "/page", "refused"),
    Scenario("page-csp", "30 KB HTML with a CSP nonce (banner)", "/page-csp"),
    Scenario("page-tags", "30 KB HTML with ordinary tags (banner)", "/page-tags"),
    Scenario("big", "1 MB HTML, one body", "/big", memory=True),
    Scenario("stream", "1 MB HTML, 100 chunks", "/stream", memory=True, chunks=apps.CHUNK_COUNT),
    Scenario("rendered", "Jinja2 page (render ≥ 0.5 ms, banner)", "/rendered"),
    Scenario("api", "FastAPI JSON (pydantic model)", "/api/stats"),
)


def consent_cookie(fetch: Fetch, origin: str, visitor: Visitor) -> str:
    """The consent cookie a visitor gets by posting the banner's form, as a browser does."""
    status, _, body = fetch("GET", "/page", None, {})
    match = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    if status != 200 or match is None:
        raise SystemExit("the consentgate app shows no banner form on /page")
    if visitor == "consented":
        fields = [("action", "save"), ("categories", "statistics"), ("categories", "marketing")]
    else:
        fields = [("action", "reject_all")]
    form = urlencode(
        [*fields, ("csrf_token", match[1].decode()), ("next", "/page"), ("source", "banner")]
    ).encode()
    status, headers, _ = fetch(
        "POST",
        "/_consent",
        form,
        {"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    cookies = [c.split(";", 1)[0] for c in headers.get("set-cookie", [])]
    cookies = [c for c in cookies if c.startswith("consentgate=")]
    if status != 303 or len(cookies) != 1:
        raise SystemExit(f"posting a choice failed: {status} {headers}")
    return cookies[0]


def keeps_page(original: bytes, body: bytes) -> bool:
    """``body`` is ``original`` with at most something inserted before ``</head>``, after
    ``<body>`` and before ``</body>``: the page's own content is all there, in order, unchanged."""
    head_end = original.find(b"</head>")
    body_start = original.find(b">", original.find(b"<body", head_end)) + 1
    body_end = original.rfind(b"</body>")
    at = len(original[:head_end])
    if not (body.startswith(original[:head_end]) and body.endswith(original[body_end:])):
        return False
    for piece in (original[head_end:body_start], original[body_start:body_end]):
        at = body.find(piece, at)
        if at < 0:
            return False
        at += len(piece)
    return at <= len(body) - len(original[body_end:])


def original_body(scenario: Scenario, headers: Headers) -> bytes:
    """What the app itself sends for ``scenario`` (the CSP page: with the response's nonce)."""
    if scenario.path == "/page-csp":
        policy = headers.get("content-security-policy", [""])[0]
        nonce = re.search(r"'nonce-([^']+)'", policy)
        return apps.csp_page(nonce[1].encode() if nonce else b"")
    return {
        "/css": apps.CSS,
        "/page": apps.PAGE,
        "/page-tags": apps.TAGS_PAGE,
        "/big": apps.BIG_PAGE,
        "/stream": apps.BIG_PAGE,
        "/rendered": apps.render_shop().encode(),
    }[scenario.path]


def check_response(
    variant: str, scenario: Scenario, status: int, headers: Headers, body: bytes
) -> str | None:
    """What is wrong with ``variant``'s response to ``scenario``; None when it is as it must be."""
    if status != 200:
        return f"HTTP {status}"
    if scenario.name == "json":
        return None if json.loads(body) == apps.JSON_DOCUMENT else "the JSON was changed"
    if scenario.name == "api":
        return None if json.loads(body) == apps.STATS else "the API's JSON was changed"
    original = original_body(scenario, headers)
    if variant in ("bare", "passthrough") or not scenario.html:
        return None if body == original else "the body was changed"
    if not keeps_page(original, body):
        return "the page's own content was changed, not only added to"
    if variant in ("naive", "floor"):
        return None if b'id="naive-banner"' in body else f"no {variant} banner"
    if "cookie" not in ",".join(headers.get("vary", [])).lower():
        return "no Vary: Cookie"
    banner = b'id="consentgate-banner"' in body
    snippets = b"googletagmanager.com" in body
    if scenario.visitor == "consented" and (banner or not snippets):
        return "a consented visitor gets no snippets, or the banner (is the cookie valid?)"
    if scenario.visitor == "refused" and (
        banner or snippets or b'id="consentgate-settings"' not in body
    ):
        return "a visitor who refused all gets the banner, trackers, or no settings link"
    if scenario.visitor == "new" and (not banner or snippets):
        return "a visitor without consent gets no banner, or trackers"
    if scenario.path == "/page-csp":
        return _nonce_problem(headers, body)
    return None


def _nonce_problem(headers: Headers, body: bytes) -> str | None:
    """consentgate's elements on the CSP page carry the response's own nonce, and only it."""
    nonce = re.search(r"'nonce-([^']+)'", headers.get("content-security-policy", [""])[0])
    if nonce is None:
        return "the CSP page has no nonce in its policy"
    found = re.findall(rb'nonce="([^"]*)"', body)
    if len(found) < 2 or set(found) != {nonce[1].encode()}:
        return f"consentgate's elements do not carry the page's nonce: {found}"
    if b"\x01" in body:
        return "a nonce placeholder was left in the page"
    return None
