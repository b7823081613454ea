"""The consent cookie: a signed, versioned encoding of ConsentState.

Payload version 3 (written now) is a JSON array::

    [3, consent_id, [granted categories], policy_version, decided_at,
     answered (0 or 1), provider table digest, provider bitmask,
     category revisions, provider revisions]

where the bitmask indexes the site's provider table (see ``_provider_table``)
and the digest says which table. The revisions (see ``_revisions``) are one
string each: 8 characters per granted category, in the order of the list, and
per allowed provider, in the order of the bits. A granted category whose
revision differs from the site's now has lapsed: it reads as not granted, and
the visitor is asked about it again (a lapsed one is written back with ``~``s,
so the question stays open until answered). An allowed provider whose revision
differs is no longer allowed. Refusals carry no revision and never lapse.

Versions 1, ``[1, consent_id, [granted], policy_version, decided_at]``, and 2
(version 3 without the revisions) are still read, as choices made before
revisions: what they granted cannot be tied to what the visitor was shown, so
their granted categories read as lapsed (asked again, refusals kept) and their
providers as not allowed.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from ._cache import Memo
from ._provider_table import EMPTY_TABLE, ProviderTable
from ._revisions import SHORT_LENGTH
from ._state import ConsentState, CookieReading

__all__ = ["ConsentCookie", "expire_cookie_header", "new_consent_id"]

SALT = "consentgate.consent"
PAYLOAD_VERSION = 3
#: The payload versions this release reads, and their lengths.
_PAYLOAD_LENGTHS = {1: 5, 2: 8, 3: 10}
#: The revision a lapsed category is written back with: never a real one.
LAPSED = "~" * SHORT_LENGTH
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
        providers: ProviderTable = EMPTY_TABLE,
        revisions: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.providers = providers
        #: Category -> its short revision now (each category the banner asks about): a
        #: grant holding another revision has lapsed; one of a category without is dropped.
        self.revisions: Mapping[str, str] = dict(revisions or {})
        # "No choice", knowing the site's providers (of necessary ones, say).
        self._nothing = (
            CookieReading(ConsentState(provider_categories=providers.categories)),
            math.inf,
        )
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
        table = self.providers
        categories = sorted(state.granted | state.lapsed)
        mask = table.mask(state.providers)
        payload = [
            PAYLOAD_VERSION,
            state.consent_id,
            categories,
            state.policy_version,
            int(state.decided_at.timestamp()),
            int(state.answered),
            table.digest,
            mask,
            "".join(
                LAPSED if c in state.lapsed else self.revisions.get(c, LAPSED) for c in categories
            ),
            "".join(table.revisions.get(name, LAPSED) for name in _in_order(table, mask)),
        ]
        return self._newest.dumps(payload)

    def read(self, value: str | None) -> CookieReading:
        return self.read_until(value)[0]

    def read_until(self, value: str | None) -> tuple[CookieReading, float]:
        """What the cookie says now, and until when that holds (for callers that cache it)."""
        if not value or len(value) > MAX_VALUE_BYTES:
            return self._nothing
        verified = self._verify(value)
        if verified is None or self._clock() > verified.expires_at:
            return self._nothing
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
        parsed = _parse(payload, self._categories, self.providers, self.revisions)
        if parsed is None or parsed[0].policy_version != self._policy_version:
            return None
        state, lapsed_from = parsed
        assert state.decided_at is not None
        expires_at = state.decided_at.timestamp() + self.max_age
        return _Verified(CookieReading(state, old_key, lapsed_from), expires_at)


def _verified_bytes(verified: _Verified | None) -> int:
    # The state's objects: an id, a policy version, sets of category and provider names,
    # a datetime (the provider table is shared, not the state's own).
    if verified is None:
        return 0
    state = verified.reading.state
    return 400 + 64 * (len(state.granted) + len(state.providers) + len(state.lapsed))


def _parse(
    payload: Any, known: frozenset[str], table: ProviderTable, revisions: Mapping[str, str]
) -> tuple[ConsentState, tuple[tuple[str, str], ...]] | None:
    """The state a payload holds, and its lapsed categories with the revisions it held."""
    # A signature proves we wrote it, but maybe an older release did: check the shape.
    if not (isinstance(payload, list) and payload and _is_int(payload[0])):
        return None
    if len(payload) != _PAYLOAD_LENGTHS.get(payload[0]):
        return None
    consent_id, granted, policy_version, decided_at = payload[1:5]
    if not (
        isinstance(consent_id, str)
        and isinstance(granted, list)
        and all(isinstance(c, str) for c in granted)
        and isinstance(policy_version, str)
        and _is_int(decided_at)
    ):
        return None
    answered = True
    # Before revisions (versions 1 and 2), a grant's revision is unknown: it lapses.
    held = dict.fromkeys(granted, LAPSED)
    providers: frozenset[str] = frozenset()
    if payload[0] >= 2:
        answered_flag, digest, mask = payload[5:8]
        if not (_is_int(answered_flag) and answered_flag in (0, 1)):
            return None
        if not isinstance(digest, str) or not _is_int(mask):
            return None
        answered = bool(answered_flag)
    if payload[0] == 3:
        category_revisions, provider_revisions = payload[8:]
        if not (
            isinstance(category_revisions, str)
            and len(category_revisions) == SHORT_LENGTH * len(granted)
            and isinstance(provider_revisions, str)
        ):
            return None
        held = dict(zip(granted, _chunks(category_revisions), strict=True))
        # Bits of another table could name other providers: none of them counts.
        names = table.names_in(mask) if digest == table.digest else None
        if names is not None and len(provider_revisions) == SHORT_LENGTH * len(names):
            ordered = _in_order(table, mask)
            providers = table.choosable(
                name
                for name, revision in zip(ordered, _chunks(provider_revisions), strict=True)
                if revision == table.revisions.get(name)
            )
    # A category the site no longer has (or no longer asks about) is not a grant for anything.
    held = {c: revision for c, revision in held.items() if c in known and c in revisions}
    current = frozenset(c for c, revision in held.items() if revision == revisions.get(c))
    lapsed_from = tuple(sorted((c, r) for c, r in held.items() if c not in current))
    state = ConsentState(
        consent_id=consent_id,
        granted=current,
        policy_version=policy_version,
        decided_at=datetime.fromtimestamp(decided_at, UTC),
        providers=providers,
        answered=answered,
        lapsed=frozenset(held) - current,
        provider_categories=table.categories,
    )
    return state, lapsed_from


def _in_order(table: ProviderTable, mask: int) -> list[str]:
    """The names ``mask`` stands for, in bit order (the order of their revisions)."""
    return [name for i, name in enumerate(table.names) if mask >> i & 1]


def _chunks(revisions: str) -> list[str]:
    return [revisions[i : i + SHORT_LENGTH] for i in range(0, len(revisions), SHORT_LENGTH)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expire_cookie_header(name: str, domain: str | None = None) -> str:
    """A ``Set-Cookie`` value that makes the browser drop ``name`` (on ``domain`` if given)."""
    where = f"; Domain={domain}" if domain else ""
    return f"{name}=; Path=/{where}; Max-Age=0; Expires={_EPOCH}"
