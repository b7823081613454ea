"""The visitor's consent as one immutable value, and how the app reads it."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "NECESSARY",
    "NO_CONSENT",
    "SCOPE_KEY",
    "ConsentState",
    "CookieReading",
    "LazyConsent",
    "get_consent",
]

#: Raw ASGI request headers.
Headers = Iterable[tuple[bytes, bytes]]

#: The key under which the middleware publishes consent in the ASGI scope.
SCOPE_KEY = "consentgate"

#: The category that is always on and never a choice.
NECESSARY = "necessary"


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What a visitor has chosen.

    ``consent_id`` is ``None`` until the visitor makes a choice; ``granted``
    holds the optional categories they accepted (``necessary`` is implied).
    """

    consent_id: str | None = None
    granted: frozenset[str] = frozenset()
    policy_version: str = ""
    decided_at: datetime | None = None
    #: Providers allowed one by one, beyond those of the granted categories.
    providers: frozenset[str] = frozenset()

    @property
    def has_choice(self) -> bool:
        """True once the visitor accepted, rejected or saved a choice."""
        return self.consent_id is not None

    def allows(self, category: str) -> bool:
        """Whether anything of ``category`` may run for this visitor."""
        return category == NECESSARY or category in self.granted

    def allows_provider(self, name: str) -> bool:
        """Whether provider ``name`` was allowed by itself (its category may allow it too)."""
        return name in self.providers

    def as_json(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "has_choice": self.has_choice,
            "granted": sorted(self.granted),
            "policy_version": self.policy_version,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


NO_CONSENT = ConsentState()


class LazyConsent(abc.ABC):
    """What the middleware puts at ``scope["consentgate"]``: consent, read on first use.

    Every HTTP request gets one, so a JSON or asset response that never asks
    pays nothing for reading the consent cookie. ``.state`` is the visitor's
    ConsentState.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def reading(self) -> CookieReading:
        """What the consent cookie said."""

    @property
    def state(self) -> ConsentState:
        return self.reading.state


@dataclass(frozen=True, slots=True)
class CookieReading:
    """What the consent cookie said."""

    state: ConsentState
    #: Signed with an older key of ``secret_keys``: send it again under the newest.
    reissue: bool = False


def get_consent(request: object) -> ConsentState:
    """The current visitor's consent, for a request behind ``ConsentMiddleware``.

    Accepts a raw ASGI scope or any request object that carries one as
    ``.scope``: Starlette and FastAPI (``Request``, ``WebSocket``), Django's
    ``ASGIRequest``, Litestar's and Quart's ``Request``. Anything else, and a
    request that did not pass the middleware, answers "no choice", the safe
    default; it never raises.
    """
    scope = getattr(request, "scope", request)
    lazy = scope.get(SCOPE_KEY) if isinstance(scope, Mapping) else None
    if isinstance(lazy, LazyConsent):
        return lazy.state
    return NO_CONSENT
