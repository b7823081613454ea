"""Small readers of raw ASGI request data, shared by the middleware and the endpoints.

Request headers are the client's to choose, in content and in size (a server
without a proxy in front may accept megabytes): these readers take only what
consentgate needs from them, and never hand on a value they did not check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["header", "hostname", "read_cookies", "split_cookies"]

#: A Host header consentgate uses: a DNS name (or IP literal) and an optional port.
_HOST = re.compile(
    rb"((?:[A-Za-z0-9_-]{1,63}\.){0,126}[A-Za-z0-9_-]{1,63}\.?|\[[0-9A-Fa-f:.]{2,45}\])"
    rb"(?::[0-9]{1,5})?"
)
#: Browsers keep no cookie whose name and value together are longer.
MAX_COOKIE_NAME = 4096
#: No host name is longer (RFC 1035), with room for a port.
MAX_HOST = 253 + len(":65535")


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first of a request's raw ``headers`` called ``name`` (lowercase, as ASGI gives it)."""
    for key, value in headers:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def hostname(host: str | bytes | None) -> str:
    """The host name of a Host header, lowercased, without its port: ``Example.com:8443`` →
    ``example.com``; ``""`` for anything that is not a host name or IP literal, so a forged
    Host never reaches a page or a ``Set-Cookie``."""
    if not host or len(host) > MAX_HOST:
        return ""
    raw = host.encode("latin-1", "replace") if isinstance(host, str) else host
    match = _HOST.fullmatch(raw)
    return match[1].decode("ascii").lower() if match is not None else ""


def split_cookies(header: bytes, name: bytes) -> tuple[bytes | None, list[bytes]]:
    """The value of cookie ``name`` in a ``Cookie`` header, and the names of the others.

    The last ``name`` sent wins, as Starlette's ``request.cookies`` reads it. A
    piece without ``=`` is a nameless cookie's value (browsers send those as is),
    and a name longer than any browser keeps is skipped.
    """
    value = None
    others = []
    for pair in header.split(b";"):
        key, equals, rest = pair.partition(b"=")
        if not equals or len(key) > MAX_COOKIE_NAME:
            continue
        key = key.strip()
        if key == name:
            value = rest.strip()
        elif key:
            others.append(key)
    return value, others


def read_cookies(
    headers: Iterable[tuple[bytes, bytes]], name: bytes
) -> tuple[bytes | None, list[bytes]]:
    """:func:`split_cookies` over a request's ``Cookie`` headers (HTTP/2 may send several)."""
    value = None
    names: list[bytes] = []
    for key, raw in headers:
        if key == b"cookie":
            found, others = split_cookies(raw, name)
            if found is not None:
                value = found
            names += others
    return value, names
