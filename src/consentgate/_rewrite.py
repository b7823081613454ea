"""Streaming insertion of HTML fragments around ``</head>``, ``<body>`` and ``</body>``.

Scanning a whole body for markers costs about a nanosecond a byte in Python, more
than serving a large page does, so the injector never scans the bulk of a page:

- the head fragment goes before the first ``</head>`` within the first
  ``head_limit`` bytes (64 KiB), where a page's head is; the search stops there;
- the top fragment (the banner: first in the body, so a keyboard or screen reader
  meets it first) goes right after the first ``<body ...>`` start tag following
  that ``</head>``, if the whole tag lies within the same first ``head_limit`` bytes;
  else it goes with the body fragment;
- the body fragment goes before the last ``</body>`` within the final
  ``body_window`` bytes (1 KiB), where a page's body ends; those bytes are the
  only part of a stream held back;
- whatever found no marker is appended at the end, which browsers still parse
  into the body.

The rules depend only on byte positions in the whole stream, so any split into
chunks gives the same output as one chunk.
"""

from __future__ import annotations

import codecs
import functools
import re
import zlib
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "GzipInjector",
    "GzipRewriter",
    "HtmlInjector",
    "PageFilter",
    "PageRewrite",
    "PlainRewriter",
    "RewriteError",
    "ascii_compatible_codec",
    "inject_whole",
]

HEAD_LIMIT = 64 * 1024
BODY_WINDOW = 1024
#: Most ASCII whitespace tolerated before the ``>`` of a marker.
_MAX_SPACE = 16
_SPACE = rb"[\t\n\f\r ]{0,%d}" % _MAX_SPACE
_HEAD_END = re.compile(rb"</head" + _SPACE + rb">", re.IGNORECASE)
_BODY_END = re.compile(rb"</body" + _SPACE + rb">", re.IGNORECASE)
# A <body> start tag, with its attributes: a ">" inside a quoted value does not end it.
_BODY_START = re.compile(rb"<body(?:[\t\n\f\r /](?:[^\"'>]|\"[^\"]*\"|'[^']*')*)?>", re.IGNORECASE)
_CLOSING_B = re.compile(rb"</b", re.IGNORECASE)
# </body> spelt backwards: searching the reversed window finds the last one first.
_BODY_END_REVERSED = re.compile(rb">" + _SPACE + rb"ydob/<", re.IGNORECASE)
#: A marker starting this many bytes before the end of what was searched may be incomplete.
_LONGEST_MARKER = len(b"</head>") + _MAX_SPACE

#: Upper bound on the plain text inflated at once from a gzip chunk (a zip bomb stays small).
_INFLATE_PIECE = 256 * 1024

_ASCII = "".join(map(chr, range(128)))
_ASCII_BYTES = _ASCII.encode("ascii")


class RewriteError(ValueError):
    """The body could not be rewritten (e.g. corrupt gzip)."""


