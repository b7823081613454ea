"""The banner in the page's own language: ``ConsentConfig(language_from="html-lang")``.

The language is read from the page's ``<html lang="...">``, so what goes into
the page is only decided once its start has come: the start is held back until
the ``<html>`` tag is complete (a page's first bytes), or a ``<head>`` or
``<body>`` shows there is none, or :data:`SNIFF_LIMIT` bytes came without
either. Only those bytes are searched; the page's rewrite then gets them and
everything after, as it would have without the wait.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ._rewrite import GzipRewriter, PageRewrite, PlainRewriter

__all__ = ["SNIFF_LIMIT", "LanguageFromPage", "html_lang"]

#: Bytes of a page's start searched for its ``<html>`` tag (a doctype and comments fit).
SNIFF_LIMIT = 8 * 1024

_HTML_TAG = re.compile(rb"<html(?=[\s>/])[^>]*>", re.IGNORECASE)
_LANG = re.compile(
    rb"""[\s/]lang[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I
)
#: Where the ``<html>`` tag can no longer come (HTML lets a page leave it out).
_PAST_IT = re.compile(rb"<(?:head|body)(?=[\s>/])", re.IGNORECASE)


def html_lang(start: bytes, *, complete: bool = True) -> tuple[bool, str | None]:
    """Whether ``start`` settles the page's language, and its ``lang`` if it has one.

    ``complete`` says no more bytes will come: the page's start is all there is.
    """
    tag = _HTML_TAG.search(start, 0, SNIFF_LIMIT)
    if tag is not None:
        past = _PAST_IT.search(start, 0, tag.start())
        if past is None:
            found = _LANG.search(tag[0])
            if found is None:
                return True, None
            value = next(group for group in found.groups() if group is not None)
            return True, value.decode("latin-1").strip() or None
        return True, None
    if complete or len(start) >= SNIFF_LIMIT or _PAST_IT.search(start, 0, SNIFF_LIMIT):
        return True, None
    return False, None


@dataclass(frozen=True, slots=True)
class LanguageFromPage:
    """A page's rewrite, made for its language once its start shows it.

    ``rewrite_for`` gets the page's ``lang`` value (None when it has none) and
    makes the rewrite; it is called once per response.
    """

    rewrite_for: Callable[[str | None], PageRewrite]

    def whole(self, page: bytes, *, gzip: bool) -> bytes:
        """The rewritten page, for a body that came in one piece."""
        if gzip:
            return GzipRewriter(self.stream()).whole(page)
        return self.rewrite_for(html_lang(page)[1]).whole(page, gzip=False)

    def stream(self, *, gzip: bool = False) -> PlainRewriter:
        """A rewriter for a body that streams."""
        plain = _HoldingStart(lambda lang: self.rewrite_for(lang).stream())
        return GzipRewriter(plain) if gzip else plain


class _HoldingStart:
    """Holds a page's start until its language is settled, then hands everything on."""

    __slots__ = ("_held", "_make", "_rewriter")

    def __init__(self, make: Callable[[str | None], PlainRewriter]) -> None:
        self._make = make
        self._held = b""
        self._rewriter: PlainRewriter | None = None

    def feed(self, chunk: bytes) -> bytes:
        if self._rewriter is not None:
            return self._rewriter.feed(chunk)
        self._held += chunk
        settled, lang = html_lang(self._held, complete=False)
        return self._start(lang) if settled else b""

    def finish(self) -> bytes:
        out = b""
        if self._rewriter is None:
            out = self._start(html_lang(self._held)[1])
        assert self._rewriter is not None
        return out + self._rewriter.finish()

    def _start(self, lang: str | None) -> bytes:
        self._rewriter = self._make(lang)
        held, self._held = self._held, b""
        return self._rewriter.feed(held)
