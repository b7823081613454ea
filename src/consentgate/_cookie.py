"""The consent cookie: a signed, versioned encoding of ConsentState."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from ._cache import Memo
from ._state import NO_CONSENT, ConsentState, CookieReading

__all__ = ["ConsentCookie", "expire_cookie_header", "new_consent_id"]

SALT = "consentgate.consent"
PAYLOAD_VERSION = 1
#: A longer value is not one consentgate wrote (its own are a few hundred bytes): it
#: reads as "no choice" without being verified or remembered.
MAX_VALUE_BYTES = 4096
# Decoded cookies repeat for every page a visitor opens: remember the last few
# thousand so a signature is verified once per visitor, not once per page.
VERIFIED_CACHE_SIZE = 4096
VERIFIED_CACHE_BYTES = 2 * 1024 * 1024
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def new_consent_id() -> str:
    """A random consent id: a UUID4 carries 122 random bits."""
    return str(uuid.uuid4())


_NOTHING_EVER = (CookieReading(NO_CONSENT), math.inf)


@dataclass(frozen=True, slots=True)
class _Verified:
    reading: CookieReading
    #: When the choice lapses (``cookie_max_age`` after it was made).
    expires_at: float


class ConsentCookie:
    """Signs and reads the consent cookie and builds its ``Set-Cookie`` values.

    ``keys`` are newest first. Anything that does not verify (tampered,
    truncated, unknown key, garbage), is expired, or belongs to another policy
    version reads as "no choice": the visitor sees the banner again.
    """

    def __init__(
        self,
        *,
        name: str,
        keys: tuple[str, ...],
        policy_version: str,
        categories: Iterable[str],
        max_age: int,
        domain: str | None,
        secure: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._secure = secure
        self._prefixed = name.startswith(("__Host-", "__Secure-"))
        self.max_age = max_age
        self._policy_version = policy_version
        self._categories = frozenset(categories)
        self._domain = f"; Domain={domain}" if domain else ""
        self._clock = clock
        self._newest = URLSafeSerializer(keys[0], salt=SALT)
        # itsdangerous wants rotated keys oldest first.
        self._older = URLSafeSerializer(list(reversed(keys[1:])), salt=SALT) if keys[1:] else None
        self._verify = Memo(
            self._verify_uncached,
            max_entries=VERIFIED_CACHE_SIZE,
            max_bytes=VERIFIED_CACHE_BYTES,
            max_key_bytes=MAX_VALUE_BYTES,
            value_bytes=_verified_bytes,
        )

    def encode(self, state: ConsentState) -> str:
        assert state.consent_id is not None and state.decided_at is not None
        payload = [
            PAYLOAD_VERSION,
            state.consent_id,
            sorted(state.granted),
            state.policy_version,
            int(state.decided_at.timestamp()),
        ]
        return self._newest.dumps(payload)

    def read(self, value: str | None) -> CookieReading:
        return self.read_until(value)[0]

    def read_until(self, value: str | None) -> tuple[CookieReading, float]:
        """What the cookie says now, and until when that holds (for callers that cache it)."""
        if not value or len(value) > MAX_VALUE_BYTES:
            return _NOTHING_EVER
        verified = self._verify(value)
        if verified is None or self._clock() > verified.expires_at:
            return _NOTHING_EVER
        return verified.reading, verified.expires_at

    def secure_for(self, scheme: str) -> bool:
        """Whether the cookie gets ``Secure``: always with a ``__Host-``/``__Secure-`` name,
        else as configured, else exactly on https."""
        if self._prefixed:
            return True
        return self._secure if self._secure is not None else scheme == "https"

    def set_cookie(self, state: ConsentState, *, secure: bool) -> str:
        """The ``Set-Cookie`` value carrying ``state``, valid for what is left of its lifetime."""
        assert state.decided_at is not None
        remaining = self.max_age - int(self._clock() - state.decided_at.timestamp())
        flags = "; Secure" if secure else ""
        return (
            f"{self.name}={self.encode(state)}; Path=/; Max-Age={max(remaining, 0)}"
            f"{self._domain}; SameSite=Lax; HttpOnly{flags}"
        )

    def expire_cookie(self, *, secure: bool) -> str:
        """The ``Set-Cookie`` value that makes the browser drop the consent cookie.

        With the attributes it was set with: a browser drops a ``__Host-`` or
        ``__Secure-`` cookie only on a ``Set-Cookie`` that says ``Secure``.
        """
        flags = "; Secure" if secure else ""
        return (
            f"{self.name}=; Path=/; Max-Age=0; Expires={_EPOCH}"
            f"{self._domain}; SameSite=Lax; HttpOnly{flags}"
        )

    def _verify_uncached(self, value: str) -> _Verified | None:
        old_key = False
        try:
            payload = self._newest.loads(value)
        except BadData:
            if self._older is None:
                return None
            try:
                payload = self._older.loads(value)
            except BadData:
                return None
            old_key = True
        state = _parse(payload, self._categories)
        if state is None or state.policy_version != self._policy_version:
            return None
        assert state.decided_at is not None
        expires_at = state.decided_at.timestamp() + self.max_age
        return _Verified(CookieReading(state, reissue=old_key), expires_at)


def _verified_bytes(verified: _Verified | None) -> int:
    # The state's objects: an id, a policy version, a set of category names, a datetime.
    return 0 if verified is None else 400 + 64 * len(verified.reading.state.granted)


def _parse(payload: Any, known: frozenset[str]) -> ConsentState | None:
    # A signature proves we wrote it, but maybe an older release did: check the shape.
    if not (isinstance(payload, list) and len(payload) == 5 and payload[0] == PAYLOAD_VERSION):
        return None
    _, consent_id, granted, policy_version, decided_at = payload
    if not (
        isinstance(consent_id, str)
        and isinstance(granted, list)
        and all(isinstance(c, str) for c in granted)
        and isinstance(policy_version, str)
        and isinstance(decided_at, int)
    ):
        return None
    # A category the site no longer has is not a grant for anything.
    return ConsentState(
        consent_id=consent_id,
        granted=frozenset(granted) & known,
        policy_version=policy_version,
        decided_at=datetime.fromtimestamp(decided_at, UTC),
    )


def expire_cookie_header(name: str, domain: str | None = None) -> str:
    """A ``Set-Cookie`` value that makes the browser drop ``name`` (on ``domain`` if given)."""
    where = f"; Domain={domain}" if domain else ""
    return f"{name}=; Path=/{where}; Max-Age=0; Expires={_EPOCH}"
