"""Streaming insertion of HTML fragments before ``</head>`` and ``</body>``.

Scanning a whole body for markers costs about a nanosecond a byte in Python, more
than serving a large page does, so the injector never scans the bulk of a page:

- the head fragment goes before the first ``</head>`` within the first
  ``head_limit`` bytes (64 KiB), where a page's head is; the search stops there;
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

__all__ = ["GzipInjector", "HtmlInjector", "RewriteError", "ascii_compatible_codec"]

HEAD_LIMIT = 64 * 1024
BODY_WINDOW = 1024
#: Most ASCII whitespace tolerated before the ``>`` of a marker.
_MAX_SPACE = 16
_SPACE = rb"[\t\n\f\r ]{0,%d}" % _MAX_SPACE
_HEAD_END = re.compile(rb"</head" + _SPACE + rb">", re.IGNORECASE)
_BODY_END = re.compile(rb"</body" + _SPACE + rb">", re.IGNORECASE)
#: A marker starting this many bytes before the end of what was searched may be incomplete.
_LONGEST_MARKER = len(b"</head>") + _MAX_SPACE

#: Upper bound on the plain text inflated at once from a gzip chunk (a zip bomb stays small).
_INFLATE_PIECE = 256 * 1024

_ASCII = "".join(map(chr, range(128)))
_ASCII_BYTES = _ASCII.encode("ascii")


class RewriteError(ValueError):
    """The body could not be rewritten (e.g. corrupt gzip)."""


class HtmlInjector:
    """Inserts ``head`` before ``</head>`` and ``body`` before ``</body>``, as the body streams.

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
    )

    def __init__(
        self,
        head: bytes,
        body: bytes,
        *,
        head_limit: int = HEAD_LIMIT,
        body_window: int = BODY_WINDOW,
    ) -> None:
        self._head = head
        self._body = body
        self._head_limit = head_limit
        self._body_window = max(body_window, _LONGEST_MARKER)
        self._pending = b""  # the stream's bytes not sent yet
        self._offset = 0  # where _pending starts in the stream
        self._head_from = 0  # no </head> starts before this stream position

    def feed(self, chunk: bytes) -> bytes:
        """Returns what can be sent now (may be b"")."""
        if not (self._head or self._body):
            return chunk
        buf = self._pending + chunk if self._pending else chunk
        parts: list[bytes] = []
        start = 0  # buf[:start] is in parts
        if self._head:
            at = self._find_head(buf, final=False)
            if at is not None:
                parts += (buf[:at], self._head)
                self._head, start = b"", at
        if self._head:
            keep = min(len(buf) - self._body_window, self._head_from - self._offset)
        elif self._body:
            keep = len(buf) - self._body_window
        else:  # nothing left to insert: send all, and pass chunks through from now on
            keep = len(buf)
        keep = max(keep, start)
        parts.append(buf[start:keep])
        self._pending = buf[keep:]
        self._offset += keep
        return b"".join(parts) if len(parts) > 1 else parts[0]

    def finish(self) -> bytes:
        """Returns the rest, including any fragment not yet inserted."""
        buf = self._pending
        parts: list[bytes] = []
        start = 0
        if self._head:
            at = self._find_head(buf, final=True)
            if at is not None:
                parts += (buf[:at], self._head)
                self._head, start = b"", at
        if self._body:
            window = max(start, len(buf) - self._body_window)
            at = len(buf)
            for match in _BODY_END.finditer(buf, window):
                at = match.start()
            parts += (buf[start:at], self._body)
            start = at
        parts.append(buf[start:])
        self._pending = self._head = self._body = b""
        return b"".join(parts)

    def _find_head(self, buf: bytes, *, final: bool) -> int | None:
        """Where in ``buf`` the head fragment goes; None while unknown or for good."""
        end = min(len(buf), self._head_limit - self._offset)
        begin = max(self._head_from - self._offset, 0)
        match = _HEAD_END.search(buf, begin, end) if end > begin else None
        if match is not None:
            return match.start()
        if final or self._offset + len(buf) >= self._head_limit:
            # No </head> where a head would be: the fragment goes with the body's.
            self._body = self._head + self._body
            self._head = b""
        else:
            self._head_from = self._offset + max(len(buf) - _LONGEST_MARKER, begin)
        return None


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
