"""Cross-site request checks for the consent form.

A consent form must come from the site's own pages: the form carries a signed,
timestamped token, and a present ``Origin`` (else ``Referer``) must name this
site. A token alone is not enough, since anyone can fetch a page and copy it;
the origin check is what stops another site from posting a choice for a visitor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from itsdangerous import BadData, TimestampSigner

__all__ = ["CsrfTokens", "same_site_request"]

SALT = "consentgate.csrf"
# Tokens carry no per-visitor secret, so one per minute serves every page.
TOKEN_REUSE_SECONDS = 60


class CsrfTokens:
    def __init__(
        self, keys: tuple[str, ...], max_age: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._signer = TimestampSigner(list(reversed(keys)), salt=SALT)
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[int, str] = (-1, "")

    def issue(self) -> str:
        minute = int(self._clock()) // TOKEN_REUSE_SECONDS
        if self._cached[0] != minute:
            self._cached = (minute, self._signer.sign(b"consent").decode("ascii"))
        return self._cached[1]

    def valid(self, token: str) -> bool:
        if not token or len(token) > 200:
            return False
        try:
            value, signed_at = self._signer.unsign(token, return_timestamp=True)
        except BadData:
            return False
        age = self._clock() - signed_at.timestamp()
        return value == b"consent" and -TOKEN_REUSE_SECONDS <= age <= self._max_age


def same_site_request(
    host: str | None,
    origin: str | None,
    referer: str | None,
    fetch_site: str | None,
    trusted_origins: Iterable[str],
) -> bool:
    """Whether a POST came from this site, as far as the browser tells.

    Browsers send ``Origin`` on every cross-origin POST; ``null`` (privacy
    redirects, sandboxed frames) is not this site. Without either header (old
    clients, some privacy tools) the signed token decides.
    """
    if fetch_site == "cross-site":
        return False
    source = origin if origin is not None else referer
    if source is None:
        return True
    if source in trusted_origins or (origin is None and _origin_of(source) in trusted_origins):
        return True
    if not host:
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