class HtmlInjector:
    """Inserts ``head`` before ``</head>``, ``top`` after ``<body>`` and ``body`` before
    ``</body>``, as the body streams.

    Markers match case-insensitively, with up to 16 ASCII whitespace characters
    before the ``>``. See the module docstring for where each fragment goes.
    """

    __slots__ = (
        "_body",
        "_body_window",
        "_head",
        "_head_from",
        "_head_limit",
        "_offset",
        "_pending",
        "_top",
    )

    def __init__(
        self,
        head: bytes,
        body: bytes,
        top: bytes = b"",
        *,
        head_limit: int = HEAD_LIMIT,
        body_window: int = BODY_WINDOW,
    ) -> None:
        self._head = head
        self._body = body
        self._top = top
        self._head_limit = head_limit
        self._body_window = max(body_window, _LONGEST_MARKER)
        self._pending = b""  # the stream's bytes not sent yet
        self._offset = 0  # where _pending starts in the stream
        self._head_from = 0  # no </head> starts before this stream position

    def feed(self, chunk: bytes) -> bytes:
        """Returns what can be sent now (may be b"")."""
        if not (self._head or self._top):
            if not self._body:
                return chunk
            cut = len(chunk) - self._body_window
            if cut >= 0:
                # The common streaming step: hold back the window, send the rest.
                out = b"".join((self._pending, memoryview(chunk)[:cut]))
                self._pending = chunk[cut:]
                self._offset += len(out)
                return out
        return b"".join(self._feed(chunk))

    def finish(self) -> bytes:
        """Returns the rest, including any fragment not yet inserted."""
        return b"".join(self._finish())

    def whole(self, body: bytes) -> bytes:
        """``feed(body) + finish()`` on a new injector, for a body that came in one piece."""
        head, fragment, top = self._head, self._body, self._top
        self._head = self._body = self._top = b""
        return inject_whole(
            body, head, fragment, top, head_limit=self._head_limit, body_window=self._body_window
        )

    def _feed(self, chunk: bytes) -> list[bytes | memoryview]:
        if not (self._head or self._top or self._body):
            return [chunk]
        # The stream's unsent bytes are pending + chunk, positions counted from _offset.
        pending = self._pending
        total = len(pending) + len(chunk)
        parts: list[bytes | memoryview] = []
        sent = 0
        if self._head or self._top:
            room = self._head_limit - self._offset - len(pending)
            region = pending + chunk[: max(room, 0)] if pending else chunk
            places = self._find_places(region, total, final=False)
            if places is not None:
                head_at, top_at = places
                parts += _span(pending, chunk, 0, head_at)
                parts.append(self._head)
                parts += _span(pending, chunk, head_at, top_at)
                parts.append(self._top)
                self._head = self._top = b""
                sent = top_at
        if self._head or self._top:
            keep = min(total - self._body_window, self._head_from - self._offset)
        elif self._body:
            keep = total - self._body_window
        else:  # nothing left to insert: send all, and pass chunks through from now on
            keep = total
        keep = max(keep, sent)
        parts += _span(pending, chunk, sent, keep)
        self._pending = b"".join(_span(pending, chunk, keep, total))
        self._offset += keep
        return parts

    def _finish(self) -> list[bytes | memoryview]:
        buf = self._pending
        parts: list[bytes | memoryview] = []
        start = 0
        if self._head or self._top:
            places = self._find_places(buf, len(buf), final=True)
            if places is not None:
                head_at, top_at = places
                parts += (buf[:head_at], self._head, buf[head_at:top_at], self._top)
                self._head = self._top = b""
                start = top_at
        if self._body:
            at = _last_body_end(buf, max(start, len(buf) - self._body_window))
            parts += (buf[start:at], self._body)
            start = at
        parts.append(buf[start:])
        self._pending = self._head = self._top = self._body = b""
        return parts

    def _find_places(self, region: bytes, total: int, *, final: bool) -> tuple[int, int] | None:
        """Where the head and top fragments go; None while unknown or for good.

        ``region`` starts at ``_offset`` and reaches at least to the head limit or
        to the end of the ``total`` bytes not yet sent. A top fragment that finds no
        ``<body>`` is moved to the body fragment's place (and goes at the head's).
        """
        end = min(len(region), self._head_limit - self._offset)
        begin = max(self._head_from - self._offset, 0)
        match = _HEAD_END.search(region, begin, end) if end > begin else None
        decided = final or self._offset + total >= self._head_limit
        if match is not None:
            if not self._top:
                return match.start(), match.start()
            tag = _BODY_START.search(region, match.end(), end)
            if tag is not None:
                return match.start(), tag.end()
            if decided:
                self._body = self._top + self._body
                self._top = b""
                return match.start(), match.start()
            # The <body> tag may still come: search on from this </head>.
            self._head_from = self._offset + match.start()
            return None
        if decided:
            # No </head> where a head would be: the fragments go with the body's.
            self._body = self._head + self._top + self._body
            self._head = self._top = b""
        else:
            self._head_from = self._offset + max(total - _LONGEST_MARKER, begin)
        return None


