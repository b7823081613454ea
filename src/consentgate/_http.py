"""Small readers of raw ASGI request data, shared by the middleware and the endpoints."""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["header", "hostname"]


def header(scope: Scope, name: bytes) -> str | None:
    """The first request header called ``name`` (lowercase, as ASGI gives it)."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def hostname(host: str) -> str:
    """A Host header without its port: ``example.com:8443`` → ``example.com``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()
