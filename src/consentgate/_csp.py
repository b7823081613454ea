"""CSP nonces: consentgate's injected ``<script>``, ``<style>`` and stylesheet links carry the
page's nonce, so a strict ``script-src 'nonce-…'`` policy keeps working.

The app exposes its nonce the one way every framework shares: in the
``Content-Security-Policy`` header of the response. Fragments are rendered once
with placeholders (:data:`SCRIPT_NONCE`, :data:`STYLE_NONCE`) in their ``nonce``
attributes; :func:`with_nonces` fills them per response, and :func:`without_nonces`
drops the attributes for pages without a nonce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STYLE_NONCE", "SCRIPT_NONCE", "Nonces", "nonces_in", "with_nonces", "without_nonces"]

#: What templates render as ``csp_nonce`` and ``csp_style_nonce``; never a valid nonce.
SCRIPT_NONCE = "\x01script-nonce\x01"
STYLE_NONCE = "\x01style-nonce\x01"
_SCRIPT_ATTRIBUTE = f' nonce="{SCRIPT_NONCE}"'.encode("ascii")
_STYLE_ATTRIBUTE = f' nonce="{STYLE_NONCE}"'.encode("ascii")

# A nonce source expression (CSP3): base64 or base64url characters.
_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
# Which directive governs an element, most specific first (CSP3 fallback lists).
_SCRIPT_DIRECTIVES = (b"script-src-elem", b"script-src", b"default-src")
_STYLE_DIRECTIVES = (b"style-src-elem", b"style-src", b"default-src")


@dataclass(frozen=True, slots=True)
class Nonces:
    script: bytes | None
    style: bytes | None


def nonces_in(policy: bytes) -> Nonces:
    """The nonces a ``Content-Security-Policy`` value allows for script and style elements.

    A header may hold several policies (comma-separated); the first that names a
    nonce for the element's directive gives it.
    """
    script = style = None
    for one_policy in policy.split(b","):
        directives: dict[bytes, bytes] = {}
        for directive in one_policy.split(b";"):
            name, *sources = directive.split(None, 1) or [b""]
            # The first occurrence of a directive counts; later duplicates are ignored.
            directives.setdefault(name.lower(), sources[0] if sources else b"")
        script = script or _nonce_for(directives, _SCRIPT_DIRECTIVES)
        style = style or _nonce_for(directives, _STYLE_DIRECTIVES)
    return Nonces(script, style)


def _nonce_for(directives: dict[bytes, bytes], fallbacks: tuple[bytes, ...]) -> bytes | None:
    for name in fallbacks:
        if name in directives:
            match = _NONCE.search(directives[name])
            return match[1] if match else None
    return None


def with_nonces(html: bytes, nonces: Nonces) -> bytes:
    """``html`` with its nonce placeholders filled, or their attributes dropped where none."""
    for attribute, placeholder, nonce in (
        (_SCRIPT_ATTRIBUTE, SCRIPT_NONCE, nonces.script),
        (_STYLE_ATTRIBUTE, STYLE_NONCE, nonces.style),
    ):
        if nonce is None:
            html = html.replace(attribute, b"")
        else:
            html = html.replace(placeholder.encode("ascii"), nonce)
    return html


def without_nonces(html: str) -> str:
    """``html`` with every nonce attribute dropped: what a page without a nonce gets."""
    return html.replace(_SCRIPT_ATTRIBUTE.decode("ascii"), "").replace(
        _STYLE_ATTRIBUTE.decode("ascii"), ""
    )