def inject_whole(
    body: bytes,
    head: bytes,
    fragment: bytes,
    top: bytes = b"",
    *,
    head_limit: int = HEAD_LIMIT,
    body_window: int = BODY_WINDOW,
) -> bytes:
    """``body`` with ``head``, ``top`` and ``fragment`` inserted, by the rules of a stream.

    Most pages come whole, so this is the same rules without the streaming
    bookkeeping or an injector object; and the page is copied once, since each
    copy of a large page costs fresh memory pages.
    """
    if not (head or top or fragment):
        return body
    head_at = top_at = 0
    if head or top:
        # One pattern search: a third of the time of a plain find of "</head>" plus the
        # two finds that would make sure no other spelling of it comes first.
        found = _HEAD_END.search(body, 0, head_limit)
        if found is None:
            head, top, fragment = b"", b"", head + top + fragment
        else:
            head_at = top_at = found.start()
            if top:
                tag = _BODY_START.search(body, found.end(), head_limit)
                if tag is None:
                    top, fragment = b"", top + fragment
                else:
                    top_at = tag.end()
    body_at = _last_body_end(body, max(top_at, len(body) - max(body_window, _LONGEST_MARKER)))
    view = memoryview(body)
    return b"".join(
        (
            view[:head_at],
            head,
            view[head_at:top_at],
            top,
            view[top_at:body_at],
            fragment,
            view[body_at:],
        )
    )


def _last_body_end(buf: bytes, window: int) -> int:
    """Where the last ``</body>`` lying wholly in ``buf[window:]`` starts; else ``len(buf)``."""
    # Nearly every page spells it "</body>", a few bytes before the end: find that
    # quickly, and take it if no "</b" in any case follows it.
    at = buf.rfind(b"</body>", window)
    if at >= 0 and _CLOSING_B.search(buf, at + 7) is None:
        return at
    match = _BODY_END_REVERSED.search(buf[window:][::-1])
    return len(buf) - match.end() if match is not None else len(buf)


def _span(pending: bytes, chunk: bytes, start: int, stop: int) -> list[bytes | memoryview]:
    """Bytes ``start:stop`` of ``pending + chunk``, without copying ``chunk``."""
    pieces: list[bytes | memoryview] = []
    if start < len(pending) and start < stop:
        pieces.append(pending[start : min(stop, len(pending))])
    if stop > len(pending) and start < stop:
        pieces.append(memoryview(chunk)[max(start - len(pending), 0) : stop - len(pending)])
    return pieces


class PlainRewriter(Protocol):
    """A rewrite of a plain (not encoded) HTML stream, as :class:`HtmlInjector` does it."""

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class GzipRewriter:
    """A plain rewriter's contract over a gzip-encoded stream: gzip bytes in, gzip bytes out.

    Each non-empty output ends with a sync flush so a streamed page reaches the browser
    promptly; :meth:`finish` ends the gzip member. Input must be exactly one gzip member.
    """

    __slots__ = ("_deflater", "_html", "_inflater")

    def __init__(self, html: PlainRewriter) -> None:
        self._html = html
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._deflater = zlib.compressobj(wbits=31)

    def feed(self, chunk: bytes) -> bytes:
        """Returns gzip bytes that can be sent now (may be b"")."""
        parts: list[bytes] = []
        data = chunk
        while True:
            try:
                plain = self._inflater.decompress(data, _INFLATE_PIECE)
            except zlib.error as exc:
                raise RewriteError(f"corrupt gzip body: {exc}") from exc
            html = self._html.feed(plain)
            if html:
                parts.append(self._deflater.compress(html))
            data = self._inflater.unconsumed_tail
            if not data:
                break
        if self._inflater.unused_data:
            raise RewriteError("unexpected data after the end of the gzip body")
        if not parts:
            return b""
        parts.append(self._deflater.flush(zlib.Z_SYNC_FLUSH))
        return b"".join(parts)

    def whole(self, body: bytes) -> bytes:
        """``feed(body) + finish()`` for a body that came in one piece."""
        return self.feed(body) + self.finish()

    def finish(self) -> bytes:
        """Returns the rest of the gzip stream, trailer included."""
        if not self._inflater.eof:
            raise RewriteError("truncated gzip body")
        return self._deflater.compress(self._html.finish()) + self._deflater.flush()


