"""Small readers of raw ASGI request data, shared by the middleware and the endpoints."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["header", "hostname"]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first of a request's raw ``headers`` called ``name`` (lowercase, as ASGI gives it)."""
    for key, value in headers:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def hostname(host: str) -> str:
    """A Host header without its port: ``example.com:8443`` → ``example.com``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()
