"""Streaming insertion of HTML fragments before ``</head>`` and ``</body>``.

Bodies are rewritten as they stream through: only a possible marker prefix (at most
``_LONGEST_PARTIAL`` bytes) is ever held back between chunks.
"""

from __future__ import annotations

import codecs
import functools
import re
import zlib

__all__ = ["GzipInjector", "HtmlInjector", "RewriteError", "ascii_compatible_codec"]

#: Most ASCII whitespace tolerated before the ``>`` of a marker; bounds what is held back.
_MAX_SPACE = 16
_SPACE = rb"[\t\n\f\r ]{0,%d}" % _MAX_SPACE

# A case-insensitive regex is as fast as anything tried (lowering the chunk first,
# bytes.find loops) and close to a plain bytes.find over the same data.
_HEAD_OR_BODY = re.compile(rb"</(?:head|body)" + _SPACE + rb">", re.IGNORECASE)
_BODY = re.compile(rb"</body" + _SPACE + rb">", re.IGNORECASE)
# What a chunk may end with that the next chunk could complete into a marker.
_PARTIAL_HEAD_OR_BODY = re.compile(
    rb"<(?:/(?:h(?:e(?:a(?:d" + _SPACE + rb")?)?)?|b(?:o(?:d(?:y" + _SPACE + rb")?)?)?)?)?",
    re.IGNORECASE,
)
_PARTIAL_BODY = re.compile(rb"<(?:/(?:b(?:o(?:d(?:y" + _SPACE + rb")?)?)?)?)?", re.IGNORECASE)
_LONGEST_PARTIAL = len(b"</head") + _MAX_SPACE

#: Upper bound on the plain text inflated at once from a gzip chunk (a zip bomb stays small).
_INFLATE_PIECE = 256 * 1024

_ASCII = "".join(map(chr, range(128)))
_ASCII_BYTES = _ASCII.encode("ascii")


class RewriteError(ValueError):
    """The body could not be rewritten (e.g. corrupt gzip)."""


class HtmlInjector:
    """Inserts `head` before the first </head> and `body` before the first </body> that follows it.

    A ``</body>`` met before any ``</head>`` gets both fragments. Whatever was not inserted
    by the end of the stream is appended by :meth:`finish`. Markers match case-insensitively
    and may have up to 16 ASCII whitespace characters before the ``>``.
    """

    __slots__ = ("_body", "_head", "_marker", "_partial", "_tail")

    def __init__(self, head: bytes, body: bytes) -> None:
        self._head = head
        self._body = body
        self._tail = b""
        self._marker: re.Pattern[bytes] | None
        self._partial = _PARTIAL_HEAD_OR_BODY
        if head:
            self._marker = _HEAD_OR_BODY
        elif body:
            # With no head fragment, "the first </body> after </head>" is the first </body>.
            self._marker, self._partial = _BODY, _PARTIAL_BODY
        else:
            self._marker = None

    def feed(self, chunk: bytes) -> bytes:
        """Returns what can be sent now (may be b"")."""
        marker = self._marker
        if marker is None:
            return chunk
        buf = self._tail + chunk if self._tail else chunk
        parts: list[bytes] = []
        sent = 0  # buf[:sent] is in parts
        pos = 0  # where to look for the next marker
        while (match := marker.search(buf, pos)) is not None:
            at = match.start()
            if buf[at + 2] in b"hH":
                parts += (buf[sent:at], self._head)
                self._head = b""
                marker = self._marker = _BODY if self._body else None
                self._partial = _PARTIAL_BODY
            else:
                parts += (buf[sent:at], self._head, self._body)
                self._head = self._body = b""
                marker = self._marker = None
            sent, pos = at, match.end()
            if marker is None:
                self._tail = b""
                parts.append(buf[sent:])
                return b"".join(parts)
        keep = len(buf)
        cut = buf.rfind(b"<", max(pos, keep - _LONGEST_PARTIAL))
        if cut >= 0 and self._partial.fullmatch(buf, cut):
            keep = cut
        self._tail = buf[keep:]
        if not parts:
            return buf[:keep]
        parts.append(buf[sent:keep])
        return b"".join(parts)

    def finish(self) -> bytes:
        """Returns the rest, including any fragment not yet inserted."""
        rest = self._tail + self._head + self._body
        self._tail = self._head = self._body = b""
        self._marker = None
        return rest


class GzipInjector:
    """Same contract, over a gzip-encoded stream: feed gzip bytes, get gzip bytes back.

    Each non-empty output ends with a sync flush so a streamed page reaches the browser
    promptly; :meth:`finish` ends the gzip member. Input must be exactly one gzip member.
    """

    __slots__ = ("_deflater", "_html", "_inflater")

    def __init__(self, head: bytes, body: bytes) -> None:
        self._html = HtmlInjector(head, body)
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

    def finish(self) -> bytes:
        """Returns the rest of the gzip stream, trailer included."""
        if not self._inflater.eof:
            raise RewriteError("truncated gzip body")
        return self._deflater.compress(self._html.finish()) + self._deflater.flush()


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
