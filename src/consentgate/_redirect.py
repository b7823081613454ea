"""Where to send a visitor after a choice: back where they were, never off-site."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

__all__ = ["safe_next"]

MAX_LENGTH = 2048
# Characters a path and query may keep as they are; anything else is percent-encoded,
# so a Location header is always plain ASCII.
_KEEP = "/?&=%#:@!$'()*+,;~-._"


def safe_next(value: str | None) -> str:
    """``value`` if it is a relative path on this site, else ``/``.

    Rejects protocol-relative (``//evil.example``), backslash (``/\\evil``),
    absolute and scheme URLs, control characters, and the same tricks
    percent-encoded once or twice.
    """
    if not value or len(value) > MAX_LENGTH:
        return "/"
    candidate = value
    for _ in range(3):
        if not _plain_path(candidate):
            return "/"
        decoded = unquote(candidate)
        if decoded == candidate:
            try:
                return quote(value, safe=_KEEP)
            except UnicodeEncodeError:  # a lone surrogate, e.g. from a JSON body
                return "/"
        candidate = decoded
    return "/"


def _plain_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return False
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
