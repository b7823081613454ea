"""Global Privacy Control: reading the signal, and the site's support resource.

A browser sending ``Sec-GPC: 1`` (scripts see ``navigator.globalPrivacyControl``)
objects to its data being sold or shared (GDPR Art. 21(5); binding for "sale or
sharing" under the California and Colorado laws). consentgate takes it as a
refusal of the categories ``ConsentConfig.gpc`` names, for the choice the
visitor is about to make: the banner says the signal is honoured, "Accept all"
leaves those categories out, and only a visitor ticking one grants it. The
signal alone writes nothing to the log: it is no choice, and bots send it too.

``GET /.well-known/gpc.json`` is the GPC specification's support resource. It
is answered with :data:`GPC_SUPPORT` only where the app has none (answers 404),
so a site that publishes its own keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import Message, Scope, Send

__all__ = ["GPC_LAST_UPDATE", "GPC_RESOURCE", "GpcResource", "gpc_in", "sends_gpc"]

#: Where the GPC specification puts a site's support resource.
GPC_RESOURCE = "/.well-known/gpc.json"
#: When consentgate's handling of the signal last changed: the resource's ``lastUpdate``.
GPC_LAST_UPDATE = "2026-12-05"


def sends_gpc(value: str | bytes | None) -> bool:
    """Whether a ``Sec-GPC`` header value is the signal: ``1``, and nothing else."""
    return value is not None and value.strip() in ("1", b"1")


def gpc_in(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether raw ASGI request headers carry the signal (any one of several will do)."""
    return any(name == b"sec-gpc" and sends_gpc(value) for name, value in headers)


class GpcResource:
    """Answers ``GET``/``HEAD /.well-known/gpc.json`` where the app answers 404."""

    def __init__(self) -> None:
        self.body = json.dumps({"gpc": True, "lastUpdate": GPC_LAST_UPDATE}).encode()
        self._start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(self.body)),
                (b"cache-control", b"public, max-age=86400"),
                (b"access-control-allow-origin", b"*"),
            ],
        }

    def fallback(self, scope: Scope, send: Send) -> Send:
        """``send`` for the app's answer: passed on, unless it is a 404, which becomes ours.

        The app's own 404 body is dropped as it comes; nothing is buffered.
        """
        if scope["method"] not in ("GET", "HEAD"):
            return send
        body = b"" if scope["method"] == "HEAD" else self.body
        replacing = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 404:
                replacing = True
                await send(self._start)
                await send({"type": "http.response.body", "body": body})
            elif not replacing:
                await send(message)

        return send_or_replace