class PageFilter(PlainRewriter, Protocol):
    """A rewrite that goes before the injection (the blocker), with a one-piece shortcut."""

    def whole(self, body: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PageRewrite:
    """Everything one page gets: ``head``, ``body`` and ``top`` (after ``<body>``)
    inserted, after ``filter`` (if any) rewrote the app's own markup."""

    head: bytes
    body: bytes
    filter: PageFilter | None = None
    top: bytes = b""

    def whole(self, page: bytes, *, gzip: bool) -> bytes:
        """The rewritten page, for a body that came in one piece."""
        if gzip:
            return GzipRewriter(self.stream()).whole(page)
        if self.filter is not None:
            page = self.filter.whole(page)
        return inject_whole(page, self.head, self.body, self.top)

    def stream(self, *, gzip: bool = False) -> PlainRewriter:
        """A rewriter for a body that streams."""
        injector = HtmlInjector(self.head, self.body, self.top)
        plain = injector if self.filter is None else _Chain(self.filter, injector)
        return GzipRewriter(plain) if gzip else plain


class _Chain:
    """The filter's output fed to the injector."""

    __slots__ = ("_filter", "_injector")

    def __init__(self, filter: PlainRewriter, injector: HtmlInjector) -> None:
        self._filter = filter
        self._injector = injector

    def feed(self, chunk: bytes) -> bytes:
        return self._injector.feed(self._filter.feed(chunk))

    def finish(self) -> bytes:
        return self._injector.feed(self._filter.finish()) + self._injector.finish()


class GzipInjector(GzipRewriter):
    """:class:`HtmlInjector` over a gzip-encoded stream."""

    __slots__ = ()

    def __init__(self, head: bytes, body: bytes, top: bytes = b"") -> None:
        super().__init__(HtmlInjector(head, body, top))


def ascii_compatible_codec(charset: str | None) -> str | None:
    """Python codec name for a Content-Type charset if bytes-level search for ASCII markers is
    safe in it (utf-8, iso-8859-*, windows-125*, us-ascii, ...); None for unknown charsets and
    for ASCII-incompatible ones (utf-16/32, utf-7, ...). None charset -> "utf-8" (the HTML
    default we assume). Surrounding whitespace and quotes are ignored.
    """
    if charset is None:
        return "utf-8"
    try:
        name = codecs.lookup(charset.strip().strip("\"'")).name
    except (LookupError, ValueError):  # ValueError: e.g. an embedded NUL
        return None
    return name if _is_ascii_transparent(name) else None


@functools.cache
def _is_ascii_transparent(name: str) -> bool:
    """Whether ASCII bytes always stand for themselves in the codec.

    Cached per canonical codec name, so the set of keys is bounded by the registered codecs.
    """
    # ISO-2022 switches character sets with escape sequences, after which ASCII bytes
    # stand for other characters; it passes the round trip below, so it is named here.
    if name.startswith("iso2022"):
        return False
    info = codecs.lookup(name)
    try:
        if info.encode(_ASCII)[0] != _ASCII_BYTES or info.decode(_ASCII_BYTES)[0] != _ASCII:
            return False
        # "<" must never be the second byte of a multi-byte character (it can be in johab),
        # or a marker could be found, and a fragment inserted, inside a character.
        return all(
            info.decode(bytes((lead,)) + b"</head>", "replace")[0].endswith("</head>")
            for lead in range(0x80, 0x100)
        )
    except (UnicodeError, TypeError, ValueError):  # TypeError: bytes-to-bytes codecs
        return False
