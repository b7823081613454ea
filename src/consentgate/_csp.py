"""CSP nonces: consentgate's injected ``<script>``, ``<style>`` and stylesheet links carry the
page's nonce, so a strict ``script-src 'nonce-…'`` policy keeps working.

The app exposes its nonce the one way every framework shares: in the
``Content-Security-Policy`` header of the response. Fragments are rendered once
with placeholders (:data:`SCRIPT_NONCE`, :data:`STYLE_NONCE`) in their ``nonce``
attributes; :func:`with_nonces` fills them per response, and :func:`without_nonces`
drops the attributes for pages without a nonce.

A nonced page pays for this on every response, since its nonce is fresh each
time, so the hot path does it in two cached halves: :func:`page_nonces` reads a
policy by its *shape* (the policy with its nonce values cut out, which repeats
from response to response), and :class:`NonceSlots` holds a fragment cut at its
placeholders once, so filling it is one join.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "STYLE_NONCE",
    "SCRIPT_NONCE",
    "NonceSlots",
    "Nonces",
    "nonces_in",
    "page_nonces",
    "with_nonces",
    "without_nonces",
]

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


@dataclass(slots=True)
class Nonces:
    """The nonces a page's policy gives script and style elements (None: none).

    Read per response, so not frozen (a frozen dataclass's ``__init__`` costs 4x).
    """

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


def page_nonces(policy: bytes) -> Nonces:
    """:func:`nonces_in`, with the policy's reading remembered by its shape.

    Which of a policy's nonce expressions governs scripts and which styles depends
    only on the text around them; the values change per response. So the policy
    is cut at its nonce values (one regex split), and where each element's nonce
    sits is looked up by the pieces around them.
    """
    # Sites write 'nonce-' in lowercase, and a case-sensitive split is several times
    # faster than a case-insensitive one: it is taken when it found every expression
    # the policy has in any case (each match leaves two parts).
    parts = _LOWERCASE_NONCE.split(policy)
    if len(parts) // 2 != policy.lower().count(b"'nonce-"):
        parts = _NONCE.split(policy)
    if len(parts) == 1:
        return Nonces(None, None)
    shape = tuple(parts[::2])
    positions = _positions.get(shape)
    if positions is None:
        positions = _nonce_positions(shape)
        if len(policy) <= _MAX_REMEMBERED_POLICY:
            if len(_positions) >= _MAX_SHAPES:
                _positions.clear()
            _positions[shape] = positions
    script_at, style_at = positions
    return Nonces(
        None if script_at is None else parts[script_at],
        None if style_at is None else parts[style_at],
    )


def _nonce_positions(shape: tuple[bytes, ...]) -> tuple[int | None, int | None]:
    """Where, in the policy ``_NONCE.split`` cut into ``shape`` and its values, the script
    and the style nonce are: the policy read with each value replaced by its position."""
    positions = b"".join(b"%s'nonce-%d'" % (text, 2 * i + 1) for i, text in enumerate(shape[:-1]))
    nonces = nonces_in(positions + shape[-1])
    return (
        None if nonces.script is None else int(nonces.script),
        None if nonces.style is None else int(nonces.style),
    )


_LOWERCASE_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/_=-]+)'")
#: A site sends a few shapes of policy; what it sends is its own, not a visitor's.
_positions: dict[tuple[bytes, ...], tuple[int | None, int | None]] = {}
_MAX_SHAPES = 64
_MAX_REMEMBERED_POLICY = 8 * 1024
_SLOT = re.compile(
    b"|".join(
        re.escape(text)
        for text in (
            _SCRIPT_ATTRIBUTE,
            _STYLE_ATTRIBUTE,
            SCRIPT_NONCE.encode("ascii"),
            STYLE_NONCE.encode("ascii"),
        )
    )
)


@dataclass(frozen=True, slots=True)
class NonceSlots:
    """Encoded HTML cut at its nonce placeholders: :func:`with_nonces` as one join."""

    #: The HTML between the placeholders; one more than ``slots``.
    pieces: tuple[bytes, ...]
    #: What was cut out at each place: a nonce attribute or a bare placeholder.
    slots: tuple[bytes, ...]
    #: Every slot is an attribute (the templates write them so).
    attributes_only: bool

    @classmethod
    def of(cls, html: bytes) -> NonceSlots:
        slots = tuple(_SLOT.findall(html))
        only = all(slot in (_SCRIPT_ATTRIBUTE, _STYLE_ATTRIBUTE) for slot in slots)
        return cls(tuple(_SLOT.split(html)), slots, only)

    def fill(self, nonces: Nonces) -> bytes:
        """The HTML as ``with_nonces(html, nonces)`` gives it."""
        if not self.slots:
            return self.pieces[0]
        script, style = nonces.script, nonces.style
        if script is not None and script == style and self.attributes_only:
            # The common case: one nonce for scripts and styles, in attributes only.
            return (b' nonce="' + script + b'"').join(self.pieces)
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            out += (_filled(slot, script, style), piece)
        return b"".join(out)


def _filled(slot: bytes, script: bytes | None, style: bytes | None) -> bytes:
    if slot == _SCRIPT_ATTRIBUTE:
        return b"" if script is None else b' nonce="' + script + b'"'
    if slot == _STYLE_ATTRIBUTE:
        return b"" if style is None else b' nonce="' + style + b'"'
    # A bare placeholder, outside a nonce attribute: filled, or left when there is no nonce.
    nonce = script if slot == SCRIPT_NONCE.encode("ascii") else style
    return slot if nonce is None else nonce


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
