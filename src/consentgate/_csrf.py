"""Cross-site request checks for the consent form.

A consent form must come from the site's own pages: the form carries a signed,
timestamped token, and a present ``Origin`` (else ``Referer``) must name this
site. A token alone is not enough, since anyone can fetch a page and copy it;
the origin check is what stops another site from posting a choice for a visitor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from urllib.parse import urlsplit

from itsdangerous import BadData, TimestampSigner

__all__ = ["CsrfTokens", "normalize_origin", "same_site_request"]

SALT = "consentgate.csrf"
# Tokens carry no per-visitor secret, so one per minute serves every page.
TOKEN_REUSE_SECONDS = 60


class _ClockedSigner(TimestampSigner):
    """A TimestampSigner that asks the token issuer's clock, so tests can move time."""

    clock: Callable[[], float] = time.time

    def get_timestamp(self) -> int:
        return int(self.clock())


class CsrfTokens:
    def __init__(
        self, keys: tuple[str, ...], max_age: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._signer = _ClockedSigner(list(reversed(keys)), salt=SALT)
        self._signer.clock = clock
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[int, str] = (-1, "")

    def minute(self) -> int:
        """Which token :meth:`issue` gives now: it changes once a minute."""
        return int(self._clock()) // TOKEN_REUSE_SECONDS

    def issue(self) -> str:
        minute = int(self._clock()) // TOKEN_REUSE_SECONDS
        if self._cached[0] != minute:
            self._cached = (minute, self._signer.sign(b"consent").decode("ascii"))
        return self._cached[1]

    def valid(self, token: str) -> bool:
        age = self._age(token)
        return age is not None and -TOKEN_REUSE_SECONDS <= age <= self._max_age

    def expired(self, token: str) -> bool:
        """Whether ``token`` is one of ours, only too old: a form left open in a tab."""
        age = self._age(token)
        return age is not None and age > self._max_age

    def _age(self, token: str) -> float | None:
        """Seconds since a genuine token was issued; None for anything we did not sign."""
        if not token or len(token) > 200:
            return None
        try:
            value, signed_at = self._signer.unsign(token, return_timestamp=True)
        except BadData:
            return None
        return self._clock() - signed_at.timestamp() if value == b"consent" else None


def same_site_request(
    host: str | None,
    origins: Sequence[str],
    referer: str | None,
    fetch_site: str | None,
    trusted_origins: Collection[str],
    *,
    scheme: str,
) -> bool:
    """Whether a POST came from this site, as far as the browser tells.

    Browsers send one ``Origin`` on every cross-origin POST; ``null`` (privacy
    redirects, sandboxed frames) is not this site, and neither is a request with
    two (no browser sends them; a proxy that merges headers might pick either).
    Without Origin or Referer (old clients, some privacy tools) the signed token
    decides. The origin must match the request's ``scheme`` (``scope["scheme"]``,
    which proxy-header middleware sets) and ``host``: an ``http://`` page of the
    site must not choose for its ``https://`` one. Hosts compare without case and
    without default ports, since proxies differ in how they pass them on;
    ``trusted_origins`` must already be normalised by :func:`normalize_origin`.
    """
    if fetch_site == "cross-site" or len(origins) > 1:
        return False
    source = origins[0] if origins else referer
    if source is None:
        return True
    claimed = normalize_origin(source)
    if claimed is None:
        return False
    if claimed in trusted_origins:
        return True
    return bool(host) and _without_default_port(f"{scheme}://{host}") == claimed


def normalize_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lowercased, default port dropped; else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return _without_default_port(f"{parts.scheme}://{host}" + (f":{port}" if port else ""))


def _without_default_port(origin: str) -> str:
    origin = origin.lower()
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if origin.startswith(f"{scheme}://") and origin.endswith(port):
            return origin[: -len(port)]
    return origin
